/* fp32 GEMM macro-kernel, AVX2 + FMA: 6 x 16 register tile (12 accumulators + 2 B vectors + 1 broadcast of
 * the 16 ymm registers); each 32-column panel is swept in two 16-column halves. A sliver of 6 rows is copied
 * to a stack buffer with a compile-time row stride, as in the AVX-512 path. */
#include <immintrin.h>

#include "../gemm_internal.h"
#include "gemm_tile_avx2.h"

#define MR LFFN_GEMM_MR_AVX2
#define APS (LFFN_GEMM_KC_MAX + 16)

void lffn_gelu_f32_avx2(int64_t n, float *x) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, lffn_gelu_avx2(_mm256_loadu_ps(x + i)));
    if (i < n) {
        const __m256i t = lffn_lane_mask_avx2(n - i);
        _mm256_maskstore_ps(x + i, t, lffn_gelu_avx2(_mm256_maskload_ps(x + i, t)));
    }
}

/* C[0:mr, 0:16] (+)= ap[0:mr, 0:kc] . bp[0:kc, 0:16] (B rows 32 floats apart); nr: valid columns (1..16). */
static inline __attribute__((always_inline)) void ukernel(const int mr, int64_t kc, const float *ap,
                                                          const float *bp, float *c, int64_t ldc, int64_t nr,
                                                          const float *bias, int first, int gelu) {
    __m256 acc0[MR], acc1[MR];
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++)
        if (r < mr) acc0[r] = acc1[r] = _mm256_setzero_ps();
    for (int64_t kk = 0; kk < kc; kk++) {
        const __m256 b0 = _mm256_loadu_ps(bp + kk * LFFN_GEMM_NR);
        const __m256 b1 = _mm256_loadu_ps(bp + kk * LFFN_GEMM_NR + 8);
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            if (r < mr) {
                const __m256 av = _mm256_broadcast_ss(ap + r * APS + kk);
                acc0[r] = _mm256_fmadd_ps(av, b0, acc0[r]);
                acc1[r] = _mm256_fmadd_ps(av, b1, acc1[r]);
            }
        }
    }
    lffn_tile_store_avx2(mr, acc0, acc1, c, ldc, nr, bias, first, gelu);
}

#define UK(R) ukernel(R, kc, abuf, half, cc, ldc, nr, bj, first, gelu)

void lffn_gemm_macro_f32_avx2(int64_t m, int64_t n, int64_t kc, const float *a, int64_t lda, const float *bp,
                              int64_t panel_stride, const float *bias, int first, int last,
                              lffn_epilogue_t epilogue, float *c, int64_t ldc) {
    float abuf[MR * APS] __attribute__((aligned(64)));
    const int gelu = last && epilogue == LFFN_EPILOGUE_GELU;
    for (int64_t i0 = 0; i0 < m; i0 += MR) {
        const int mr = m - i0 < MR ? (int)(m - i0) : MR;
        for (int r = 0; r < mr; r++) {
            const float *src = a + (i0 + r) * lda;
            float *dst = abuf + r * APS;
            int64_t kk = 0;
            for (; kk + 8 <= kc; kk += 8) _mm256_store_ps(dst + kk, _mm256_loadu_ps(src + kk));
            for (; kk < kc; kk++) dst[kk] = src[kk];
        }
        for (int64_t j0 = 0; j0 < n; j0 += 16) {
            const int64_t nr = n - j0 < 16 ? n - j0 : 16;
            const float *half = bp + (j0 / LFFN_GEMM_NR) * panel_stride + (j0 % LFFN_GEMM_NR);
            const float *bj = bias ? bias + j0 : NULL;
            float *cc = c + i0 * ldc + j0;
            LFFN_GEMM_SWITCH_MR_AVX2(mr, UK)
        }
    }
}
