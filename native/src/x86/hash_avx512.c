/* Hash code and score, AVX-512: blocks of 16 rows x 16 tables transposed so one lane is one row (see
 * lffn_hash_code_score_f32_avx512); code bits come from an ordered > 0 compare (false for NaN, +0 and -0);
 * exp(-2|z|) is a Cephes-style exp (Cody-Waite reduction, degree-6 polynomial, scalef), relative error
 * ~2 ulp, and underflows to 0 below -87 where 1 + exp(.) == 1 in fp32 anyway. */
#include <immintrin.h>

#include "../lookup_internal.h"
#include "simd_avx512.h"

static inline __mmask16 first_n(int64_t n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u); }

/* code and score of one table from its tau feature vectors (one lane per row) */
static inline __attribute__((always_inline)) void table_code_score(int64_t tau, const float *f, __m512 *code,
                                                                   __m512 *score) {
    const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f), m2 = _mm512_set1_ps(-2.0f);
    const __m512i ione = _mm512_set1_epi32(1);
    __m512 sum = zero, prod = one;
    __m512i c = _mm512_setzero_si512();
    for (int64_t j = 0; j < tau; j++) {
        const __m512 v = _mm512_load_ps(f + j * 16);
        const __m512 a = _mm512_abs_ps(v);
        sum = _mm512_add_ps(sum, a);
        prod = _mm512_mul_ps(prod, _mm512_add_ps(one, lffn_exp_avx512(_mm512_mul_ps(m2, a))));
        c = _mm512_slli_epi32(c, 1);
        c = _mm512_mask_or_epi32(c, _mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ), c, ione);
    }
    *code = _mm512_castsi512_ps(c);
    *score = _mm512_div_ps(sum, prod);
}

/* Blocks of 16 rows x 16 tables: the 16 * tau z values of the block are loaded row by row (masked at the
 * ends) and transposed 16x16 at a time into a feature-major scratch, so each table's code and score are
 * vertical vector ops over its tau features (no gathers); the 16x16 results are transposed back. */
void lffn_hash_code_score_f32_avx512(int64_t rows, int64_t tables, int64_t tau, const float *z, int64_t ldz,
                                     int32_t *code, int64_t ldcode, float *score, int64_t ldscore) {
    float sc[16 * 16 * 16] __attribute__((aligned(64))); /* [16 tables * tau features][16 rows], tau <= 16 */
    for (int64_t r0 = 0; r0 < rows; r0 += 16) {
        const int64_t nr = rows - r0 < 16 ? rows - r0 : 16;
        for (int64_t k0 = 0; k0 < tables; k0 += 16) {
            const int64_t nk = tables - k0 < 16 ? tables - k0 : 16, nf = nk * tau;
            const float *zb = z + r0 * ldz + k0 * tau;
            for (int64_t fb = 0; fb < nf; fb += 16) {
                const __mmask16 fm = first_n(nf - fb);
                __m512 v[16];
                for (int i = 0; i < 16; i++)
                    v[i] = i < nr ? _mm512_maskz_loadu_ps(fm, zb + i * ldz + fb) : _mm512_setzero_ps();
                lffn_transpose16_avx512(v);
                for (int j = 0; j < 16; j++) _mm512_store_ps(sc + (fb + j) * 16, v[j]);
            }
            __m512 cv[16], sv[16];
            for (int t = 0; t < 16; t++) {
                if (t < nk) table_code_score(tau, sc + t * tau * 16, &cv[t], &sv[t]);
                else cv[t] = sv[t] = _mm512_setzero_ps();
            }
            lffn_transpose16_avx512(cv);
            lffn_transpose16_avx512(sv);
            const __mmask16 km = first_n(nk);
            for (int i = 0; i < nr; i++) {
                _mm512_mask_storeu_ps(code + (r0 + i) * ldcode + k0, km, cv[i]);
                _mm512_mask_storeu_ps(score + (r0 + i) * ldscore + k0, km, sv[i]);
            }
        }
    }
}

/* The fused layer's hash step on a feature-major tile Z ([tables * tau][LFFN_BH4_TILE], one lane per row):
 * value j of table k for 16 rows is one aligned load, no gathers. Writes all LFFN_BH4_TILE lanes:
 * code[k * ldk + t], score[k * ldk + t] for t < LFFN_BH4_TILE. */
void lffn_hash_tile_f32_avx512(int64_t tables, int64_t tau, const float *Z, int32_t *code, float *score, int64_t ldk) {
    const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f), m2 = _mm512_set1_ps(-2.0f);
    const __m512i ione = _mm512_set1_epi32(1);
    for (int64_t k = 0; k < tables; k++)
        for (int h = 0; h < LFFN_BH4_TILE; h += 16) {
            const float *zk = Z + k * tau * LFFN_BH4_TILE + h;
            __m512 sum = zero, prod = one;
            __m512i c = _mm512_setzero_si512();
            for (int64_t j = 0; j < tau; j++) {
                const __m512 v = _mm512_load_ps(zk + j * LFFN_BH4_TILE);
                const __m512 a = _mm512_abs_ps(v);
                sum = _mm512_add_ps(sum, a);
                prod = _mm512_mul_ps(prod, _mm512_add_ps(one, lffn_exp_avx512(_mm512_mul_ps(m2, a))));
                c = _mm512_slli_epi32(c, 1);
                c = _mm512_mask_or_epi32(c, _mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ), c, ione);
            }
            _mm512_store_si512((void *)(code + k * ldk + h), c);
            _mm512_store_ps(score + k * ldk + h, _mm512_div_ps(sum, prod));
        }
}
