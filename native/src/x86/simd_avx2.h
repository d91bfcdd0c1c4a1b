/* Vector helpers shared by the AVX2 kernels (include only from files compiled with AVX2/FMA flags). */
#ifndef LFFN_SIMD_AVX2_H
#define LFFN_SIMD_AVX2_H

#include <immintrin.h>

/* exp, erf, GELU (simd_math.h) on 8 lanes: lffn_exp_avx2, lffn_erf_avx2, lffn_gelu_avx2. exp clamps x at -87 so
 * that 2^n, built in the exponent bits, stays normal (exp(-87) ~ 1.6e-38; -inf gives that too). */
#define V __m256
#define VNAME(f) f##_avx2
#define V_SET1 _mm256_set1_ps
#define V_ADD _mm256_add_ps
#define V_SUB _mm256_sub_ps
#define V_MUL _mm256_mul_ps
#define V_MIN _mm256_min_ps
#define V_MAX _mm256_max_ps
#define V_AND _mm256_and_ps
#define V_OR _mm256_or_ps
#define V_ANDNOT _mm256_andnot_ps
#define V_FMADD _mm256_fmadd_ps
#define V_FMSUB _mm256_fmsub_ps
#define V_FNMADD _mm256_fnmadd_ps
#define V_ROUND_NEAREST(v) _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define V_EXP_MIN (-87.0f)
#define V_MUL_POW2(p, n)                                                                                     \
    _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(                                                  \
                         _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23)))
#define V_SELECT_GT(a, b, if_not, if_gt) _mm256_blendv_ps(if_not, if_gt, _mm256_cmp_ps(a, b, _CMP_GT_OQ))
#include "simd_math.h" /* (undefines V and the V_ operations again) */

static inline float lffn_hsum_avx2(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float lffn_hmax_avx2(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

#endif
