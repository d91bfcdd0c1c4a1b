/* lffn_layernorm_f32: the reference against LayerNorm in double, every vector path against the reference, with
 * column tails and strides. */
#include <math.h>

#include "test_util.h"

#define LFFN_MAX_LAYERNORM_F32_NMSE 1e-12

int main(void) {
    const int64_t shapes[][2] = {{1, 1}, {3, 7}, {5, 16}, {7, 17}, {33, 200}, {64, 384}, {2, 1000}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t rows = shapes[s][0], cols = shapes[s][1], ld = cols + 3;
        test_seed(42 + s);
        float *x = test_random(rows * ld, 3.0f), *g = test_random(cols, 1.0f), *b = test_random(cols, 1.0f);
        for (int64_t i = 0; i < rows * ld; i++) x[i] += 0.5f; /* a non-zero mean */
        float *want = test_alloc(rows * ld * 4), *got = test_alloc(rows * ld * 4);
        lffn_layernorm_f32_ref(rows, cols, x, ld, g, b, 1e-5f, want, ld);
        for (int64_t r = 0; r < rows; r++) { /* the reference against LayerNorm in double */
            double mean = 0, var = 0, num = 0, den = 0;
            for (int64_t c = 0; c < cols; c++) mean += x[r * ld + c];
            mean /= (double)cols;
            for (int64_t c = 0; c < cols; c++) var += (x[r * ld + c] - mean) * (x[r * ld + c] - mean);
            var /= (double)cols;
            for (int64_t c = 0; c < cols; c++) {
                const double y = (x[r * ld + c] - mean) / sqrt(var + 1e-5) * g[c] + b[c];
                num += (want[r * ld + c] - y) * (want[r * ld + c] - y);
                den += y * y;
            }
            TEST_EXPECT(num <= LFFN_MAX_LAYERNORM_F32_NMSE * den, "reference rows %ld cols %ld row %ld vs double: nmse %g",
                        (long)rows, (long)cols, (long)r, num / den);
        }
        TEST_FOR_EACH_VECTOR_ISA(isa) {
            TEST_EXPECT(lffn_layernorm_f32(rows, cols, x, ld, g, b, 1e-5f, got, ld) == LFFN_SUCCESS, "status");
            for (int64_t r = 0; r < rows; r++) {
                double e = test_nmse(got + r * ld, want + r * ld, cols);
                TEST_EXPECT(e <= LFFN_MAX_LAYERNORM_F32_NMSE, "%s rows %ld cols %ld row %ld: nmse %g",
                            test_isa_name(isa), (long)rows, (long)cols, (long)r, e);
            }
        }
        free(x); free(g); free(b); free(want); free(got);
    }
    TEST_EXPECT(lffn_layernorm_f32(1, 0, NULL, 0, NULL, NULL, 1e-5f, NULL, 0) == LFFN_INVALID_ARGUMENTS,
                "cols 0 rejected");
    TEST_EXPECT(lffn_layernorm_f32(2, 4, NULL, 4, NULL, NULL, 1e-5f, NULL, 4) == LFFN_INVALID_ARGUMENTS,
                "NULL rejected");
    return test_finish("test-layernorm");
}
