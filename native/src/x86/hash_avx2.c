/* Hash code and score, AVX2: 8 tables of a row per vector, strided gathers, the same exp as the AVX-512
 * path (2^n built in the exponent field; the argument is clamped at -87 so 2^n stays normal). */
#include <immintrin.h>

#include "../lookup_internal.h"
#include "simd_avx2.h"

void lffn_hash_code_score_f32_avx2(int64_t rows, int64_t tables, int64_t tau, const float *z, int64_t ldz,
                                   int32_t *code, int64_t ldcode, float *score, int64_t ldscore) {
    const __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)tau));
    const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f), m2 = _mm256_set1_ps(-2.0f);
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    const __m256i ione = _mm256_set1_epi32(1);
    for (int64_t r = 0; r < rows; r++) {
        const float *zr = z + r * ldz;
        for (int64_t k0 = 0; k0 < tables; k0 += 8) {
            const int64_t nk = tables - k0 < 8 ? tables - k0 : 8;
            const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)nk), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
            const float *base = zr + k0 * tau;
            __m256 sum = zero, prod = one;
            __m256i c = _mm256_setzero_si256();
            for (int64_t j = 0; j < tau; j++) {
                const __m256 v = _mm256_mask_i32gather_ps(zero, base + j, idx, _mm256_castsi256_ps(m), 4);
                const __m256 a = _mm256_and_ps(v, absmask);
                sum = _mm256_add_ps(sum, a);
                prod = _mm256_mul_ps(prod, _mm256_add_ps(one, lffn_exp_avx2(_mm256_mul_ps(m2, a))));
                const __m256i bit = _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(v, zero, _CMP_GT_OQ)), ione);
                c = _mm256_or_si256(_mm256_slli_epi32(c, 1), bit);
            }
            const __m256 s = _mm256_div_ps(sum, prod);
            if (nk == 8) {
                _mm256_storeu_si256((__m256i *)(code + r * ldcode + k0), c);
                _mm256_storeu_ps(score + r * ldscore + k0, s);
            } else {
                _mm256_maskstore_epi32(code + r * ldcode + k0, m, c);
                _mm256_maskstore_ps(score + r * ldscore + k0, m, s);
            }
        }
    }
}
