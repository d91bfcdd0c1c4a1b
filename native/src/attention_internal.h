/* Internal declarations of the attention kernels (attention.c, x86/attention_*.c): not part of the ABI. */
#ifndef LFFN_ATTENTION_INTERNAL_H
#define LFFN_ATTENTION_INTERNAL_H

#include "lffn_internal.h"

typedef void (*lffn_softmax_fn)(int64_t rows, int64_t cols, const float *x, int64_t ldx, float scale,
                                const float *mask_add, float *y, int64_t ldy);
typedef void (*lffn_add_fn)(int64_t rows, int64_t cols, const float *a, int64_t lda, const float *b, int64_t ldb,
                            float *y, int64_t ldy);
/* y[r, :] = softmax(x[r, :] * scale + mask_add) (mask_add [cols] or NULL); y may be x. */
LFFN_HIDDEN void lffn_softmax_rows_f32_ref(int64_t rows, int64_t cols, const float *x, int64_t ldx, float scale,
                                           const float *mask_add, float *y, int64_t ldy);
LFFN_HIDDEN void lffn_softmax_rows_f32_avx2(int64_t rows, int64_t cols, const float *x, int64_t ldx, float scale,
                                            const float *mask_add, float *y, int64_t ldy);
LFFN_HIDDEN void lffn_softmax_rows_f32_avx512(int64_t rows, int64_t cols, const float *x, int64_t ldx,
                                              float scale, const float *mask_add, float *y, int64_t ldy);

/* y = a + b over rows; y may be a or b. */
LFFN_HIDDEN void lffn_add_f32_ref(int64_t rows, int64_t cols, const float *a, int64_t lda, const float *b,
                                  int64_t ldb, float *y, int64_t ldy);
LFFN_HIDDEN void lffn_add_f32_avx2(int64_t rows, int64_t cols, const float *a, int64_t lda, const float *b,
                                   int64_t ldb, float *y, int64_t ldy);
LFFN_HIDDEN void lffn_add_f32_avx512(int64_t rows, int64_t cols, const float *a, int64_t lda, const float *b,
                                     int64_t ldb, float *y, int64_t ldy);

/* One head: out[0:q_rows, 0:head_size] = softmax_rows(q . k^T * scale + mask_add) . v, queries [0, q_rows)
 * against keys [0, kv_len). p: scratch of q_rows x kv_len floats (64-byte aligned). */
typedef void (*lffn_attention_head_fn)(int64_t q_rows, int64_t kv_len, int64_t head_size, const float *q,
                                       int64_t ldq, const float *k, int64_t ldk, const float *v, int64_t ldv,
                                       float scale, const float *mask_add, float *p, float *out, int64_t ldout);
/* Q.K^T and P.V with lffn_gemm_f32, the softmax as lffn_softmax_rows_f32 (each dispatched): the scalar and AVX2
 * levels, and AVX-512 past its head-size limit. */
LFFN_HIDDEN void lffn_attention_head_f32_generic(int64_t q_rows, int64_t kv_len, int64_t head_size, const float *q,
                                                 int64_t ldq, const float *k, int64_t ldk, const float *v,
                                                 int64_t ldv, float scale, const float *mask_add, float *p,
                                                 float *out, int64_t ldout);
LFFN_HIDDEN void lffn_attention_head_f32_avx512(int64_t q_rows, int64_t kv_len, int64_t head_size, const float *q,
                                                int64_t ldq, const float *k, int64_t ldk, const float *v,
                                                int64_t ldv, float scale, const float *mask_add, float *p,
                                                float *out, int64_t ldout);

/* The whole attention of heads heads in double: the oracle of lffn_attention_f32. p: scratch of seq_len
 * doubles (the caller's: no large stack arrays). Queries [0, q_rows) against keys [0, kv_len). */
LFFN_HIDDEN void lffn_attention_f32_ref(int64_t q_rows, int64_t kv_len, int64_t heads, int64_t head_size,
                                        const float *q, int64_t ldq, const float *k, int64_t ldk, const float *v,
                                        int64_t ldv, float scale, const float *mask_add, double *p, float *out,
                                        int64_t ldout);

#endif
