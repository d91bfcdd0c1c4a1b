/* Vector helpers shared by the AVX-512 kernels (include only from files compiled with AVX-512 flags). */
#ifndef LFFN_SIMD_AVX512_H
#define LFFN_SIMD_AVX512_H

#include <immintrin.h>

/* exp, erf, GELU (simd_math.h) on 16 lanes: lffn_exp_avx512, lffn_erf_avx512, lffn_gelu_avx512. exp clamps x at
 * -104 (which also turns -inf into 0) and applies 2^n with scalef (flushes to 0 far below the normal range). */
#define V __m512
#define VNAME(f) f##_avx512
#define V_SET1 _mm512_set1_ps
#define V_ADD _mm512_add_ps
#define V_SUB _mm512_sub_ps
#define V_MUL _mm512_mul_ps
#define V_MIN _mm512_min_ps
#define V_MAX _mm512_max_ps
#define V_AND _mm512_and_ps
#define V_OR _mm512_or_ps
#define V_ANDNOT _mm512_andnot_ps
#define V_FMADD _mm512_fmadd_ps
#define V_FMSUB _mm512_fmsub_ps
#define V_FNMADD _mm512_fnmadd_ps
#define V_ROUND_NEAREST(v) _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define V_EXP_MIN (-104.0f)
#define V_MUL_POW2(p, n) _mm512_scalef_ps(p, n)
#define V_SELECT_GT(a, b, if_not, if_gt) _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_GT_OQ), if_not, if_gt)
#include "simd_math.h" /* (undefines V and the V_ operations again) */

/* 16x16 transpose of floats in place: on return r[j] lane i holds what was r[i] lane j. */
static inline void lffn_transpose16_avx512(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 16; i += 8)
        for (int j = 0; j < 4; j++) {
            t[i + j] = _mm512_shuffle_f32x4(r[i + j], r[i + j + 4], 0x88);
            t[i + j + 4] = _mm512_shuffle_f32x4(r[i + j], r[i + j + 4], 0xDD);
        }
    for (int j = 0; j < 8; j++) {
        r[j] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0x88);
        r[j + 8] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0xDD);
    }
}

#endif
