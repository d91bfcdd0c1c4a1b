/* Internal declarations of the LookupFFN kernels (BH4 projection, hash code/score, gather-accumulate,
 * bf16 conversion): references and per-ISA paths. Not part of the ABI. */
#ifndef LFFN_LOOKUP_INTERNAL_H
#define LFFN_LOOKUP_INTERNAL_H

#include "lffn_internal.h"

/* ---- bh4.c ---- */
/* Rows per tile of the vector BH4 kernels; the workspace holds three [padded_dim, LFFN_BH4_TILE] tiles
 * (activations transposed so a feature of the tile is LFFN_BH4_TILE contiguous floats). */
#define LFFN_BH4_TILE 32
/* Blocks up to this size are stored folded by lffn_bh4_pack_f32 (see lffn_bh4_fold_hadamard). */
#define LFFN_BH4_FOLD_MAX_B 128
#define LFFN_BH4_ARGS                                                                                        \
    int64_t rows, int64_t dim, int64_t padded_dim, int64_t block, int64_t repeats, int64_t out_dim,          \
        const float *LFFN_RESTRICT u, int64_t ldu, const float *LFFN_RESTRICT weight,                        \
        const float *LFFN_RESTRICT bias, float *LFFN_RESTRICT workspace, float *LFFN_RESTRICT z, int64_t ldz
/* the public projection (weights as given) */
typedef void (*lffn_bh4_project_fn)(LFFN_BH4_ARGS);
LFFN_HIDDEN void lffn_bh4_project_f32_ref(LFFN_BH4_ARGS);
LFFN_HIDDEN void lffn_bh4_project_f32_avx512(LFFN_BH4_ARGS);
/* The same with the Hadamard stages of stride < h0 already in the weights (h0 = 1: none; h0 = block: weights
 * folded by lffn_bh4_fold_hadamard). */
typedef void (*lffn_bh4_rows_fn)(LFFN_BH4_ARGS, int64_t h0);
LFFN_HIDDEN void lffn_bh4_rows_f32_ref(LFFN_BH4_ARGS, int64_t h0);
LFFN_HIDDEN void lffn_bh4_rows_f32_avx2(LFFN_BH4_ARGS, int64_t h0);
LFFN_HIDDEN void lffn_bh4_project_f32_avx2(LFFN_BH4_ARGS);

/* ---- hash.c ---- */
typedef void (*lffn_hash_fn)(int64_t rows, int64_t tables, int64_t tau, const float *z, int64_t ldz, int32_t *code,
                             int64_t ldcode, float *score, int64_t ldscore);
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
/* The unpacked gather, the test oracle of the packed one (table [tables * 2^tau, out_dim] row-major). */
#define LFFN_GATHER_ARGS                                                                                     \
    int64_t rows, int64_t tables, int64_t tau, int64_t out_dim, const int32_t *code, int64_t ldcode,         \
        const float *score, int64_t ldscore
LFFN_HIDDEN void lffn_gather_accum_f32_ref(LFFN_GATHER_ARGS, const float *table, const float *bias, float *out,
                                           int64_t ldout);
LFFN_HIDDEN void lffn_gather_accum_bf16_ref(LFFN_GATHER_ARGS, const uint16_t *table, const float *bias,
                                            float *out, int64_t ldout);
