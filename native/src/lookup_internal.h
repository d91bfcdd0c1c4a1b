/* Internal declarations of the LookupFFN kernels (BH4 projection, hash code/score, gather-accumulate,
 * bf16 conversion): references and per-ISA paths. Not part of the ABI. */
#ifndef LFFN_LOOKUP_INTERNAL_H
#define LFFN_LOOKUP_INTERNAL_H

#include "lffn_internal.h"

/* ---- bh4.c ---- */
/* Rows per tile of the vector BH4 kernels; the workspace holds three [padded_dim, LFFN_BH4_TILE] tiles
 * (activations transposed so a feature of the tile is LFFN_BH4_TILE contiguous floats). */
#define LFFN_BH4_TILE 32
LFFN_HIDDEN void lffn_bh4_project_f32_ref(int64_t rows, int64_t dim, int64_t padded_dim, int64_t block,
                                          int64_t repeats, int64_t out_dim, const float *u, int64_t ldu,
                                          const float *weight, const float *bias, float *workspace, float *z,
                                          int64_t ldz);
LFFN_HIDDEN void lffn_bh4_project_f32_avx2(int64_t rows, int64_t dim, int64_t padded_dim, int64_t block,
                                           int64_t repeats, int64_t out_dim, const float *u, int64_t ldu,
                                           const float *weight, const float *bias, float *workspace, float *z,
                                           int64_t ldz);
LFFN_HIDDEN void lffn_bh4_project_f32_avx512(int64_t rows, int64_t dim, int64_t padded_dim, int64_t block,
                                             int64_t repeats, int64_t out_dim, const float *u, int64_t ldu,
                                             const float *weight, const float *bias, float *workspace,
                                             float *z, int64_t ldz);

/* ---- hash.c ---- */
LFFN_HIDDEN void lffn_hash_code_score_f32_ref(int64_t rows, int64_t tables, int64_t tau, const float *z,
                                              int64_t ldz, int32_t *code, int64_t ldcode, float *score,
                                              int64_t ldscore);
LFFN_HIDDEN void lffn_hash_code_score_f32_avx2(int64_t rows, int64_t tables, int64_t tau, const float *z,
                                               int64_t ldz, int32_t *code, int64_t ldcode, float *score,
                                               int64_t ldscore);
LFFN_HIDDEN void lffn_hash_code_score_f32_avx512(int64_t rows, int64_t tables, int64_t tau, const float *z,
                                                 int64_t ldz, int32_t *code, int64_t ldcode, float *score,
                                                 int64_t ldscore);

/* ---- gather.c ---- */
/* 1 when every code of the [rows, tables] matrix is in [0, 2^tau). */
LFFN_HIDDEN int lffn_codes_valid(int64_t rows, int64_t tables, int64_t tau, const int32_t *code, int64_t ldcode);
#define LFFN_GATHER_ARGS                                                                                     \
    int64_t rows, int64_t tables, int64_t tau, int64_t out_dim, const int32_t *code, int64_t ldcode,         \
        const float *score, int64_t ldscore
LFFN_HIDDEN void lffn_gather_accum_f32_ref(LFFN_GATHER_ARGS, const float *table, const float *bias, float *out,
                                           int64_t ldout);
LFFN_HIDDEN void lffn_gather_accum_f32_avx2(LFFN_GATHER_ARGS, const float *table, const float *bias,
                                            float *out, int64_t ldout);
LFFN_HIDDEN void lffn_gather_accum_f32_avx512(LFFN_GATHER_ARGS, const float *table, const float *bias,
                                              float *out, int64_t ldout);
LFFN_HIDDEN void lffn_gather_accum_bf16_ref(LFFN_GATHER_ARGS, const uint16_t *table, const float *bias,
                                            float *out, int64_t ldout);
LFFN_HIDDEN void lffn_gather_accum_bf16_avx2(LFFN_GATHER_ARGS, const uint16_t *table, const float *bias,
                                             float *out, int64_t ldout);
LFFN_HIDDEN void lffn_gather_accum_bf16_avx512(LFFN_GATHER_ARGS, const uint16_t *table, const float *bias,
                                               float *out, int64_t ldout);

/* ---- convert.c ---- */
/* bf16 bits of f, round to nearest even; a NaN keeps its sign and top payload bits and becomes quiet;
 * subnormals are rounded like any other value (never flushed to zero). */
static inline uint16_t lffn_f32_to_bf16_bits(float f) {
    union {
        float f;
        uint32_t u;
    } v = {f};
    if ((v.u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((v.u >> 16) | 0x0040u);
    return (uint16_t)((v.u + 0x7FFFu + ((v.u >> 16) & 1u)) >> 16);
}
static inline float lffn_bf16_bits_to_f32(uint16_t h) {
    union {
        uint32_t u;
        float f;
    } v = {(uint32_t)h << 16};
    return v.f;
}
LFFN_HIDDEN void lffn_convert_f32_to_bf16_ref(int64_t n, const float *src, uint16_t *dst);
LFFN_HIDDEN void lffn_convert_f32_to_bf16_avx2(int64_t n, const float *src, uint16_t *dst);
LFFN_HIDDEN void lffn_convert_f32_to_bf16_avx512(int64_t n, const float *src, uint16_t *dst);

#endif
