/* Weighted gather-accumulate over packed tables, AVX2: per row and chunk, the C-column output block in ymm
 * accumulators over all tables (bf16 widened by a shift or mask of each 32-bit lane: the pack-time
 * permutation makes lane i of a 16-value load hold columns i and 16 + i of its half). */
#include <immintrin.h>

#include "../lookup_internal.h"

#define CF LFFN_PACK_C_F32
#define CB LFFN_PACK_C_BF16

static inline void store_block(const float *acc, int64_t nc, const float *bias, float *o) {
    for (int64_t c = 0; c < nc; c++) o[c] = bias ? acc[c] + bias[c] : acc[c];
}

void lffn_gather_packed_f32_avx2(LFFN_PGATHER_ARGS) {
    (void)obuf;
    const float *pk = packed;
    const int64_t trows = tables << tau;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c0 = 0; c0 < out_dim; c0 += CF) {
            const int64_t nc = out_dim - c0 < CF ? out_dim - c0 : CF;
            const float *chunk = pk + (c0 / CF) * trows * CF;
            __m256 acc[CF / 8];
            for (int v = 0; v < CF / 8; v++) acc[v] = _mm256_setzero_ps();
            for (int64_t k = 0; k < tables; k++) {
                const float *t = chunk + ((k << tau) + code[r * code_rs + k * code_ks]) * CF;
                const __m256 s = _mm256_set1_ps(score[r * score_rs + k * score_ks]);
                for (int v = 0; v < CF / 8; v++) acc[v] = _mm256_fmadd_ps(s, _mm256_load_ps(t + 8 * v), acc[v]);
            }
            float tmp[CF] __attribute__((aligned(32)));
            for (int v = 0; v < CF / 8; v++) _mm256_store_ps(tmp + 8 * v, acc[v]);
            store_block(tmp, nc, bias ? bias + c0 : NULL, out + r * ldout + c0);
        }
}

void lffn_gather_packed_bf16_avx2(LFFN_PGATHER_ARGS) {
    (void)obuf;
    const uint16_t *pk = packed;
    const int64_t trows = tables << tau;
    const __m256i hi = _mm256_set1_epi32((int)0xFFFF0000u);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c0 = 0; c0 < out_dim; c0 += CB) {
            const int64_t nc = out_dim - c0 < CB ? out_dim - c0 : CB;
            const uint16_t *chunk = pk + (c0 / CB) * trows * CB;
            __m256 acc[CB / 8]; /* per 32-column block b: [4b] cols 0..7, [4b+1] 16..23, [4b+2] 8..15, [4b+3] 24..31 */
            for (int v = 0; v < CB / 8; v++) acc[v] = _mm256_setzero_ps();
            for (int64_t k = 0; k < tables; k++) {
                const uint16_t *t = chunk + ((k << tau) + code[r * code_rs + k * code_ks]) * CB;
                const __m256 s = _mm256_set1_ps(score[r * score_rs + k * score_ks]);
                for (int v = 0; v < CB / 16; v++) {
                    const __m256i x = _mm256_load_si256((const __m256i *)(t + 16 * v));
                    acc[2 * v] = _mm256_fmadd_ps(s, _mm256_castsi256_ps(_mm256_slli_epi32(x, 16)), acc[2 * v]);
                    acc[2 * v + 1] = _mm256_fmadd_ps(s, _mm256_castsi256_ps(_mm256_and_si256(x, hi)), acc[2 * v + 1]);
                }
            }
            float tmp[CB] __attribute__((aligned(32)));
            for (int b = 0; b < CB / 32; b++) {
                _mm256_store_ps(tmp + 32 * b, acc[4 * b]);
                _mm256_store_ps(tmp + 32 * b + 16, acc[4 * b + 1]);
                _mm256_store_ps(tmp + 32 * b + 8, acc[4 * b + 2]);
                _mm256_store_ps(tmp + 32 * b + 24, acc[4 * b + 3]);
            }
            store_block(tmp, nc, bias ? bias + c0 : NULL, out + r * ldout + c0);
        }
}

/* int8: two 32-byte loads per row piece; 32-bit lane i of the first holds columns i, 16+i, 32+i, 48+i (i < 8),
 * of the second the same for i + 8 (pack order): shift the byte to the top, shift it back arithmetically, convert
 * exactly, and fold the piece's scale into the broadcast score. */
void lffn_gather_packed_i8_avx2(LFFN_PGATHER_ARGS) {
    (void)obuf;
    const int8_t *pk = packed;
    const int64_t trows = tables << tau, chunks = (out_dim + LFFN_PACK_C_I8 - 1) / LFFN_PACK_C_I8;
    const float *scales = (const float *)(pk + chunks * trows * LFFN_PACK_C_I8);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c0 = 0, q = 0; c0 < out_dim; c0 += LFFN_PACK_C_I8, q++) {
            const int64_t nc = out_dim - c0 < LFFN_PACK_C_I8 ? out_dim - c0 : LFFN_PACK_C_I8;
            const int8_t *chunk = pk + q * trows * LFFN_PACK_C_I8;
            /* scales of this chunk: sc[t * sw] */
            const float *sc = scales + lffn_i8_scale_index(q, 0, trows, chunks);
            const int64_t sw = lffn_i8_scale_width(q, chunks);
            __m256 acc[4][2]; /* [byte j][half h]: columns 16 j + 8 h .. 16 j + 8 h + 7 */
            for (int j = 0; j < 4; j++) acc[j][0] = acc[j][1] = _mm256_setzero_ps();
            for (int64_t k = 0; k < tables; k++) {
                const int64_t t = (k << tau) + code[r * code_rs + k * code_ks];
                const __m256 s = _mm256_set1_ps(score[r * score_rs + k * score_ks] * sc[t * sw]);
                for (int h = 0; h < 2; h++) {
                    const __m256i x = _mm256_load_si256((const __m256i *)(chunk + t * LFFN_PACK_C_I8 + 32 * h));
                    acc[0][h] = _mm256_fmadd_ps(s, _mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(x, 24), 24)), acc[0][h]);
                    acc[1][h] = _mm256_fmadd_ps(s, _mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(x, 16), 24)), acc[1][h]);
                    acc[2][h] = _mm256_fmadd_ps(s, _mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(x, 8), 24)), acc[2][h]);
                    acc[3][h] = _mm256_fmadd_ps(s, _mm256_cvtepi32_ps(_mm256_srai_epi32(x, 24)), acc[3][h]);
                }
            }
            float tmp[LFFN_PACK_C_I8] __attribute__((aligned(32)));
            for (int j = 0; j < 4; j++)
                for (int h = 0; h < 2; h++) _mm256_store_ps(tmp + 16 * j + 8 * h, acc[j][h]);
            store_block(tmp, nc, bias ? bias + c0 : NULL, out + r * ldout + c0);
        }
}
