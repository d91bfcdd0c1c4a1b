/* Weighted gather-accumulate, AVX2: per row, 32-column chunks held in four ymm accumulators over all
 * tables (bf16 widened by zero-extension and a 16-bit shift); scalar column tail. */
#include <immintrin.h>

#include "../lookup_internal.h"

void lffn_gather_accum_f32_avx2(LFFN_GATHER_ARGS, const float *table, const float *bias, float *out,
                                int64_t ldout) {
    const int64_t main = out_dim & ~(int64_t)31;
    for (int64_t r = 0; r < rows; r++) {
        const int32_t *cr = code + r * ldcode;
        const float *sr = score + r * ldscore;
        float *o = out + r * ldout;
        for (int64_t c0 = 0; c0 < main; c0 += 32) {
            __m256 acc[4];
            for (int v = 0; v < 4; v++) acc[v] = _mm256_setzero_ps();
            for (int64_t k = 0; k < tables; k++) {
                const float *t = table + ((k << tau) + cr[k]) * out_dim + c0;
                const __m256 s = _mm256_set1_ps(sr[k]);
                for (int v = 0; v < 4; v++) acc[v] = _mm256_fmadd_ps(s, _mm256_loadu_ps(t + 8 * v), acc[v]);
            }
            for (int v = 0; v < 4; v++) {
                if (bias) acc[v] = _mm256_add_ps(acc[v], _mm256_loadu_ps(bias + c0 + 8 * v));
                _mm256_storeu_ps(o + c0 + 8 * v, acc[v]);
            }
        }
        for (int64_t c = main; c < out_dim; c++) {
            float acc = 0.0f;
            for (int64_t k = 0; k < tables; k++) acc += sr[k] * table[((k << tau) + cr[k]) * out_dim + c];
            o[c] = bias ? acc + bias[c] : acc;
        }
    }
}

void lffn_gather_accum_bf16_avx2(LFFN_GATHER_ARGS, const uint16_t *table, const float *bias, float *out,
                                 int64_t ldout) {
    const int64_t main = out_dim & ~(int64_t)31;
    for (int64_t r = 0; r < rows; r++) {
        const int32_t *cr = code + r * ldcode;
        const float *sr = score + r * ldscore;
        float *o = out + r * ldout;
        for (int64_t c0 = 0; c0 < main; c0 += 32) {
            __m256 acc[4];
            for (int v = 0; v < 4; v++) acc[v] = _mm256_setzero_ps();
            for (int64_t k = 0; k < tables; k++) {
                const uint16_t *t = table + ((k << tau) + cr[k]) * out_dim + c0;
                const __m256 s = _mm256_set1_ps(sr[k]);
                for (int v = 0; v < 4; v++) {
                    const __m256i x = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(t + 8 * v)));
                    acc[v] = _mm256_fmadd_ps(s, _mm256_castsi256_ps(_mm256_slli_epi32(x, 16)), acc[v]);
                }
            }
            for (int v = 0; v < 4; v++) {
                if (bias) acc[v] = _mm256_add_ps(acc[v], _mm256_loadu_ps(bias + c0 + 8 * v));
                _mm256_storeu_ps(o + c0 + 8 * v, acc[v]);
            }
        }
        for (int64_t c = main; c < out_dim; c++) {
            float acc = 0.0f;
            for (int64_t k = 0; k < tables; k++)
                acc += sr[k] * lffn_bf16_bits_to_f32(table[((k << tau) + cr[k]) * out_dim + c]);
            o[c] = bias ? acc + bias[c] : acc;
        }
    }
}
