/* fp32 GEMM macro-kernel, AVX-512: MR x 32 register tile (MR = 14: 28 accumulators + 2 B vectors + 1 broadcast
 * of the 32 zmm registers). A sliver of MR rows x kc is copied to a stack buffer with a compile-time row
 * stride (so the broadcasts use immediate offsets and the sliver stays in L1); the micro-kernel then sweeps
 * every 32-column panel of the B block (in L2). */
#include <immintrin.h>

#include "../gemm_internal.h"
#include "gemm_tile_avx512.h"

#define MR LFFN_GEMM_MR_AVX512
#define APS (LFFN_GEMM_KC_MAX + 16) /* row stride of the packed A sliver, padded off a power of two */

void lffn_gelu_f32_avx512(int64_t n, float *x) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, lffn_gelu_avx512(_mm512_loadu_ps(x + i)));
    if (i < n) {
        const __mmask16 t = (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(x + i, t, lffn_gelu_avx512(_mm512_maskz_loadu_ps(t, x + i)));
    }
}

/* C[0:mr, 0:32] (+)= ap[0:mr, 0:kc] . bp[0:kc, 0:32]; columns outside masks m0 | m1 << 16 are not stored.
 * pf (may be NULL): a panel to prefetch into L1, row by row, while this one is used. */
static inline __attribute__((always_inline)) void ukernel(const int mr, int64_t kc, const float *ap,
                                                          const float *bp, float *c, int64_t ldc, __mmask16 m0,
                                                          __mmask16 m1, const float *bias, int first, int gelu,
                                                          const float *pf) {
    __m512 acc0[MR], acc1[MR];
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++)
        if (r < mr) {
            acc0[r] = acc1[r] = _mm512_setzero_ps();
            /* the tile's lines are usually cold: fetch them for writing while the k loop runs */
            __builtin_prefetch(c + r * ldc, 1, 3);
            __builtin_prefetch(c + r * ldc + 16, 1, 3);
        }
    for (int64_t kk = 0; kk < kc; kk++) {
        const __m512 b0 = _mm512_loadu_ps(bp + kk * LFFN_GEMM_NR);
        const __m512 b1 = _mm512_loadu_ps(bp + kk * LFFN_GEMM_NR + 16);
        if (pf) { /* the few-rows order's next panel (+18 % at 30 rows with cold weights) */
            __builtin_prefetch(pf + kk * LFFN_GEMM_NR, 0, 3);
            __builtin_prefetch(pf + kk * LFFN_GEMM_NR + 16, 0, 3);
        }
#pragma GCC unroll 16
        for (int r = 0; r < MR; r++) {
            if (r < mr) {
                const __m512 av = _mm512_set1_ps(ap[r * APS + kk]);
                acc0[r] = _mm512_fmadd_ps(av, b0, acc0[r]);
                acc1[r] = _mm512_fmadd_ps(av, b1, acc1[r]);
            }
        }
    }
    lffn_tile_store_avx512(mr, acc0, acc1, c, ldc, m0, m1, bias, first, gelu);
}

#define UK(R) ukernel(R, kc, abuf, panel, cc, ldc, m0, m1, bj, first, gelu, NULL)

/* Few rows (at most LFFN_GEMM_SMALL_M, e.g. one sentence): every sliver of A is packed once, the rows spread
 * evenly over the slivers (30 rows as 10 + 10 + 10, not 14 + 14 + 2, whose 2-row sliver streams B for two rows),
 * and the panel loop is outside the sliver loop, so each panel of B comes from memory once, while the previous
 * slivers' use keeps it in L1/L2, and the weight stream is steady instead of one burst per sliver. */
