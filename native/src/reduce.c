/* Sum of a vector: a streaming read, used to measure read bandwidth. */
#include "lffn_internal.h"

LFFN_HIDDEN float lffn_reduce_sum_f32_avx512(int64_t n, const float *x);

static float reduce_sum_f32_ref(int64_t n, const float *x) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += x[i];
    return (float)s;
}

lffn_status_t lffn_reduce_sum_f32(int64_t n, const float *x, float *sum) {
    LFFN_CHECK(n >= 0 && sum && (n == 0 || x));
    *sum = lffn_isa_now() >= LFFN_ISA_AVX512 ? lffn_reduce_sum_f32_avx512(n, x) : reduce_sum_f32_ref(n, x);
    return LFFN_SUCCESS;
}
