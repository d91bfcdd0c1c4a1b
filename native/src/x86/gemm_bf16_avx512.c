/* GEMM with bf16 weights, AVX-512 without AVX512_BF16: A stays fp32 and B is widened in registers (a pair row of
 * 32 bf16 columns gives the even k row as lane << 16 and the odd one as lane & 0xFFFF0000), then fp32 FMAs as in
 * the fp32 kernel: half its weight bytes for two integer operations per 16 columns and 2 k rows. MR = 12 (24
 * accumulators, the widened B vectors and a broadcast fit the 32 zmm registers). */
#include <immintrin.h>

#include "../gemm_bf16_internal.h"
#include "gemm_tile_avx512.h"

#define MR 12
#define APS (LFFN_GEMM_BF16_KC_MAX + 16) /* floats per row of the A sliver */

static inline __attribute__((always_inline)) void ukernel(const int mr, int64_t pairs, const float *ap,
                                                          const uint16_t *bp, float *c, int64_t ldc, __mmask16 m0,
                                                          __mmask16 m1, const float *bias, int first, int gelu) {
    const __m512i high = _mm512_set1_epi32((int)0xFFFF0000u);
    __m512 acc0[MR], acc1[MR];
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++)
        if (r < mr) {
            acc0[r] = acc1[r] = _mm512_setzero_ps();
            __builtin_prefetch(c + r * ldc, 1, 3);
            __builtin_prefetch(c + r * ldc + 16, 1, 3);
        }
    for (int64_t q = 0; q < pairs; q++) {
        const __m512i x0 = _mm512_loadu_si512(bp + q * 2 * LFFN_GEMM_NR);
        const __m512i x1 = _mm512_loadu_si512(bp + q * 2 * LFFN_GEMM_NR + LFFN_GEMM_NR);
        const __m512 e0 = _mm512_castsi512_ps(_mm512_slli_epi32(x0, 16));
        const __m512 e1 = _mm512_castsi512_ps(_mm512_slli_epi32(x1, 16));
#pragma GCC unroll 16
        for (int r = 0; r < MR; r++) {
            if (r < mr) {
                const __m512 av = _mm512_set1_ps(ap[r * APS + 2 * q]);
                acc0[r] = _mm512_fmadd_ps(av, e0, acc0[r]);
                acc1[r] = _mm512_fmadd_ps(av, e1, acc1[r]);
            }
        }
        const __m512 o0 = _mm512_castsi512_ps(_mm512_and_si512(x0, high));
        const __m512 o1 = _mm512_castsi512_ps(_mm512_and_si512(x1, high));
#pragma GCC unroll 16
        for (int r = 0; r < MR; r++) {
            if (r < mr) {
                const __m512 av = _mm512_set1_ps(ap[r * APS + 2 * q + 1]);
                acc0[r] = _mm512_fmadd_ps(av, o0, acc0[r]);
                acc1[r] = _mm512_fmadd_ps(av, o1, acc1[r]);
            }
        }
    }
    lffn_tile_store_avx512(mr, acc0, acc1, c, ldc, m0, m1, bias, first, gelu);
}

#define UK(R) ukernel(R, pairs, abuf, panel, cc, ldc, m0, m1, bj, first, gelu)

void lffn_gemm_macro_bf16_avx512(int64_t m, int64_t n, int64_t kc, const float *a, int64_t lda, const uint16_t *bp,
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
            for (int64_t kk = 0; kk < kc; kk += 16) { /* zero past kc: the odd tail's partner */
                const __mmask16 t = kc - kk >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (kc - kk)) - 1u);
                _mm512_store_ps(dst + kk, _mm512_maskz_loadu_ps(t, src + kk));
            }
        }
        for (int64_t j0 = 0; j0 < n; j0 += LFFN_GEMM_NR) {
            const int64_t nr = n - j0;
            __mmask16 m0, m1;
            lffn_panel_masks_avx512(nr, &m0, &m1);
            const uint16_t *panel = bp + (j0 / LFFN_GEMM_NR) * panel_stride;
            const float *bj = bias ? bias + j0 : NULL;
            float *cc = c + i0 * ldc + j0;
            switch (mr) {
            case 12: UK(12); break;
            case 11: UK(11); break;
            case 10: UK(10); break;
            case 9: UK(9); break;
            case 8: UK(8); break;
            case 7: UK(7); break;
            case 6: UK(6); break;
            case 5: UK(5); break;
            case 4: UK(4); break;
            case 3: UK(3); break;
            case 2: UK(2); break;
            default: UK(1); break;
            }
        }
    }
}
