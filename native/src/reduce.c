/* Sum of a vector: a streaming read, used to measure read bandwidth. */
#include "dispatch.h"

float lffn_reduce_sum_f32_ref(int64_t n, const float *x) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += x[i];
    return (float)s;
}

lffn_status_t lffn_reduce_sum_f32(int64_t n, const float *x, float *sum) {
    LFFN_CHECK(n >= 0 && sum && (n == 0 || x));
    *sum = lffn_kernels()->reduce_sum_f32(n, x);
    return LFFN_SUCCESS;
}