static void macro_few_rows(int64_t m, int64_t n, int64_t kc, const float *a, int64_t lda, const float *bp,
                           int64_t panel_stride, const float *bias, int first, int gelu, float *c, int64_t ldc) {
    float abuf[LFFN_GEMM_SMALL_M * APS] __attribute__((aligned(64)));
    const int64_t kmain = kc & ~(int64_t)15;
    const __mmask16 ktail = (__mmask16)((1u << (kc - kmain)) - 1u);
    for (int64_t r = 0; r < m; r++) {
        const float *src = a + r * lda;
        float *dst = abuf + r * APS;
        for (int64_t kk = 0; kk < kmain; kk += 16) _mm512_store_ps(dst + kk, _mm512_loadu_ps(src + kk));
        if (ktail) _mm512_mask_storeu_ps(dst + kmain, ktail, _mm512_maskz_loadu_ps(ktail, src + kmain));
    }
    const int slivers = (int)((m + MR - 1) / MR);
    int64_t start[LFFN_GEMM_SMALL_M / MR + 2];
    for (int sl = 0; sl <= slivers; sl++) start[sl] = m * sl / slivers;
    for (int64_t j0 = 0; j0 < n; j0 += LFFN_GEMM_NR) {
        const int64_t nr = n - j0;
        __mmask16 m0, m1;
        lffn_panel_masks_avx512(nr, &m0, &m1);
        const float *panel = bp + (j0 / LFFN_GEMM_NR) * panel_stride;
        const float *bj = bias ? bias + j0 : NULL;
        for (int sl = 0; sl < slivers; sl++) {
            const int mr = (int)(start[sl + 1] - start[sl]);
            const float *ap = abuf + start[sl] * APS;
            /* the first sliver fetches the next panel while it works on this one */
            const float *pf = sl == 0 && j0 + LFFN_GEMM_NR < n ? panel + panel_stride : NULL;
            float *cc = c + start[sl] * ldc + j0;
#define UKS(R) ukernel(R, kc, ap, panel, cc, ldc, m0, m1, bj, first, gelu, pf)
            LFFN_GEMM_SWITCH_MR_AVX512(mr, UKS)
#undef UKS
        }
    }
}

void lffn_gemm_macro_f32_avx512(int64_t m, int64_t n, int64_t kc, const float *a, int64_t lda, const float *bp,
                                int64_t panel_stride, const float *bias, int first, int last,
                                lffn_epilogue_t epilogue, float *c, int64_t ldc) {
    const int gelu = last && epilogue == LFFN_EPILOGUE_GELU;
    if (m <= LFFN_GEMM_SMALL_M) {
        macro_few_rows(m, n, kc, a, lda, bp, panel_stride, bias, first, gelu, c, ldc);
        return;
    }
    float abuf[MR * APS] __attribute__((aligned(64)));
    const int64_t kmain = kc & ~(int64_t)15;
    const __mmask16 ktail = (__mmask16)((1u << (kc - kmain)) - 1u);
    for (int64_t i0 = 0; i0 < m; i0 += MR) {
        const int mr = m - i0 < MR ? (int)(m - i0) : MR;
        for (int r = 0; r < mr; r++) {
            const float *src = a + (i0 + r) * lda;
            float *dst = abuf + r * APS;
            for (int64_t kk = 0; kk < kmain; kk += 16) _mm512_store_ps(dst + kk, _mm512_loadu_ps(src + kk));
            if (ktail) _mm512_mask_storeu_ps(dst + kmain, ktail, _mm512_maskz_loadu_ps(ktail, src + kmain));
        }
        for (int64_t j0 = 0; j0 < n; j0 += LFFN_GEMM_NR) {
            const int64_t nr = n - j0;
            __mmask16 m0, m1;
            lffn_panel_masks_avx512(nr, &m0, &m1);
            const float *panel = bp + (j0 / LFFN_GEMM_NR) * panel_stride;
            const float *bj = bias ? bias + j0 : NULL;
            float *cc = c + i0 * ldc + j0;
            LFFN_GEMM_SWITCH_MR_AVX512(mr, UK)
        }
    }
}
