/* fp32 GEMM: C[m, n] = epilogue(A[m, k] . op(B) + bias[n]). Entry points, checks, dispatch, the portable
 * reference and macro-kernel, and the packing of B.
 *
 * Packed B layout (lffn_gemm_pack_b_f32, ISA-independent; see gemm_internal.h): panels of 32 columns, each
 * k rows x 32 floats contiguous, zero-padded past n; panel p starts at p * k * 32 floats.
 *
 * Blocking (the loops here; the macro-kernels in x86/gemm_*.c do the inner two):
 *   for ic in M by MC            A block stays in L2/L3 across the column blocks
 *     for jc in N by NC          B block [KC, NC] (<= 512 KiB) stays in L2 across the row slivers
 *       for pc in K by KC        C block [MC, NC] is revisited once per K block
 *         macro-kernel: for each MR-row sliver of A (copied to the stack, ~30 KiB at KC 512):
 *                         for each 32-column panel: register-tile micro-kernel (AVX-512 14 x 32, AVX2 6 x 16).
 * KC 512, NC 256, MC 112 were picked by measurement on the 2-core Zen 5 box at the two FFN shapes (K 512 runs
 * unsplit; K 2048 runs as 4 blocks). */
#include <math.h>
#include <stdint.h>

#include "dispatch.h"
#include "lffn_math.h"

#ifndef LFFN_GEMM_MC
#define LFFN_GEMM_MC 112 /* rows per M block: 8 slivers of the AVX-512 MR (14) */
#endif
#ifndef LFFN_GEMM_NC
#define LFFN_GEMM_NC 256 /* columns per N block, a multiple of 32 */
#endif
#ifndef LFFN_GEMM_SMALL_KC
#define LFFN_GEMM_SMALL_KC 512
#endif
#ifndef LFFN_GEMM_KC
#define LFFN_GEMM_KC 512 /* target K block (<= LFFN_GEMM_KC_MAX); K is split into equal blocks */
#endif
/* unpacked lffn_gemm_f32: B blocks are packed on the fly into a stack buffer of UKC x UNC floats (32 KiB);
 * with the macro-kernel's A sliver (<= 30 KiB) a call uses about 64 KiB of stack, and no heap. */
#define LFFN_GEMM_UKC 128
#define LFFN_GEMM_UNC 64

_Static_assert(LFFN_GEMM_NC % LFFN_GEMM_NR == 0, "NC must be a multiple of NR");
_Static_assert(LFFN_GEMM_UNC % LFFN_GEMM_NR == 0, "UNC must be a multiple of NR");
_Static_assert(LFFN_GEMM_KC <= LFFN_GEMM_KC_MAX && LFFN_GEMM_UKC <= LFFN_GEMM_KC_MAX, "K block too long");

/* ---- reference and portable kernels ---- */

static double gelu_ref(double x) { return 0.5 * x * (1.0 + erf(x * LFFN_INV_SQRT2)); }

void lffn_gemm_f32_ref(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb,
                       int32_t trans_b, const float *bias, lffn_epilogue_t epilogue, float *c, int64_t ldc) {
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) {
            double s = bias ? (double)bias[j] : 0.0;
            for (int64_t kk = 0; kk < k; kk++)
                s += (double)a[i * lda + kk] * (double)(trans_b ? b[j * ldb + kk] : b[kk * ldb + j]);
            c[i * ldc + j] = (float)(epilogue == LFFN_EPILOGUE_GELU ? gelu_ref(s) : s);
        }
    }
}

void lffn_gelu_f32_scalar(int64_t n, float *x) {
    for (int64_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * LFFN_INV_SQRT2_F));
}

