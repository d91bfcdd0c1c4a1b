/* Weighted gather-accumulate (SPEC.md step 4) over packed tables: packing, entry point, checks and the portable
 * references.
 *   out[r, :] = sum_k score[r, k] * table[k * 2^tau + code[r, k], :] + bias   (bias may be NULL)
 * Every code is validated before any table row is read. The references sum over k in order, in fp32; the
 * unpacked ones (on the row-major table) are the tests' oracle of the packed layout. */
#include <float.h>
#include <math.h>

#include "dispatch.h"

int lffn_codes_valid(int64_t rows, int64_t tables, int64_t tau, const int32_t *code, int64_t ldcode) {
    uint32_t bad = 0;
    for (int64_t r = 0; r < rows; r++) {
        const int32_t *c = code + r * ldcode;
        for (int64_t k = 0; k < tables; k++) bad |= (uint32_t)c[k] >> tau; /* negative codes are huge */
    }
    return bad == 0;
}

void lffn_gather_accum_f32_ref(LFFN_GATHER_ARGS, const float *table, const float *bias, float *out,
                               int64_t ldout) {
    for (int64_t r = 0; r < rows; r++) {
        float *o = out + r * ldout;
        for (int64_t c = 0; c < out_dim; c++) o[c] = 0.0f;
        for (int64_t k = 0; k < tables; k++) {
            const float s = score[r * ldscore + k];
            const float *t = table + ((k << tau) + code[r * ldcode + k]) * out_dim;
            for (int64_t c = 0; c < out_dim; c++) o[c] += s * t[c];
        }
        if (bias)
            for (int64_t c = 0; c < out_dim; c++) o[c] += bias[c];
    }
}

void lffn_gather_accum_bf16_ref(LFFN_GATHER_ARGS, const uint16_t *table, const float *bias, float *out,
                                int64_t ldout) {
    for (int64_t r = 0; r < rows; r++) {
        float *o = out + r * ldout;
        for (int64_t c = 0; c < out_dim; c++) o[c] = 0.0f;
        for (int64_t k = 0; k < tables; k++) {
            const float s = score[r * ldscore + k];
            const uint16_t *t = table + ((k << tau) + code[r * ldcode + k]) * out_dim;
            for (int64_t c = 0; c < out_dim; c++) o[c] += s * lffn_bf16_bits_to_f32(t[c]);
        }
        if (bias)
            for (int64_t c = 0; c < out_dim; c++) o[c] += bias[c];
    }
}

void lffn_gather_accum_i8_ref(LFFN_GATHER_ARGS, const int8_t *q, const float *scale, const float *bias, float *out,
                              int64_t ldout) {
    const int64_t chunks = (out_dim + LFFN_PACK_C_I8 - 1) / LFFN_PACK_C_I8;
    for (int64_t r = 0; r < rows; r++) {
        float *o = out + r * ldout;
        for (int64_t c = 0; c < out_dim; c++) o[c] = 0.0f;
        for (int64_t k = 0; k < tables; k++) {
            const int64_t t = (k << tau) + code[r * ldcode + k];
            for (int64_t c = 0; c < out_dim; c++)
                o[c] += (score[r * ldscore + k] * scale[t * chunks + c / LFFN_PACK_C_I8]) * (float)q[t * out_dim + c];
        }
        if (bias)
            for (int64_t c = 0; c < out_dim; c++) o[c] += bias[c];
    }
}

/* ------------------------------------------------------------------------------------ packed tables */

#define PACK_MAX_ELEMS ((int64_t)1 << 40)

static int pack_sizes_ok(int64_t tables, int64_t tau, int64_t out_dim) {
    int64_t elems;
    return tables >= 1 && tau >= 1 && tau <= 16 && out_dim >= 1 && out_dim <= PACK_MAX_ELEMS &&
           tables <= (PACK_MAX_ELEMS >> tau) &&
           !lffn_mul_overflows(tables << tau, out_dim + 64, &elems) && elems <= PACK_MAX_ELEMS;
}

static int dtype_ok(lffn_table_dtype_t d) { return (unsigned)d <= LFFN_TABLE_I8; }
static int64_t pack_cols(lffn_table_dtype_t d) {
    return d == LFFN_TABLE_BF16 ? LFFN_PACK_C_BF16 : d == LFFN_TABLE_I8 ? LFFN_PACK_C_I8 : LFFN_PACK_C_F32;
}
static int64_t elem_bytes(lffn_table_dtype_t d) { return d == LFFN_TABLE_BF16 ? 2 : d == LFFN_TABLE_I8 ? 1 : 4; }

int64_t lffn_tables_pack_size(int64_t tables, int64_t tau, int64_t out_dim, lffn_table_dtype_t table_dtype) {
    if (!dtype_ok(table_dtype) || !pack_sizes_ok(tables, tau, out_dim)) return -1;
    const int64_t C = pack_cols(table_dtype), chunks = (out_dim + C - 1) / C, pieces = chunks * (tables << tau);
    /* int8: the scales, one fp32 per row piece, behind the values (64-byte aligned: C bytes per piece) */
    return pieces * C * elem_bytes(table_dtype) + (table_dtype == LFFN_TABLE_I8 ? pieces * 4 : 0);
}

