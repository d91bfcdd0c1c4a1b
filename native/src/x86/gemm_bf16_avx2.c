/* GEMM with bf16 weights, AVX2 + FMA: A stays fp32, B is widened in registers (lane << 16 for the even k row,
 * lane & 0xFFFF0000 for the odd one, the shift and the mask reading B straight from memory), a 6 x 16 tile of
 * fp32 sums as the fp32 kernel (x86/gemm_avx2.c): each 32-column panel is swept in two 16-column halves. */
#include <immintrin.h>

#include "../gemm_bf16_internal.h"
#include "gemm_tile_avx2.h"

#define MR LFFN_GEMM_MR_AVX2
#define APS (LFFN_GEMM_BF16_KC_MAX + 16)

/* C[0:mr, 0:16] (+)= ap[0:mr, 0:2*pairs] . B half (pair rows 64 bf16 apart); nr: valid columns (1..16). */
static inline __attribute__((always_inline)) void ukernel(const int mr, int64_t pairs, const float *ap,
                                                          const uint16_t *bp, float *c, int64_t ldc, int64_t nr,
                                                          const float *bias, int first, int gelu) {
    const __m256i high = _mm256_set1_epi32((int)0xFFFF0000u);
    __m256 acc0[MR], acc1[MR];
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++)
        if (r < mr) acc0[r] = acc1[r] = _mm256_setzero_ps();
    for (int64_t q = 0; q < pairs; q++) {
        const __m256i x0 = _mm256_loadu_si256((const __m256i *)(bp + q * 2 * LFFN_GEMM_NR));
        const __m256i x1 = _mm256_loadu_si256((const __m256i *)(bp + q * 2 * LFFN_GEMM_NR + 16));
        const __m256 e0 = _mm256_castsi256_ps(_mm256_slli_epi32(x0, 16));
        const __m256 e1 = _mm256_castsi256_ps(_mm256_slli_epi32(x1, 16));
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            if (r < mr) {
                const __m256 av = _mm256_broadcast_ss(ap + r * APS + 2 * q);
                acc0[r] = _mm256_fmadd_ps(av, e0, acc0[r]);
                acc1[r] = _mm256_fmadd_ps(av, e1, acc1[r]);
            }
        }
        const __m256 o0 = _mm256_castsi256_ps(_mm256_and_si256(x0, high));
        const __m256 o1 = _mm256_castsi256_ps(_mm256_and_si256(x1, high));
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            if (r < mr) {
                const __m256 av = _mm256_broadcast_ss(ap + r * APS + 2 * q + 1);
                acc0[r] = _mm256_fmadd_ps(av, o0, acc0[r]);
                acc1[r] = _mm256_fmadd_ps(av, o1, acc1[r]);
            }
        }
    }
    lffn_tile_store_avx2(mr, acc0, acc1, c, ldc, nr, bias, first, gelu);
}

#define UK(R) ukernel(R, pairs, abuf, half, cc, ldc, nr, bj, first, gelu)

void lffn_gemm_macro_bf16_avx2(int64_t m, int64_t n, int64_t kc, const float *a, int64_t lda, const uint16_t *bp,
                               int64_t panel_stride, const float *bias, int first, int last,
                               lffn_epilogue_t epilogue, float *c, int64_t ldc) {
    float abuf[MR * APS] __attribute__((aligned(64)));
    const int gelu = last && epilogue == LFFN_EPILOGUE_GELU;
    const int64_t pairs = (kc + 1) / 2;
    for (int64_t i0 = 0; i0 < m; i0 += MR) {
        const int mr = m - i0 < MR ? (int)(m - i0) : MR;
        for (int r = 0; r < mr; r++) {
            const float *src = a + (i0 + r) * lda;
            float *dst = abuf + r * APS;
            int64_t kk = 0;
            for (; kk + 8 <= kc; kk += 8) _mm256_store_ps(dst + kk, _mm256_loadu_ps(src + kk));
            for (; kk < kc; kk++) dst[kk] = src[kk];
            dst[kc] = 0.0f; /* the odd tail's partner */
        }
        for (int64_t j0 = 0; j0 < n; j0 += 16) {
            const int64_t nr = n - j0 < 16 ? n - j0 : 16;
            /* the half's 16 columns: pair lanes 0..15 or 16..31 of each pair row */
            const uint16_t *half = bp + (j0 / LFFN_GEMM_NR) * panel_stride + (j0 % LFFN_GEMM_NR) * 2;
            const float *bj = bias ? bias + j0 : NULL;
            float *cc = c + i0 * ldc + j0;
            LFFN_GEMM_SWITCH_MR_AVX2(mr, UK)
        }
    }
}
