/* What the AVX2 GEMM macro-kernels share (fp32 weights: gemm_avx2.c; bf16 weights: gemm_bf16_avx2.c): lane
 * masks, a 6 x 16 register tile's epilogue and the switch that instantiates a micro-kernel per sliver height.
 * Header-only and always inlined, so each kernel compiles as if it were written out in its own file. */
#ifndef LFFN_GEMM_TILE_AVX2_H
#define LFFN_GEMM_TILE_AVX2_H

#include <immintrin.h>
#include <stdint.h>

#include "simd_avx2.h"

/* The tiles' height: 12 accumulators + 2 B vectors + 1 broadcast of the 16 ymm registers. */
#define LFFN_GEMM_MR_AVX2 6

/* Lanes < count set (count clamped to 0..8). */
static inline __m256i lffn_lane_mask_avx2(int64_t count) {
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const int cnt = count < 0 ? 0 : count > 8 ? 8 : (int)count;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(cnt), iota);
}

/* C[0:mr, 0:16] = acc + (first ? bias : C), then GELU when asked, for the nr (1..16) valid columns. */
static inline __attribute__((always_inline)) void lffn_tile_store_avx2(const int mr, const __m256 *acc0,
                                                                       const __m256 *acc1, float *c, int64_t ldc,
                                                                       int64_t nr, const float *bias, int first,
                                                                       int gelu) {
    const __m256i m0 = lffn_lane_mask_avx2(nr), m1 = lffn_lane_mask_avx2(nr - 8);
    const __m256 bias0 = first && bias ? _mm256_maskload_ps(bias, m0) : _mm256_setzero_ps();
    const __m256 bias1 = first && bias ? _mm256_maskload_ps(bias + 8, m1) : _mm256_setzero_ps();
#pragma GCC unroll 8
    for (int r = 0; r < LFFN_GEMM_MR_AVX2; r++) {
        if (r < mr) {
            float *cr = c + r * ldc;
            __m256 v0, v1;
            if (first) {
                v0 = _mm256_add_ps(acc0[r], bias0);
                v1 = _mm256_add_ps(acc1[r], bias1);
            } else {
                v0 = _mm256_add_ps(acc0[r], _mm256_maskload_ps(cr, m0));
                v1 = _mm256_add_ps(acc1[r], _mm256_maskload_ps(cr + 8, m1));
            }
            if (gelu) {
                v0 = lffn_gelu_avx2(v0);
                v1 = lffn_gelu_avx2(v1);
            }
            _mm256_maskstore_ps(cr, m0, v0);
            _mm256_maskstore_ps(cr + 8, m1, v1);
        }
    }
}

/* CALL(R) with the sliver height mr (1..6) as a compile-time constant. */
#define LFFN_GEMM_SWITCH_MR_AVX2(mr, CALL)                                                                         \
    switch (mr) {                                                                                            \
    case 6: CALL(6); break;                                                                                  \
    case 5: CALL(5); break;                                                                                  \
    case 4: CALL(4); break;                                                                                  \
    case 3: CALL(3); break;                                                                                  \
    case 2: CALL(2); break;                                                                                  \
    default: CALL(1); break;                                                                                 \
    }

#endif