/* Quantizes one row piece of nc <= 64 values: returns its scale, writes q[j] (natural order). */
static float quantize_piece(const float *x, int64_t nc, int8_t *q) {
    float amax = 0.0f;
    for (int64_t j = 0; j < nc; j++) amax = fmaxf(amax, fabsf(x[j]));
    const float scale = amax / 127.0f;
    for (int64_t j = 0; j < nc; j++) {
        /* a scale that underflowed to 0 (|x| < 128 * 2^-149) keeps every value at 0 */
        const float v = scale > 0.0f ? rintf(x[j] / scale) : 0.0f;
        q[j] = (int8_t)(v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v);
    }
    return scale;
}

static int all_finite(int64_t n, const float *x) {
    uint32_t bad = 0;
    for (int64_t i = 0; i < n; i++) bad |= !isfinite(x[i]);
    return bad == 0;
}

/* Stores one row piece of nc values (natural order, the rest zero) in the packed order. */
static void put_i8(int8_t *dst, const int8_t *src, int64_t nc) {
    for (int64_t j = 0; j < LFFN_PACK_C_I8; j++) dst[lffn_i8_pack_pos(j)] = j < nc ? src[j] : 0;
}
static void put_bf16(uint16_t *dst, const uint16_t *src, int64_t nc) {
    for (int64_t j = 0; j < LFFN_PACK_C_BF16; j++)
        dst[(j & ~(int64_t)31) + lffn_bf16_pack_pos(j & 31)] = j < nc ? src[j] : 0;
}

lffn_status_t lffn_tables_pack_f32(int64_t tables, int64_t tau, int64_t out_dim, const float *table,
                                   lffn_table_dtype_t table_dtype, void *packed) {
    LFFN_CHECK(dtype_ok(table_dtype) && pack_sizes_ok(tables, tau, out_dim));
    LFFN_CHECK(table && packed && ((uintptr_t)packed & 63) == 0);
    const int64_t C = pack_cols(table_dtype), chunks = (out_dim + C - 1) / C, trows = tables << tau;
    if (table_dtype == LFFN_TABLE_I8) LFFN_CHECK(all_finite(trows * out_dim, table));
    int8_t *qv = packed;
    float *qs = (float *)(qv + chunks * trows * C);
    for (int64_t q = 0; q < chunks; q++) {
        const int64_t c0 = q * C, nc = out_dim - c0 < C ? out_dim - c0 : C;
        for (int64_t t = 0; t < trows; t++) {
            const float *src = table + t * out_dim + c0;
            const int64_t piece = q * trows + t, base = piece * C;
            if (table_dtype == LFFN_TABLE_BF16) {
                uint16_t tmp[LFFN_PACK_C_BF16];
                for (int64_t j = 0; j < nc; j++) tmp[j] = lffn_f32_to_bf16_bits(src[j]);
                put_bf16((uint16_t *)packed + base, tmp, nc);
            } else if (table_dtype == LFFN_TABLE_I8) {
                int8_t tmp[LFFN_PACK_C_I8];
                qs[lffn_i8_scale_index(q, t, trows, chunks)] = quantize_piece(src, nc, tmp);
                put_i8(qv + base, tmp, nc);
            } else {
                float *dst = (float *)packed + base;
                for (int64_t j = 0; j < C; j++) dst[j] = j < nc ? src[j] : 0.0f;
            }
        }
    }
    return LFFN_SUCCESS;
}

lffn_status_t lffn_tables_quantize_i8(int64_t tables, int64_t tau, int64_t out_dim, const float *table, int8_t *q,
                                      float *scale) {
    LFFN_CHECK(pack_sizes_ok(tables, tau, out_dim));
    LFFN_CHECK(table && q && scale);
    const int64_t trows = tables << tau, C = LFFN_PACK_C_I8, chunks = (out_dim + C - 1) / C;
    LFFN_CHECK(all_finite(trows * out_dim, table));
    for (int64_t t = 0; t < trows; t++)
        for (int64_t c = 0; c < chunks; c++) {
            const int64_t c0 = c * C, nc = out_dim - c0 < C ? out_dim - c0 : C;
            scale[t * chunks + c] = quantize_piece(table + t * out_dim + c0, nc, q + t * out_dim + c0);
        }
    return LFFN_SUCCESS;
}

