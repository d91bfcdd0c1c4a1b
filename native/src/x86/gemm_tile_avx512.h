/* What the AVX-512 GEMM macro-kernels share (fp32 weights: gemm_avx512.c; bf16 weights: gemm_bf16_avx512.c and
 * gemm_bf16_avx512bf16.c): the column masks of a 32-column panel, a register tile's epilogue and the switch that
 * instantiates a micro-kernel per sliver height. Header-only and always inlined, so each kernel compiles as if
 * it were written out in its own file. */
#ifndef LFFN_GEMM_TILE_AVX512_H
#define LFFN_GEMM_TILE_AVX512_H

#include <immintrin.h>
#include <stdint.h>

#include "simd_avx512.h"

/* The tiles' height: 28 accumulators + 2 B vectors + 1 broadcast of the 32 zmm registers. */
#define LFFN_GEMM_MR_AVX512 14

/* Lanes of the panel's two 16-column halves that hold columns < nr. */
static inline void lffn_panel_masks_avx512(int64_t nr, __mmask16 *m0, __mmask16 *m1) {
    *m0 = nr >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nr) - 1u);
    *m1 = nr >= 32 ? (__mmask16)0xFFFF : nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1u);
}

/* C[0:mr, 0:32] = acc + (first ? bias : C), then GELU when asked, stored under the masks m0 | m1 << 16. */
static inline __attribute__((always_inline)) void lffn_tile_store_avx512(const int mr, const __m512 *acc0,
                                                                         const __m512 *acc1, float *c, int64_t ldc,
                                                                         __mmask16 m0, __mmask16 m1,
                                                                         const float *bias, int first, int gelu) {
    const __m512 bias0 = first && bias ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();
    const __m512 bias1 = first && bias ? _mm512_maskz_loadu_ps(m1, bias + 16) : _mm512_setzero_ps();
#pragma GCC unroll 16
    for (int r = 0; r < LFFN_GEMM_MR_AVX512; r++) {
        if (r < mr) {
            float *cr = c + r * ldc;
            __m512 v0, v1;
            if (first) {
                v0 = _mm512_add_ps(acc0[r], bias0);
                v1 = _mm512_add_ps(acc1[r], bias1);
            } else {
                v0 = _mm512_add_ps(acc0[r], _mm512_maskz_loadu_ps(m0, cr));
                v1 = _mm512_add_ps(acc1[r], _mm512_maskz_loadu_ps(m1, cr + 16));
            }
            if (gelu) {
                v0 = lffn_gelu_avx512(v0);
                v1 = lffn_gelu_avx512(v1);
            }
            _mm512_mask_storeu_ps(cr, m0, v0);
            _mm512_mask_storeu_ps(cr + 16, m1, v1);
        }
    }
}

/* CALL(R) with the sliver height mr (1..14) as a compile-time constant. */
#define LFFN_GEMM_SWITCH_MR_AVX512(mr, CALL)                                                                       \
    switch (mr) {                                                                                            \
    case 14: CALL(14); break;                                                                                \
    case 13: CALL(13); break;                                                                                \
    case 12: CALL(12); break;                                                                                \
    case 11: CALL(11); break;                                                                                \
    case 10: CALL(10); break;                                                                                \
    case 9: CALL(9); break;                                                                                  \
    case 8: CALL(8); break;                                                                                  \
    case 7: CALL(7); break;                                                                                  \
    case 6: CALL(6); break;                                                                                  \
    case 5: CALL(5); break;                                                                                  \
    case 4: CALL(4); break;                                                                                  \
    case 3: CALL(3); break;                                                                                  \
    case 2: CALL(2); break;                                                                                  \
    default: CALL(1); break;                                                                                 \
    }

#endif
