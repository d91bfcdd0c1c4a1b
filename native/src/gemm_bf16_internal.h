/* Internal declarations of the GEMM with bf16 weights (gemm_bf16.c and x86/gemm_bf16_*.c): not part of the ABI.
 *
 * Packed right-hand matrix (lffn_gemm_pack_b_bf16), the same for every ISA: op(B) [k, n] is rounded to bf16 and
 * cut into P = ceil(n / 32) panels of 32 columns, k padded to kp = k rounded up to even; panel p is contiguous,
 * kp / 2 pair rows of 64 bf16 values, each pair row interleaving two consecutive k rows column by column:
 *   packed[p * kp * 32 + (kk / 2) * 64 + j * 2 + (kk & 1)] = bf16(op(B)[kk, p * 32 + j])   (0 past n or k)
 * so one 32-bit lane holds (B[kk, j], B[kk+1, j]): the operand vdpbf16ps multiplies with a broadcast pair of A,
 * and the widening paths get B[kk, j] as lane << 16 and B[kk+1, j] as lane & 0xFFFF0000.
 *
 * A macro-kernel computes one block C[0:m, 0:n] (+)= A[0:m, 0:kc] . Bblock, Bblock given as ceil(n / 32) panels
 * of (kc + 1) / 2 pair rows (panel p at bp + p * panel_stride bf16 values); kc is odd only for the last K block
 * (the padding row of B is zero and the A value paired with it is taken as 0). first / last / bias / epilogue as
 * the fp32 macro-kernels (gemm_internal.h). kc <= LFFN_GEMM_BF16_KC_MAX. */
#ifndef LFFN_GEMM_BF16_INTERNAL_H
#define LFFN_GEMM_BF16_INTERNAL_H

#include "gemm_internal.h"

#define LFFN_GEMM_BF16_KC_MAX 512 /* longest K block a bf16 macro-kernel accepts (even) */

typedef void (*lffn_gemm_macro_bf16_fn)(int64_t m, int64_t n, int64_t kc, const float *a, int64_t lda,
                                        const uint16_t *bp, int64_t panel_stride, const float *bias, int first,
                                        int last, lffn_epilogue_t epilogue, float *c, int64_t ldc);

/* gemm_bf16.c: the portable macro-kernel (fp32 A, bf16 B widened, fp32 sums: the reference of every path) */
LFFN_HIDDEN void lffn_gemm_macro_bf16_ref(int64_t m, int64_t n, int64_t kc, const float *a, int64_t lda,
                                          const uint16_t *bp, int64_t panel_stride, const float *bias, int first,
                                          int last, lffn_epilogue_t epilogue, float *c, int64_t ldc);
/* x86/gemm_bf16_avx2.c, x86/gemm_bf16_avx512.c: fp32 A, B widened in registers */
LFFN_HIDDEN void lffn_gemm_macro_bf16_avx2(int64_t m, int64_t n, int64_t kc, const float *a, int64_t lda,
                                           const uint16_t *bp, int64_t panel_stride, const float *bias, int first,
                                           int last, lffn_epilogue_t epilogue, float *c, int64_t ldc);
LFFN_HIDDEN void lffn_gemm_macro_bf16_avx512(int64_t m, int64_t n, int64_t kc, const float *a, int64_t lda,
                                             const uint16_t *bp, int64_t panel_stride, const float *bias, int first,
                                             int last, lffn_epilogue_t epilogue, float *c, int64_t ldc);
/* x86/gemm_bf16_avx512bf16.c: A rounded to bf16 pairs once per sliver, vdpbf16ps */
LFFN_HIDDEN void lffn_gemm_macro_bf16_avx512bf16(int64_t m, int64_t n, int64_t kc, const float *a, int64_t lda,
                                                 const uint16_t *bp, int64_t panel_stride, const float *bias,
                                                 int first, int last, lffn_epilogue_t epilogue, float *c,
                                                 int64_t ldc);

#endif
