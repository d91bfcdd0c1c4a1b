/* Internal declarations shared by the portable and per-ISA sources: not part of the ABI. */
#ifndef LFFN_INTERNAL_H
#define LFFN_INTERNAL_H

#include "lookupffn.h"

#define LFFN_HIDDEN __attribute__((visibility("hidden")))

/* The ISA the kernels use now (cpu.c): min(cpu, cap), read once per call. */
LFFN_HIDDEN lffn_isa_t lffn_isa_now(void);

/* Argument checks shared by every entry point. */
#define LFFN_CHECK(cond)                                                                                     \
    do {                                                                                                     \
        if (!(cond)) return LFFN_INVALID_ARGUMENTS;                                                          \
    } while (0)

/* ---- layernorm.c ---- */
LFFN_HIDDEN void lffn_layernorm_f32_ref(int64_t rows, int64_t cols, const float *x, int64_t ldx,
                                        const float *gamma, const float *beta, float eps, float *y, int64_t ldy);
LFFN_HIDDEN void lffn_layernorm_f32_avx2(int64_t rows, int64_t cols, const float *x, int64_t ldx,
                                         const float *gamma, const float *beta, float eps, float *y, int64_t ldy);
LFFN_HIDDEN void lffn_layernorm_f32_avx512(int64_t rows, int64_t cols, const float *x, int64_t ldx,
                                           const float *gamma, const float *beta, float eps, float *y,
                                           int64_t ldy);

#endif
