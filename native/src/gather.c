/* Weighted gather-accumulate (SPEC.md step 4): entry points, checks, dispatch and the portable references.
 *   out[r, :] = sum_k score[r, k] * table[k * 2^tau + code[r, k], :] + bias   (bias may be NULL)
 * Every code is validated before any table row is read. The references sum over k in order, in fp32. */
#include "lookup_internal.h"

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

#define GATHER_CHECKS()                                                                                      \
    do {                                                                                                     \
        LFFN_CHECK(rows >= 0 && tables >= 1 && tau >= 1 && tau <= 16 && out_dim >= 1);                       \
        LFFN_CHECK(tables <= (((int64_t)1 << 40) >> tau) && out_dim <= ((int64_t)1 << 40) / (tables << tau)); \
        LFFN_CHECK(ldcode >= tables && ldscore >= tables && ldout >= out_dim);                               \
        if (rows == 0) return LFFN_SUCCESS;                                                                  \
        LFFN_CHECK(code && score && table && out);                                                           \
        LFFN_CHECK(lffn_codes_valid(rows, tables, tau, code, ldcode));                                       \
    } while (0)

lffn_status_t lffn_gather_accum_f32(int64_t rows, int64_t tables, int64_t tau, int64_t out_dim,
                                    const int32_t *code, int64_t ldcode, const float *score, int64_t ldscore,
                                    const float *table, const float *bias, float *out, int64_t ldout) {
    GATHER_CHECKS();
    switch (lffn_isa_now()) {
    case LFFN_ISA_AVX512_BF16:
    case LFFN_ISA_AVX512:
        lffn_gather_accum_f32_avx512(rows, tables, tau, out_dim, code, ldcode, score, ldscore, table, bias, out,
                                     ldout);
        break;
    case LFFN_ISA_AVX2:
        lffn_gather_accum_f32_avx2(rows, tables, tau, out_dim, code, ldcode, score, ldscore, table, bias, out,
                                   ldout);
        break;
    default:
        lffn_gather_accum_f32_ref(rows, tables, tau, out_dim, code, ldcode, score, ldscore, table, bias, out,
                                  ldout);
        break;
    }
    return LFFN_SUCCESS;
}

lffn_status_t lffn_gather_accum_bf16(int64_t rows, int64_t tables, int64_t tau, int64_t out_dim,
                                     const int32_t *code, int64_t ldcode, const float *score, int64_t ldscore,
                                     const uint16_t *table, const float *bias, float *out, int64_t ldout) {
    GATHER_CHECKS();
    switch (lffn_isa_now()) {
    case LFFN_ISA_AVX512_BF16:
    case LFFN_ISA_AVX512:
        lffn_gather_accum_bf16_avx512(rows, tables, tau, out_dim, code, ldcode, score, ldscore, table, bias, out,
                                      ldout);
        break;
    case LFFN_ISA_AVX2:
        lffn_gather_accum_bf16_avx2(rows, tables, tau, out_dim, code, ldcode, score, ldscore, table, bias, out,
                                    ldout);
        break;
    default:
        lffn_gather_accum_bf16_ref(rows, tables, tau, out_dim, code, ldcode, score, ldscore, table, bias, out,
                                   ldout);
        break;
    }
    return LFFN_SUCCESS;
}
