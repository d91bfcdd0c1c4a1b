/* GEMM with bf16 weights: C[m, n] = epilogue(A[m, k] . op(B) + bias[n]), A and C fp32, B packed as bf16 once.
 * Entry points, checks, the packing, the blocking loops and the portable macro-kernel (the reference of the
 * vector paths). Layout of the packed B: gemm_bf16_internal.h. The blocking is the fp32 GEMM's (gemm.c): M blocks
 * of LFFN_GEMM_MC rows, N blocks of LFFN_GEMM_NC columns, equal K blocks of at most LFFN_GEMM_BF16_KC (rounded up
 * to even so that every block but the last starts and ends on a pair row). */
#include <stdint.h>

#include "dispatch.h"

#ifndef LFFN_GEMM_BF16_KC
#define LFFN_GEMM_BF16_KC 512
#endif
#ifndef LFFN_GEMM_BF16_MC
#define LFFN_GEMM_BF16_MC 112
#endif
#ifndef LFFN_GEMM_BF16_NC
#define LFFN_GEMM_BF16_NC 256
#endif

_Static_assert(LFFN_GEMM_BF16_NC % LFFN_GEMM_NR == 0, "NC must be a multiple of NR");
_Static_assert(LFFN_GEMM_BF16_KC <= LFFN_GEMM_BF16_KC_MAX && LFFN_GEMM_BF16_KC % 2 == 0, "bad K block");
_Static_assert(LFFN_GEMM_BF16_KC_MAX % 2 == 0, "K block must be even");

void lffn_gemm_macro_bf16_ref(int64_t m, int64_t n, int64_t kc, const float *a, int64_t lda, const uint16_t *bp,
                              int64_t panel_stride, const float *bias, int first, int last,
                              lffn_epilogue_t epilogue, float *c, int64_t ldc) {
    for (int64_t j0 = 0; j0 < n; j0 += LFFN_GEMM_NR) {
        const uint16_t *panel = bp + (j0 / LFFN_GEMM_NR) * panel_stride;
        const int64_t nr = n - j0 < LFFN_GEMM_NR ? n - j0 : LFFN_GEMM_NR;
        for (int64_t i = 0; i < m; i++) {
            float acc[LFFN_GEMM_NR] = {0};
            const float *ar = a + i * lda;
            for (int64_t kk = 0; kk < kc; kk++) {
                const float av = ar[kk];
                const uint16_t *br = panel + (kk / 2) * 2 * LFFN_GEMM_NR + (kk & 1);
                for (int j = 0; j < LFFN_GEMM_NR; j++) acc[j] += av * lffn_bf16_bits_to_f32(br[2 * j]);
            }
            float *cr = c + i * ldc + j0;
            for (int64_t j = 0; j < nr; j++) cr[j] = acc[j] + (first ? (bias ? bias[j0 + j] : 0.0f) : cr[j]);
            if (last && epilogue == LFFN_EPILOGUE_GELU) lffn_gelu_f32_scalar(nr, cr);
        }
    }
}

/* Equal K blocks of at most target, rounded up to even: returns the block length. */
static int64_t k_block_even(int64_t k, int64_t target) {
    const int64_t blocks = (k + target - 1) / target;
    const int64_t kc = (k + blocks - 1) / blocks;
    return (kc + 1) & ~(int64_t)1;
}

int64_t lffn_gemm_pack_b_size_bf16(int64_t n, int64_t k) {
    if (n <= 0 || k <= 0) return 0;
    int64_t bytes;
    if (n > INT64_MAX - LFFN_GEMM_NR || k > INT64_MAX - 1 ||
        lffn_mul3_overflows((n + LFFN_GEMM_NR - 1) / LFFN_GEMM_NR * LFFN_GEMM_NR, (k + 1) & ~(int64_t)1,
                            (int64_t)sizeof(uint16_t), &bytes))
        return -1;
    return bytes;
}

lffn_status_t lffn_gemm_pack_b_bf16(int64_t n, int64_t k, const float *b, int64_t ldb, int32_t trans_b,
                                    uint16_t *packed) {
    LFFN_CHECK(n > 0 && k > 0 && ldb >= (trans_b ? k : n) && b && packed);
    LFFN_CHECK(lffn_gemm_pack_b_size_bf16(n, k) > 0);
    LFFN_CHECK(((uintptr_t)packed & 63) == 0);
    const int64_t kp = (k + 1) & ~(int64_t)1;
    for (int64_t p = 0; p * LFFN_GEMM_NR < n; p++) {
        uint16_t *panel = packed + p * kp * LFFN_GEMM_NR;
        for (int64_t j = 0; j < LFFN_GEMM_NR; j++) {
            const int64_t col = p * LFFN_GEMM_NR + j;
            /* trans_b (nn.Linear [n, k]): one row of B per column, read contiguously */
            for (int64_t kk = 0; kk < kp; kk++) {
                const float v = col < n && kk < k ? (trans_b ? b[col * ldb + kk] : b[kk * ldb + col]) : 0.0f;
                panel[(kk / 2) * 2 * LFFN_GEMM_NR + j * 2 + (kk & 1)] = lffn_f32_to_bf16_bits(v);
            }
        }
    }
    return LFFN_SUCCESS;
}

lffn_status_t lffn_gemm_packed_bf16(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                                    const uint16_t *packed_b, const float *bias, lffn_epilogue_t epilogue, float *c,
                                    int64_t ldc) {
    LFFN_CHECK(m >= 0 && n > 0 && k > 0 && lda >= k && ldc >= n);
    LFFN_CHECK(epilogue == LFFN_EPILOGUE_NONE || epilogue == LFFN_EPILOGUE_GELU);
    LFFN_CHECK(m == 0 || (a && packed_b && c));
    if (m == 0) return LFFN_SUCCESS;
    LFFN_CHECK(lffn_gemm_pack_b_size_bf16(n, k) > 0);
    LFFN_CHECK(((uintptr_t)packed_b & 63) == 0);
    const lffn_gemm_macro_bf16_fn macro = lffn_kernels()->gemm_macro_bf16;
    const int64_t kp = (k + 1) & ~(int64_t)1, panel_stride = kp * LFFN_GEMM_NR;
    const int64_t kc = k_block_even(k, LFFN_GEMM_BF16_KC);
    for (int64_t ic = 0; ic < m; ic += LFFN_GEMM_BF16_MC) {
        const int64_t mc = m - ic < LFFN_GEMM_BF16_MC ? m - ic : LFFN_GEMM_BF16_MC;
        for (int64_t jc = 0; jc < n; jc += LFFN_GEMM_BF16_NC) {
            const int64_t nc = n - jc < LFFN_GEMM_BF16_NC ? n - jc : LFFN_GEMM_BF16_NC;
            for (int64_t pc = 0; pc < k; pc += kc) {
                const int64_t kb = k - pc < kc ? k - pc : kc;
                macro(mc, nc, kb, a + ic * lda + pc, lda, packed_b + (jc / LFFN_GEMM_NR) * panel_stride + pc * LFFN_GEMM_NR,
                      panel_stride, bias ? bias + jc : NULL, pc == 0, pc + kb == k, epilogue, c + ic * ldc + jc, ldc);
            }
        }
    }
    return LFFN_SUCCESS;
}
