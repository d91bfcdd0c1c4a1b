/*
 * lffn_onednn.h: a plain-C wrapper over oneDNN for benchmarks only (liblookupffn_onednn.so). Not part of the
 * liblookupffn ABI; liblookupffn never links oneDNN. Bound from Java through FFM like the main library.
 *
 * Conventions: int64_t sizes, row-major fp32 buffers owned by the caller (borrowed for the call), and the
 * library's lffn_status_t for every status: LFFN_SUCCESS, LFFN_INVALID_ARGUMENTS (a bad argument, or oneDNN's
 * dnnl_invalid_arguments), LFFN_OUT_OF_MEMORY, LFFN_UNSUPPORTED_ISA (dnnl_unimplemented), LFFN_RUNTIME_ERROR
 * (any other oneDNN failure).
 * oneDNN's CPU runtime here is OpenMP: threads come from its pool, set with lffn_onednn_set_num_threads.
 */
#ifndef LFFN_ONEDNN_H
#define LFFN_ONEDNN_H

#include <stdint.h>

#include "lookupffn.h" /* lffn_status_t only: this wrapper does not link liblookupffn */

#if defined(_WIN32)
#define LFFN_ONEDNN_API __declspec(dllexport)
#else
#define LFFN_ONEDNN_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* oneDNN's version "MAJOR.MINOR.PATCH"; static storage. */
LFFN_ONEDNN_API const char *lffn_onednn_version(void);

/* Sets the OpenMP threads oneDNN uses from now on (omp_set_num_threads, for the calling thread's pool).
 * LFFN_INVALID_ARGUMENTS when n < 1. */
LFFN_ONEDNN_API lffn_status_t lffn_onednn_set_num_threads(int n);

/* dnnl_sgemm passthrough (row-major): C = alpha * op(A) . op(B) + beta * C, transa/transb 'N' or 'T'. */
LFFN_ONEDNN_API lffn_status_t lffn_onednn_sgemm(char transa, char transb, int64_t m, int64_t n, int64_t k, float alpha,
                                      const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                                      float *c, int64_t ldc);

/* A matmul primitive dst[m, n] = epilogue(src[m, k] . weight^T + bias) with the weights reordered once into
 * oneDNN's preferred layout and kept in the handle (native memory owned by the handle).
 * weight_nk: [n, k] (nn.Linear layout), fp32, read during the call only; bias: [n] fp32 or NULL (copied);
 * gelu: nonzero fuses exact GELU (eltwise_gelu_erf post-op); bf16: 0 = f32 src and weights, 1 = bf16 src and
 * weights with f32 bias and dst (execute converts src to bf16 with a reorder into a handle-owned scratch).
 * *out receives the handle (NULL on failure). */
LFFN_ONEDNN_API lffn_status_t lffn_onednn_matmul_create(void **out, int64_t m, int64_t n, int64_t k, const float *weight_nk,
                                              const float *bias, int gelu, int bf16);

/* Runs the matmul: src [m, k] f32 row-major (borrowed, read), dst [m, n] f32 row-major (borrowed, written).
 * Not reentrant on one handle (the handle's stream and scratch are reused). */
LFFN_ONEDNN_API lffn_status_t lffn_onednn_matmul_execute(void *handle, const float *src, float *dst);

/* Frees everything the handle owns; NULL is a no-op. */
LFFN_ONEDNN_API void lffn_onednn_matmul_destroy(void *handle);

#ifdef __cplusplus
}
#endif

#endif /* LFFN_ONEDNN_H */
