/* Weighted gather-accumulate (SPEC.md step 4) over packed tables: packing, entry point, checks and the portable
 * references.
 *   out[r, :] = sum_k score[r, k] * table[k * 2^tau + code[r, k], :] + bias   (bias may be NULL)
 * Every code is validated before any table row is read. The references sum over k in order, in fp32; the
 * unpacked ones (on the row-major table) are the tests' oracle of the packed layout. */
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

/* ------------------------------------------------------------------------------------ packed tables */

#define PACK_MAX_ELEMS ((int64_t)1 << 40)

static int pack_sizes_ok(int64_t tables, int64_t tau, int64_t out_dim) {
    int64_t elems;
    return tables >= 1 && tau >= 1 && tau <= 16 && out_dim >= 1 && out_dim <= PACK_MAX_ELEMS &&
           tables <= (PACK_MAX_ELEMS >> tau) &&
           !lffn_mul_overflows(tables << tau, out_dim + 64, &elems) && elems <= PACK_MAX_ELEMS;
}

static int64_t pack_cols(int32_t bf16) { return bf16 ? LFFN_PACK_C_BF16 : LFFN_PACK_C_F32; }

int64_t lffn_tables_pack_size(int64_t tables, int64_t tau, int64_t out_dim, int32_t bf16) {
    if (!pack_sizes_ok(tables, tau, out_dim)) return -1;
    const int64_t C = pack_cols(bf16), chunks = (out_dim + C - 1) / C;
    return chunks * (tables << tau) * C * (bf16 ? 2 : 4);
}

lffn_status_t lffn_tables_pack_f32(int64_t tables, int64_t tau, int64_t out_dim, const float *table, int32_t bf16,
                                   void *packed) {
    LFFN_CHECK(pack_sizes_ok(tables, tau, out_dim));
    LFFN_CHECK(table && packed && ((uintptr_t)packed & 63) == 0);
    const int64_t C = pack_cols(bf16), chunks = (out_dim + C - 1) / C, trows = tables << tau;
    for (int64_t q = 0; q < chunks; q++) {
        const int64_t c0 = q * C, nc = out_dim - c0 < C ? out_dim - c0 : C;
        for (int64_t t = 0; t < trows; t++) {
            const float *src = table + t * out_dim + c0;
            const int64_t base = (q * trows + t) * C;
            if (bf16) {
                uint16_t *dst = (uint16_t *)packed + base;
                for (int64_t j = 0; j < C; j++)
                    dst[(j & ~(int64_t)31) + lffn_bf16_pack_pos(j & 31)] = j < nc ? lffn_f32_to_bf16_bits(src[j]) : 0;
            } else {
                float *dst = (float *)packed + base;
                for (int64_t j = 0; j < C; j++) dst[j] = j < nc ? src[j] : 0.0f;
            }
        }
    }
    return LFFN_SUCCESS;
}

/* The references read the packed layout element by element and sum over k in order, like the unpacked ones. */
static inline float packed_elem(int bf16, const void *packed, int64_t trows, int64_t t, int64_t c) {
    const int64_t C = pack_cols(bf16), q = c / C, j = c % C, base = (q * trows + t) * C;
    if (bf16) return lffn_bf16_bits_to_f32(((const uint16_t *)packed)[base + (j & ~(int64_t)31) + lffn_bf16_pack_pos(j & 31)]);
    return ((const float *)packed)[base + j];
}

static void gather_packed_ref(int bf16, LFFN_PGATHER_ARGS) {
    (void)obuf;
    const int64_t trows = tables << tau;
    for (int64_t r = 0; r < rows; r++) {
        float *o = out + r * ldout;
        for (int64_t c = 0; c < out_dim; c++) {
            float acc = 0.0f;
            for (int64_t k = 0; k < tables; k++) {
                const int64_t t = (k << tau) + code[r * code_rs + k * code_ks];
                acc += score[r * score_rs + k * score_ks] * packed_elem(bf16, packed, trows, t, c);
            }
            o[c] = bias ? acc + bias[c] : acc;
        }
    }
}
void lffn_gather_packed_f32_ref(LFFN_PGATHER_ARGS) {
    (void)obuf;
    gather_packed_ref(0, rows, tables, tau, out_dim, code, code_rs, code_ks, score, score_rs, score_ks, packed, bias,
                      out, ldout, NULL);
}
void lffn_gather_packed_bf16_ref(LFFN_PGATHER_ARGS) {
    (void)obuf;
    gather_packed_ref(1, rows, tables, tau, out_dim, code, code_rs, code_ks, score, score_rs, score_ks, packed, bias,
                      out, ldout, NULL);
}

lffn_status_t lffn_gather_accum_packed(int64_t rows, int64_t tables, int64_t tau, int64_t out_dim,
                                       const int32_t *code, int64_t ldcode, const float *score, int64_t ldscore,
                                       const void *packed, int32_t bf16, const float *bias, float *out,
                                       int64_t ldout) {
    LFFN_CHECK(rows >= 0 && pack_sizes_ok(tables, tau, out_dim));
    LFFN_CHECK(ldcode >= tables && ldscore >= tables && ldout >= out_dim);
    if (rows == 0) return LFFN_SUCCESS;
    LFFN_CHECK(code && score && packed && out && ((uintptr_t)packed & 63) == 0);
    LFFN_CHECK(lffn_codes_valid(rows, tables, tau, code, ldcode));
    lffn_kernels()->gather_packed[bf16 != 0](rows, tables, tau, out_dim, code, ldcode, 1, score, ldscore, 1, packed,
                                             bias, out, ldout, NULL);
    return LFFN_SUCCESS;
}
