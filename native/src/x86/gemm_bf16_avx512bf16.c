/* GEMM with bf16 weights, AVX512_BF16: an MR x 32 register tile of fp32 sums fed by vdpbf16ps (each
 * instruction multiplies 16 columns by a pair of k rows: two products per lane). A sliver of MR rows is rounded
 * to bf16 pairs once (vcvtne2ps2bf16, round to nearest even; zero past kc) into a stack buffer with a fixed row
 * stride, then every 32-column panel of the B block is swept, as in the fp32 kernel (x86/gemm_avx512.c). MR = 14
 * (28 accumulators + 2 B vectors + 1 broadcast of the 32 zmm registers): at MiniLM's ~27 rows a sequence is two
 * slivers. */
#include <immintrin.h>

#include "../gemm_bf16_internal.h"
#include "gemm_tile_avx512.h"

#define MR LFFN_GEMM_MR_AVX512
#define APS (LFFN_GEMM_BF16_KC_MAX / 2 + 16) /* pairs per row of the A sliver, off a power of two */

static inline __attribute__((always_inline)) void ukernel(const int mr, int64_t pairs, const uint32_t *ap,
                                                          const uint16_t *bp, float *c, int64_t ldc, __mmask16 m0,
                                                          __mmask16 m1, const float *bias, int first, int gelu) {
    __m512 acc0[MR], acc1[MR];
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++)
        if (r < mr) {
            acc0[r] = acc1[r] = _mm512_setzero_ps();
            __builtin_prefetch(c + r * ldc, 1, 3);
            __builtin_prefetch(c + r * ldc + 16, 1, 3);
        }
    for (int64_t q = 0; q < pairs; q++) {
        const __m512bh b0 = (__m512bh)_mm512_loadu_si512(bp + q * 2 * LFFN_GEMM_NR);
        const __m512bh b1 = (__m512bh)_mm512_loadu_si512(bp + q * 2 * LFFN_GEMM_NR + LFFN_GEMM_NR);
#pragma GCC unroll 16
        for (int r = 0; r < MR; r++) {
            if (r < mr) {
                const __m512bh av = (__m512bh)_mm512_set1_epi32((int)ap[r * APS + q]);
                acc0[r] = _mm512_dpbf16_ps(acc0[r], av, b0);
                acc1[r] = _mm512_dpbf16_ps(acc1[r], av, b1);
            }
        }
    }
    lffn_tile_store_avx512(mr, acc0, acc1, c, ldc, m0, m1, bias, first, gelu);
}

#define UK(R) ukernel(R, pairs, abuf, panel, cc, ldc, m0, m1, bj, first, gelu)

void lffn_gemm_macro_bf16_avx512bf16(int64_t m, int64_t n, int64_t kc, const float *a, int64_t lda,
                                     const uint16_t *bp, int64_t panel_stride, const float *bias, int first, int last,
                                     lffn_epilogue_t epilogue, float *c, int64_t ldc) {
    uint32_t abuf[MR * APS] __attribute__((aligned(64)));
    const int gelu = last && epilogue == LFFN_EPILOGUE_GELU;
    const int64_t pairs = (kc + 1) / 2;
    for (int64_t i0 = 0; i0 < m; i0 += MR) {
        const int mr = m - i0 < MR ? (int)(m - i0) : MR;
        for (int r = 0; r < mr; r++) {
            /* 32 floats -> 16 pairs at a time; masked loads give 0 past kc (the odd tail's partner too) */
            const float *src = a + (i0 + r) * lda;
            uint32_t *dst = abuf + r * APS;
            for (int64_t kk = 0; kk < kc; kk += 32) {
                const int64_t left = kc - kk;
                const __mmask16 lo = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
                const __mmask16 hi = left >= 32 ? (__mmask16)0xFFFF : left <= 16 ? 0 : (__mmask16)((1u << (left - 16)) - 1u);
                const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(hi, src + kk + 16),
                                                      _mm512_maskz_loadu_ps(lo, src + kk));
                _mm512_store_si512(dst + kk / 2, (__m512i)v);
            }
        }
        for (int64_t j0 = 0; j0 < n; j0 += LFFN_GEMM_NR) {
            const int64_t nr = n - j0;
            __mmask16 m0, m1;
            lffn_panel_masks_avx512(nr, &m0, &m1);
            const uint16_t *panel = bp + (j0 / LFFN_GEMM_NR) * panel_stride;
            const float *bj = bias ? bias + j0 : NULL;
            float *cc = c + i0 * ldc + j0;
            LFFN_GEMM_SWITCH_MR_AVX512(mr, UK)
        }
    }
}