void lffn_gemm_macro_f32_scalar(int64_t m, int64_t n, int64_t kc, const float *a, int64_t lda, const float *bp,
                                int64_t panel_stride, const float *bias, int first, int last,
                                lffn_epilogue_t epilogue, float *c, int64_t ldc) {
    for (int64_t j0 = 0; j0 < n; j0 += LFFN_GEMM_NR) {
        const float *panel = bp + (j0 / LFFN_GEMM_NR) * panel_stride;
        const int64_t nr = n - j0 < LFFN_GEMM_NR ? n - j0 : LFFN_GEMM_NR;
        for (int64_t i = 0; i < m; i++) {
            float acc[LFFN_GEMM_NR] = {0};
            const float *ar = a + i * lda;
            for (int64_t kk = 0; kk < kc; kk++) {
                const float av = ar[kk];
                const float *br = panel + kk * LFFN_GEMM_NR;
                for (int j = 0; j < LFFN_GEMM_NR; j++) acc[j] += av * br[j];
            }
            float *cr = c + i * ldc + j0;
            for (int64_t j = 0; j < nr; j++) {
                float v = acc[j] + (first ? (bias ? bias[j0 + j] : 0.0f) : cr[j]);
                cr[j] = v;
            }
            if (last && epilogue == LFFN_EPILOGUE_GELU) lffn_gelu_f32_scalar(nr, cr);
        }
    }
}

void lffn_gemm_pack_panels_f32(int64_t kc, int64_t nc, const float *b, int64_t ldb, int32_t trans_b, int64_t k0,
                               int64_t j0, float *dst, int64_t panel_stride) {
    for (int64_t p = 0; p * LFFN_GEMM_NR < nc; p++) {
        float *panel = dst + p * panel_stride;
        const int64_t jb = j0 + p * LFFN_GEMM_NR;
        const int64_t nr = nc - p * LFFN_GEMM_NR < LFFN_GEMM_NR ? nc - p * LFFN_GEMM_NR : LFFN_GEMM_NR;
        if (!trans_b) {
            for (int64_t kk = 0; kk < kc; kk++) {
                const float *src = b + (k0 + kk) * ldb + jb;
                float *d = panel + kk * LFFN_GEMM_NR;
                int64_t j = 0;
                for (; j < nr; j++) d[j] = src[j];
                for (; j < LFFN_GEMM_NR; j++) d[j] = 0.0f;
            }
        } else {
            /* B is [n, k]: read each of the panel's rows of B contiguously, a chunk of k at a time */
            for (int64_t kb = 0; kb < kc; kb += 64) {
                const int64_t ke = kb + 64 < kc ? kb + 64 : kc;
                for (int64_t j = 0; j < LFFN_GEMM_NR; j++) {
                    if (j < nr) {
                        const float *src = b + (jb + j) * ldb + k0;
                        for (int64_t kk = kb; kk < ke; kk++) panel[kk * LFFN_GEMM_NR + j] = src[kk];
                    } else {
                        for (int64_t kk = kb; kk < ke; kk++) panel[kk * LFFN_GEMM_NR + j] = 0.0f;
                    }
                }
            }
        }
    }
}

/* ---- dispatch and blocking ---- */

/* Equal K blocks of at most target: returns the block length. */
static int64_t k_block(int64_t k, int64_t target) {
    const int64_t blocks = (k + target - 1) / target;
    return (k + blocks - 1) / blocks;
}

static void gemm_packed(lffn_gemm_macro_fn macro, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                        const float *packed_b, const float *bias, lffn_epilogue_t epilogue, float *c, int64_t ldc) {
    const int64_t kc = k_block(k, m <= LFFN_GEMM_SMALL_M ? LFFN_GEMM_SMALL_KC : LFFN_GEMM_KC);
    /* few rows on AVX-512: no N blocks (its few-rows order uses each panel at once for every sliver; A is then
     * packed once per K block). The other macro-kernels sweep B once per sliver and keep their L2-sized blocks. */
    int64_t ncb = LFFN_GEMM_NC;
#if defined(__x86_64__)
    if (m <= LFFN_GEMM_SMALL_M && macro == lffn_gemm_macro_f32_avx512) ncb = n;
#endif
    for (int64_t ic = 0; ic < m; ic += LFFN_GEMM_MC) {
        const int64_t mc = m - ic < LFFN_GEMM_MC ? m - ic : LFFN_GEMM_MC;
        for (int64_t jc = 0; jc < n; jc += ncb) {
            const int64_t nc = n - jc < ncb ? n - jc : ncb;
            for (int64_t pc = 0; pc < k; pc += kc) {
                const int64_t kb = k - pc < kc ? k - pc : kc;
                macro(mc, nc, kb, a + ic * lda + pc, lda, packed_b + (jc / LFFN_GEMM_NR) * k * LFFN_GEMM_NR +
                      pc * LFFN_GEMM_NR, k * LFFN_GEMM_NR, bias ? bias + jc : NULL, pc == 0, pc + kb == k,
                      epilogue, c + ic * ldc + jc, ldc);
            }
        }
    }
}

