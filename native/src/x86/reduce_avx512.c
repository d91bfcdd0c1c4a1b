/* Sum of a vector, AVX-512: 8 independent accumulators so that loads, not the adds' latency, set the pace. */
#include <immintrin.h>

#include "../lffn_internal.h"

float lffn_reduce_sum_f32_avx512(int64_t n, const float *x) {
    __m512 acc[8];
    for (int j = 0; j < 8; j++) acc[j] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 128 <= n; i += 128)
        for (int j = 0; j < 8; j++) acc[j] = _mm512_add_ps(acc[j], _mm512_loadu_ps(x + i + 16 * j));
    for (; i + 16 <= n; i += 16) acc[0] = _mm512_add_ps(acc[0], _mm512_loadu_ps(x + i));
    if (i < n) acc[1] = _mm512_add_ps(acc[1], _mm512_maskz_loadu_ps((__mmask16)((1u << (n - i)) - 1u), x + i));
    for (int j = 1; j < 8; j++) acc[0] = _mm512_add_ps(acc[0], acc[j]);
    return _mm512_reduce_add_ps(acc[0]);
}
