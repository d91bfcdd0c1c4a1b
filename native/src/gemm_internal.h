/* Internal declarations of the fp32 GEMM (gemm.c and x86/gemm_*.c): not part of the ABI.
 *
 * Packed right-hand matrix (lffn_gemm_pack_b_f32), the same for every ISA:
 *   op(B) [k, n] is cut into P = ceil(n / LFFN_GEMM_NR) panels of LFFN_GEMM_NR (32) columns; panel p holds
 *   columns p*32 .. p*32+31 as k rows of 32 contiguous floats (128 bytes), columns >= n are zero:
 *     packed[(p * k + kk) * 32 + j] = op(B)[kk, p * 32 + j]   (0 when p * 32 + j >= n)
 *   so the block of rows pc .. pc+kc of a panel is contiguous and panels follow each other every k * 32
 *   floats. Size: P * k * 32 * 4 bytes.
 *
 * A macro-kernel (one per ISA) computes one block C[0:m, 0:n] (+)= A[0:m, 0:kc] . Bblock, where Bblock is
 * given as ceil(n / 32) panels of kc rows (panel p at bp + p * panel_stride, row kk at + kk * 32):
 *   first: C = A.B (+ bias) (C is not read), else C += A.B;  last: then C = epilogue(C).
 * bias (already offset to the block's first column) may be NULL. The macro-kernel packs slivers of A into a
 * stack buffer; it needs kc <= LFFN_GEMM_KC_MAX. */
#ifndef LFFN_GEMM_INTERNAL_H
#define LFFN_GEMM_INTERNAL_H

#include "lffn_internal.h"

#define LFFN_GEMM_NR 32       /* columns of a packed panel */
#define LFFN_GEMM_KC_MAX 512  /* longest K block a macro-kernel accepts */
/* Calls of at most this many rows (one short sequence) take the AVX-512 macro-kernel's few-rows order: all of
 * A packed once (3 slivers of 14: 87 KiB of stack at KC_MAX), each B panel used by every sliver in turn, and
 * gemm_packed does not block N (the panels stream once per K block). */
#define LFFN_GEMM_SMALL_M 42

typedef void (*lffn_gemm_macro_fn)(int64_t m, int64_t n, int64_t kc, const float *a, int64_t lda,
                                   const float *bp, int64_t panel_stride, const float *bias, int first, int last,
                                   lffn_epilogue_t epilogue, float *c, int64_t ldc);

/* gemm.c: the reference (accumulates in double, GELU in double), the portable macro-kernel, packing */
LFFN_HIDDEN void lffn_gemm_f32_ref(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                                   int64_t ldb, int32_t trans_b, const float *bias, lffn_epilogue_t epilogue,
                                   float *c, int64_t ldc);
LFFN_HIDDEN void lffn_gemm_macro_f32_scalar(int64_t m, int64_t n, int64_t kc, const float *a, int64_t lda,
                                            const float *bp, int64_t panel_stride, const float *bias, int first,
                                            int last, lffn_epilogue_t epilogue, float *c, int64_t ldc);
/* Packs op(B)[k0 : k0+kc, j0 : j0+nc] as ceil(nc / 32) zero-padded panels of kc rows, panel p at
 * dst + p * panel_stride. */
LFFN_HIDDEN void lffn_gemm_pack_panels_f32(int64_t kc, int64_t nc, const float *b, int64_t ldb, int32_t trans_b,
                                           int64_t k0, int64_t j0, float *dst, int64_t panel_stride);

/* x86/gemm_avx2.c, x86/gemm_avx512.c */
LFFN_HIDDEN void lffn_gemm_macro_f32_avx2(int64_t m, int64_t n, int64_t kc, const float *a, int64_t lda,
                                          const float *bp, int64_t panel_stride, const float *bias, int first,
                                          int last, lffn_epilogue_t epilogue, float *c, int64_t ldc);
LFFN_HIDDEN void lffn_gemm_macro_f32_avx512(int64_t m, int64_t n, int64_t kc, const float *a, int64_t lda,
                                            const float *bp, int64_t panel_stride, const float *bias, int first,
                                            int last, lffn_epilogue_t epilogue, float *c, int64_t ldc);
/* In-place exact GELU on x[0:n] with the vector erf of each path (exposed for the accuracy test). */
LFFN_HIDDEN void lffn_gelu_f32_scalar(int64_t n, float *x);
LFFN_HIDDEN void lffn_gelu_f32_avx2(int64_t n, float *x);
LFFN_HIDDEN void lffn_gelu_f32_avx512(int64_t n, float *x);

#endif