lffn_status_t lffn_tables_pack_i8(int64_t tables, int64_t tau, int64_t out_dim, const int8_t *q, const float *scale,
                                  void *packed) {
    LFFN_CHECK(pack_sizes_ok(tables, tau, out_dim));
    LFFN_CHECK(q && scale && packed && ((uintptr_t)packed & 63) == 0);
    const int64_t trows = tables << tau, C = LFFN_PACK_C_I8, chunks = (out_dim + C - 1) / C;
    uint32_t bad = 0; /* scales finite and >= 0 (a NaN fails both comparisons) */
    for (int64_t i = 0; i < trows * chunks; i++) bad |= !(scale[i] >= 0.0f && scale[i] <= FLT_MAX);
    LFFN_CHECK(bad == 0);
    int8_t *qv = packed;
    float *qs = (float *)(qv + chunks * trows * C);
    for (int64_t c = 0; c < chunks; c++) {
        const int64_t c0 = c * C, nc = out_dim - c0 < C ? out_dim - c0 : C;
        for (int64_t t = 0; t < trows; t++) {
            put_i8(qv + (c * trows + t) * C, q + t * out_dim + c0, nc);
            qs[lffn_i8_scale_index(c, t, trows, chunks)] = scale[t * chunks + c];
        }
    }
    return LFFN_SUCCESS;
}

lffn_status_t lffn_tables_pack_bf16(int64_t tables, int64_t tau, int64_t out_dim, const uint16_t *table_bf16,
                                    void *packed) {
    LFFN_CHECK(pack_sizes_ok(tables, tau, out_dim));
    LFFN_CHECK(table_bf16 && packed && ((uintptr_t)packed & 63) == 0);
    const int64_t trows = tables << tau, C = LFFN_PACK_C_BF16, chunks = (out_dim + C - 1) / C;
    for (int64_t c = 0; c < chunks; c++) {
        const int64_t c0 = c * C, nc = out_dim - c0 < C ? out_dim - c0 : C;
        for (int64_t t = 0; t < trows; t++)
            put_bf16((uint16_t *)packed + (c * trows + t) * C, table_bf16 + t * out_dim + c0, nc);
    }
    return LFFN_SUCCESS;
}

/* The references read the packed layout element by element and sum over k in order, like the unpacked ones
 * (int8: each term (score * scale) * q). */
static inline float packed_term(lffn_table_dtype_t d, const void *packed, int64_t trows, int64_t chunks, int64_t t,
                                int64_t c, float s) {
    const int64_t C = pack_cols(d), q = c / C, j = c % C, base = (q * trows + t) * C;
    if (d == LFFN_TABLE_BF16)
        return s * lffn_bf16_bits_to_f32(((const uint16_t *)packed)[base + (j & ~(int64_t)31) + lffn_bf16_pack_pos(j & 31)]);
    if (d == LFFN_TABLE_I8) {
        const float scale = ((const float *)((const int8_t *)packed + chunks * trows * C))[lffn_i8_scale_index(q, t, trows, chunks)];
        return (s * scale) * (float)((const int8_t *)packed)[base + lffn_i8_pack_pos(j)];
    }
    return s * ((const float *)packed)[base + j];
}

static void gather_packed_ref(lffn_table_dtype_t d, LFFN_PGATHER_ARGS) {
    (void)obuf;
    const int64_t trows = tables << tau, chunks = (out_dim + pack_cols(d) - 1) / pack_cols(d);
    for (int64_t r = 0; r < rows; r++) {
        float *o = out + r * ldout;
        for (int64_t c = 0; c < out_dim; c++) {
            float acc = 0.0f;
            for (int64_t k = 0; k < tables; k++) {
                const int64_t t = (k << tau) + code[r * code_rs + k * code_ks];
                acc += packed_term(d, packed, trows, chunks, t, c, score[r * score_rs + k * score_ks]);
            }
            o[c] = bias ? acc + bias[c] : acc;
        }
    }
}
#define PACKED_REF(NAME, D)                                                                                  \
    void NAME(LFFN_PGATHER_ARGS) {                                                                           \
        gather_packed_ref(D, rows, tables, tau, out_dim, code, code_rs, code_ks, score, score_rs, score_ks,  \
                          packed, bias, out, ldout, obuf);                                                   \
    }
PACKED_REF(lffn_gather_packed_f32_ref, LFFN_TABLE_F32)
PACKED_REF(lffn_gather_packed_bf16_ref, LFFN_TABLE_BF16)
PACKED_REF(lffn_gather_packed_i8_ref, LFFN_TABLE_I8)

lffn_status_t lffn_gather_accum_packed(int64_t rows, int64_t tables, int64_t tau, int64_t out_dim,
                                       const int32_t *code, int64_t ldcode, const float *score, int64_t ldscore,
                                       const void *packed, lffn_table_dtype_t table_dtype, const float *bias, float *out,
                                       int64_t ldout) {
    LFFN_CHECK(rows >= 0 && dtype_ok(table_dtype) && pack_sizes_ok(tables, tau, out_dim));
    LFFN_CHECK(ldcode >= tables && ldscore >= tables && ldout >= out_dim);
    if (rows == 0) return LFFN_SUCCESS;
    LFFN_CHECK(code && score && packed && out && ((uintptr_t)packed & 63) == 0);
    LFFN_CHECK(lffn_codes_valid(rows, tables, tau, code, ldcode));
    lffn_kernels()->gather_packed[table_dtype](rows, tables, tau, out_dim, code, ldcode, 1, score, ldscore, 1, packed,
                                             bias, out, ldout, NULL);
    return LFFN_SUCCESS;
}