static void gemm_unpacked(lffn_gemm_macro_fn macro, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                          const float *b, int64_t ldb, int32_t trans_b, const float *bias, lffn_epilogue_t epilogue,
                          float *c, int64_t ldc) {
    float bbuf[LFFN_GEMM_UKC * LFFN_GEMM_UNC] __attribute__((aligned(64)));
    const int64_t kc = k_block(k, LFFN_GEMM_UKC);
    for (int64_t ic = 0; ic < m; ic += LFFN_GEMM_MC) {
        const int64_t mc = m - ic < LFFN_GEMM_MC ? m - ic : LFFN_GEMM_MC;
        for (int64_t jc = 0; jc < n; jc += LFFN_GEMM_UNC) {
            const int64_t nc = n - jc < LFFN_GEMM_UNC ? n - jc : LFFN_GEMM_UNC;
            for (int64_t pc = 0; pc < k; pc += kc) {
                const int64_t kb = k - pc < kc ? k - pc : kc;
                lffn_gemm_pack_panels_f32(kb, nc, b, ldb, trans_b, pc, jc, bbuf, kb * LFFN_GEMM_NR);
                macro(mc, nc, kb, a + ic * lda + pc, lda, bbuf, kb * LFFN_GEMM_NR, bias ? bias + jc : NULL, pc == 0,
                      pc + kb == k, epilogue, c + ic * ldc + jc, ldc);
            }
        }
    }
}

/* ---- entry points ---- */

#define GEMM_COMMON_CHECKS()                                                                                  \
    LFFN_CHECK(m >= 0 && n > 0 && k > 0 && lda >= k && ldc >= n);                                            \
    LFFN_CHECK(epilogue == LFFN_EPILOGUE_NONE || epilogue == LFFN_EPILOGUE_GELU)

lffn_status_t lffn_gemm_f32(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                            int64_t ldb, int32_t trans_b, const float *bias, lffn_epilogue_t epilogue, float *c,
                            int64_t ldc) {
    GEMM_COMMON_CHECKS();
    LFFN_CHECK(ldb >= (trans_b ? k : n));
    LFFN_CHECK(m == 0 || (a && b && c));
    if (m == 0) return LFFN_SUCCESS;
    gemm_unpacked(lffn_kernels()->gemm_macro_f32, m, n, k, a, lda, b, ldb, trans_b, bias, epilogue, c, ldc);
    return LFFN_SUCCESS;
}

int64_t lffn_gemm_pack_b_size_f32(int64_t n, int64_t k) {
    if (n <= 0 || k <= 0) return 0;
    int64_t bytes;
    if (n > INT64_MAX - LFFN_GEMM_NR ||
        lffn_mul3_overflows((n + LFFN_GEMM_NR - 1) / LFFN_GEMM_NR * LFFN_GEMM_NR, k, (int64_t)sizeof(float), &bytes))
        return -1;
    return bytes;
}

lffn_status_t lffn_gemm_pack_b_f32(int64_t n, int64_t k, const float *b, int64_t ldb, int32_t trans_b,
                                   float *packed) {
    LFFN_CHECK(n > 0 && k > 0 && ldb >= (trans_b ? k : n) && b && packed);
    LFFN_CHECK(lffn_gemm_pack_b_size_f32(n, k) > 0);
    LFFN_CHECK(((uintptr_t)packed & 63) == 0);
    lffn_gemm_pack_panels_f32(k, n, b, ldb, trans_b, 0, 0, packed, k * LFFN_GEMM_NR);
    return LFFN_SUCCESS;
}

lffn_status_t lffn_gemm_packed_f32(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                                   const float *packed_b, const float *bias, lffn_epilogue_t epilogue, float *c,
                                   int64_t ldc) {
    GEMM_COMMON_CHECKS();
    LFFN_CHECK(m == 0 || (a && packed_b && c));
    if (m == 0) return LFFN_SUCCESS;
    LFFN_CHECK(lffn_gemm_pack_b_size_f32(n, k) > 0);
    LFFN_CHECK(((uintptr_t)packed_b & 63) == 0);
    gemm_packed(lffn_kernels()->gemm_macro_f32, m, n, k, a, lda, packed_b, bias, epilogue, c, ldc);
    return LFFN_SUCCESS;
}
