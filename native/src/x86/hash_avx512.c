/* Hash code and score, AVX-512: 16 tables of a row per vector. Value j of the 16 groups is one strided
 * gather (stride tau floats); code bits come from an ordered > 0 compare (false for NaN, +0 and -0);
 * exp(-2|z|) is a Cephes-style exp (Cody-Waite reduction, degree-6 polynomial, scalef), relative error
 * ~2 ulp, and underflows to 0 below -87 where 1 + exp(.) == 1 in fp32 anyway. */
#include <immintrin.h>

#include "../lookup_internal.h"

static inline __m512 exp_neg(__m512 x) { /* x <= 0 */
    x = _mm512_max_ps(x, _mm512_set1_ps(-88.0f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500E-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894E-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459E-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201E-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

void lffn_hash_code_score_f32_avx512(int64_t rows, int64_t tables, int64_t tau, const float *z, int64_t ldz,
                                     int32_t *code, int64_t ldcode, float *score, int64_t ldscore) {
    const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32((int)tau));
    const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f), m2 = _mm512_set1_ps(-2.0f);
    const __m512i ione = _mm512_set1_epi32(1);
    for (int64_t r = 0; r < rows; r++) {
        const float *zr = z + r * ldz;
        for (int64_t k0 = 0; k0 < tables; k0 += 16) {
            const __mmask16 m = tables - k0 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (tables - k0)) - 1u);
            const float *base = zr + k0 * tau;
            __m512 sum = zero, prod = one;
            __m512i c = _mm512_setzero_si512();
            for (int64_t j = 0; j < tau; j++) {
                const __m512 v = _mm512_mask_i32gather_ps(zero, m, idx, base + j, 4);
                const __m512 a = _mm512_abs_ps(v);
                sum = _mm512_add_ps(sum, a);
                prod = _mm512_mul_ps(prod, _mm512_add_ps(one, exp_neg(_mm512_mul_ps(m2, a))));
                c = _mm512_slli_epi32(c, 1);
                c = _mm512_mask_or_epi32(c, _mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ), c, ione);
            }
            _mm512_mask_storeu_epi32(code + r * ldcode + k0, m, c);
            _mm512_mask_storeu_ps(score + r * ldscore + k0, m, _mm512_div_ps(sum, prod));
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
                prod = _mm512_mul_ps(prod, _mm512_add_ps(one, exp_neg(_mm512_mul_ps(m2, a))));
                c = _mm512_slli_epi32(c, 1);
                c = _mm512_mask_or_epi32(c, _mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ), c, ione);
            }
            _mm512_store_si512((void *)(code + k * ldk + h), c);
            _mm512_store_ps(score + k * ldk + h, _mm512_div_ps(sum, prod));
        }
}