/* int8: q [tables * 2^tau, out_dim], scale [tables * 2^tau, ceil(out_dim / 64)]; each term (score * scale) * q */
LFFN_HIDDEN void lffn_gather_accum_i8_ref(LFFN_GATHER_ARGS, const int8_t *q, const float *scale, const float *bias,
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
typedef void (*lffn_convert_fn)(int64_t n, const float *LFFN_RESTRICT src, uint16_t *LFFN_RESTRICT dst);
LFFN_HIDDEN void lffn_convert_f32_to_bf16_ref(int64_t n, const float *src, uint16_t *dst);
LFFN_HIDDEN void lffn_convert_f32_to_bf16_avx2(int64_t n, const float *src, uint16_t *dst);
LFFN_HIDDEN void lffn_convert_f32_to_bf16_avx512(int64_t n, const float *src, uint16_t *dst);


/* ---- packed tables (gather.c) ----
 * Columns per chunk of the packed table layout [ceil(out_dim / C)][tables][2^tau][C] (see lookupffn.h).
 * Chosen by measurement on Zen 5 (h 128, tau 8, o 512, 32768 rows): C = 64 beats 32 for both element types
 * (fp32 1 thread 0.107 s vs 0.17 s; bf16 0.128 s vs 0.20 s with row-major codes; fused layer about equal),
 * 16 was worse for fp32. One (chunk, table) slice is 2^tau * C elements; a group of tables' slices stays in
 * L2 while every row of a call streams by. */
#ifndef LFFN_PACK_C_F32
#define LFFN_PACK_C_F32 64
#endif
#ifndef LFFN_PACK_C_BF16
#define LFFN_PACK_C_BF16 64
#endif
#define LFFN_PACK_C_I8 64 /* one cache line of int8 per row piece; also the quantization chunk (ABI) */
/* int8 scales (behind the values): [chunk / R][table row][min(R, chunks left)] fp32 with R = LFFN_I8_SCALE_RUN,
 * so the scales of one table row for R consecutive chunks share a line: at one cold sequence a row's scale line
 * is fetched once for its R chunks instead of once per chunk (R = 1: [chunk][table row], the first layout). */
#ifndef LFFN_I8_SCALE_RUN
#define LFFN_I8_SCALE_RUN 8
#endif
/* scales per table row in the run of chunk q */
static inline int64_t lffn_i8_scale_width(int64_t q, int64_t chunks) {
    const int64_t q0 = q / LFFN_I8_SCALE_RUN * LFFN_I8_SCALE_RUN;
    return chunks - q0 < LFFN_I8_SCALE_RUN ? chunks - q0 : LFFN_I8_SCALE_RUN;
}
/* index of the scale of (chunk q, table row t) among the packed scales */
static inline int64_t lffn_i8_scale_index(int64_t q, int64_t t, int64_t trows, int64_t chunks) {
    const int64_t q0 = q / LFFN_I8_SCALE_RUN * LFFN_I8_SCALE_RUN;
    return q0 * trows + t * lffn_i8_scale_width(q, chunks) + (q - q0);
}
/* position of column j (0..31) of a 32-column block inside the packed bf16 block */
static inline int64_t lffn_bf16_pack_pos(int64_t j) { return j < 16 ? 2 * j : 2 * (j - 16) + 1; }
/* position of column j (0..63) inside a packed int8 row piece: 32-bit lane i holds columns i, 16 + i, 32 + i,
 * 48 + i in its bytes 0..3, so each group of 16 columns is one shift (and mask) of the whole 64-byte load */
static inline int64_t lffn_i8_pack_pos(int64_t j) { return 4 * (j & 15) + (j >> 4); }
/* Packed gather over rows whose codes and scores are at code[r * code_rs + k * code_ks] (likewise score):
 * the public entry uses (ldcode, 1); the fused layer stores them table-major (1, ld). obuf: NULL, or scratch
 * of rows * 64 floats (64-byte aligned) where the AVX-512 kernels keep the partial sums of a column chunk
 * between table groups (contiguous, so they spread over the L2 sets instead of following out's row stride);
 * the other paths ignore it. */
#define LFFN_PGATHER_ARGS                                                                                    \
    int64_t rows, int64_t tables, int64_t tau, int64_t out_dim, const int32_t *LFFN_RESTRICT code,           \
        int64_t code_rs, int64_t code_ks, const float *LFFN_RESTRICT score, int64_t score_rs,                \
        int64_t score_ks, const void *LFFN_RESTRICT packed, const float *LFFN_RESTRICT bias,                 \
        float *LFFN_RESTRICT out, int64_t ldout, float *LFFN_RESTRICT obuf
typedef void (*lffn_pgather_fn)(LFFN_PGATHER_ARGS);
LFFN_HIDDEN void lffn_gather_packed_f32_ref(LFFN_PGATHER_ARGS);
LFFN_HIDDEN void lffn_gather_packed_f32_avx2(LFFN_PGATHER_ARGS);
LFFN_HIDDEN void lffn_gather_packed_f32_avx512(LFFN_PGATHER_ARGS);
LFFN_HIDDEN void lffn_gather_packed_bf16_ref(LFFN_PGATHER_ARGS);
LFFN_HIDDEN void lffn_gather_packed_bf16_avx2(LFFN_PGATHER_ARGS);
LFFN_HIDDEN void lffn_gather_packed_bf16_avx512(LFFN_PGATHER_ARGS);
/* int8: packed values [chunk][table][2^tau][64], then the scales (lffn_i8_scale_index) */
LFFN_HIDDEN void lffn_gather_packed_i8_ref(LFFN_PGATHER_ARGS);
LFFN_HIDDEN void lffn_gather_packed_i8_avx2(LFFN_PGATHER_ARGS);
LFFN_HIDDEN void lffn_gather_packed_i8_avx512(LFFN_PGATHER_ARGS);
/* (the AVX-512 kernels require row stride 1 for both, or table stride 1 for both) */


/* ---- the fused layer (lookupffn.c) and its AVX-512 tile steps ---- */
/* Load-time fold of the in-block Hadamard stages into the BH4 weights (bh4.c, lffn_bh4_pack_f32): wf =
 * (I (x) H_b) W for nmat [P/b, b, b] matrices. */
/* First Hadamard stride the fused layer runs with weights packed by lffn_bh4_pack_f32 (block when folded, else 1). */
LFFN_HIDDEN int64_t lffn_bh4_h0(int64_t block);
LFFN_HIDDEN void lffn_bh4_fold_hadamard(int64_t padded_dim, int64_t block, int64_t nmat, const float *w, float *wf);
/* BH4 of one tile of nt <= LFFN_BH4_TILE rows into feature-major Z [out_dim][LFFN_BH4_TILE] (bias added), the
 * weights as packed by lffn_bh4_pack_f32 (folded when h0 == block > 1); workspace:
 * lffn_bh4_workspace_size(LFFN_BH4_TILE, padded_dim) bytes, 64-byte aligned; Z 64-byte aligned. */
typedef void (*lffn_bh4_tile_fn)(int64_t nt, int64_t dim, int64_t padded_dim, int64_t block, int64_t repeats,
                                 int64_t out_dim, const float *LFFN_RESTRICT u, int64_t ldu,
                                 const float *LFFN_RESTRICT weight, const float *LFFN_RESTRICT bias,
                                 float *LFFN_RESTRICT workspace, float *LFFN_RESTRICT Z, int64_t h0);
LFFN_HIDDEN void lffn_bh4_tile_f32_avx512(int64_t nt, int64_t dim, int64_t padded_dim, int64_t block,
                                          int64_t repeats, int64_t out_dim, const float *LFFN_RESTRICT u,
                                          int64_t ldu, const float *LFFN_RESTRICT weight,
                                          const float *LFFN_RESTRICT bias, float *LFFN_RESTRICT workspace,
                                          float *LFFN_RESTRICT Z, int64_t h0);
/* lffn_lookupffn_forward_f32 that also writes each row's codes and scores (row-major [rows, tables]) to
 * debug_code / debug_score when they are not NULL: the tests check the layer's intermediates. */
LFFN_HIDDEN lffn_status_t lffn_lookupffn_forward_impl(
    int64_t rows, int64_t dim, int64_t padded_dim, int64_t block, int64_t repeats, int64_t tables, int64_t tau,
    int64_t out_dim, const float *x, int64_t ldx, const float *ln_weight, const float *ln_bias, float eps,
    const float *packed_proj, const float *proj_bias, const void *packed_tables, lffn_table_dtype_t table_dtype,
    const float *bias,
    void *workspace, float *out, int64_t ldout, int32_t *debug_code, float *debug_score);
/* code/score of all LFFN_BH4_TILE lanes of a feature-major tile, table-major: code[k * ldk + t] (64-byte
 * aligned, ldk a multiple of 16). */
typedef void (*lffn_hash_tile_fn)(int64_t tables, int64_t tau, const float *LFFN_RESTRICT Z,
                                  int32_t *LFFN_RESTRICT code, float *LFFN_RESTRICT score, int64_t ldk);
LFFN_HIDDEN void lffn_hash_tile_f32_avx512(int64_t tables, int64_t tau, const float *LFFN_RESTRICT Z,
                                           int32_t *LFFN_RESTRICT code, float *LFFN_RESTRICT score, int64_t ldk);

#endif
