/* lffn_reduce_sum_f32: every ISA path against a double-precision sum, with tails. */
#include "test_util.h"

int main(void) {
    const int64_t sizes[] = {0, 1, 15, 16, 17, 127, 128, 129, 1000, 100003};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int64_t n = sizes[s];
        test_seed(9 + s);
        float *x = test_random(n + 1, 1.0f);
        double want = 0, mag = 0;
        for (int64_t i = 0; i < n; i++) {
            want += x[i];
            mag += x[i] < 0 ? -x[i] : x[i];
        }
        TEST_FOR_EACH_ISA(isa) {
            float got = -1;
            TEST_EXPECT(lffn_reduce_sum_f32(n, x, &got) == LFFN_SUCCESS, "status");
            TEST_EXPECT(fabs(got - want) <= 1e-6 * (mag + 1), "%s n %ld: %g vs %g", test_isa_name(isa), (long)n, got, want);
        }
        free(x);
    }
    float out;
    TEST_EXPECT(lffn_reduce_sum_f32(-1, NULL, &out) == LFFN_INVALID_ARGUMENTS, "negative n");
    TEST_EXPECT(lffn_reduce_sum_f32(4, NULL, &out) == LFFN_INVALID_ARGUMENTS, "NULL x");
    TEST_EXPECT(lffn_reduce_sum_f32(4, &out, NULL) == LFFN_INVALID_ARGUMENTS, "NULL sum");
    return test_finish("test-reduce");
}
