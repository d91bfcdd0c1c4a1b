/* Internal declarations shared by the portable and per-ISA sources: not part of the ABI. */
#ifndef LFFN_INTERNAL_H
#define LFFN_INTERNAL_H

#include "lookupffn.h"

#define LFFN_HIDDEN __attribute__((visibility("hidden")))
/* Kernel pointer parameters: the ABI forbids aliasing between inputs and outputs unless a function says so
 * (those few, e.g. LayerNorm's in-place form, do not use it). */
#define LFFN_RESTRICT __restrict__

/* Records "function: failed condition" as this thread's last error (lffn_last_error) and returns
 * LFFN_INVALID_ARGUMENTS. */
LFFN_HIDDEN lffn_status_t lffn_fail(const char *function, const char *condition);

/* Argument checks shared by every entry point: a failure names the function and the condition. */
#define LFFN_CHECK(cond)                                                                                     \
    do {                                                                                                     \
        if (!(cond)) return lffn_fail(__func__, #cond);                                                      \
    } while (0)

/* *out = a * b when a, b >= 0 and the product fits int64_t; else returns 1 (out unspecified). */
static inline int lffn_mul_overflows(int64_t a, int64_t b, int64_t *out) {
    return a < 0 || b < 0 || __builtin_mul_overflow(a, b, out);
}
static inline int lffn_mul3_overflows(int64_t a, int64_t b, int64_t c, int64_t *out) {
    int64_t ab;
    return lffn_mul_overflows(a, b, &ab) || lffn_mul_overflows(ab, c, out);
}

/* ---- layernorm.c ---- */
typedef void (*lffn_layernorm_fn)(int64_t rows, int64_t cols, const float *x, int64_t ldx, const float *gamma,
                                  const float *beta, float eps, float *y, int64_t ldy);
LFFN_HIDDEN void lffn_layernorm_f32_ref(int64_t rows, int64_t cols, const float *x, int64_t ldx,
                                        const float *gamma, const float *beta, float eps, float *y, int64_t ldy);
LFFN_HIDDEN void lffn_layernorm_f32_avx2(int64_t rows, int64_t cols, const float *x, int64_t ldx,
                                         const float *gamma, const float *beta, float eps, float *y, int64_t ldy);
LFFN_HIDDEN void lffn_layernorm_f32_avx512(int64_t rows, int64_t cols, const float *x, int64_t ldx,
                                           const float *gamma, const float *beta, float eps, float *y,
                                           int64_t ldy);
/* y[r, :] = LayerNorm(a[r, :] + b[r, :]) (the sum rounded to fp32 first, as a separate add would); y may be a
 * or b (same address and leading dimension): each row is summed into y, then normalised in place. */
typedef void (*lffn_add_layernorm_fn)(int64_t rows, int64_t cols, const float *a, int64_t lda, const float *b,
                                      int64_t ldb, const float *gamma, const float *beta, float eps, float *y,
                                      int64_t ldy);
LFFN_HIDDEN void lffn_add_layernorm_f32_ref(int64_t rows, int64_t cols, const float *a, int64_t lda,
                                            const float *b, int64_t ldb, const float *gamma, const float *beta,
                                            float eps, float *y, int64_t ldy);
LFFN_HIDDEN void lffn_add_layernorm_f32_avx2(int64_t rows, int64_t cols, const float *a, int64_t lda,
                                             const float *b, int64_t ldb, const float *gamma, const float *beta,
                                             float eps, float *y, int64_t ldy);
LFFN_HIDDEN void lffn_add_layernorm_f32_avx512(int64_t rows, int64_t cols, const float *a, int64_t lda,
                                               const float *b, int64_t ldb, const float *gamma, const float *beta,
                                               float eps, float *y, int64_t ldy);

/* The kernels of one ISA level (dispatch.c): one table per level, chosen once for the effective ISA (and again
 * when lffn_set_max_isa moves the cap), so entry points make one indirect call instead of an ISA switch. The
 * function types are declared next to their kernels (lookup_internal.h, gemm_internal.h, attention_internal.h). */
typedef struct lffn_kernels lffn_kernels_t;
LFFN_HIDDEN const lffn_kernels_t *lffn_kernels(void);
/* The table of one level (tests compare levels through it). */
LFFN_HIDDEN const lffn_kernels_t *lffn_kernels_for(lffn_isa_t isa);

#endif
