/* lffn_add_layernorm_f32: the reference against LayerNorm(a + b) in double, every vector path against the
 * reference, with column tails, strides and in place (y = a, y = b). */
#include <math.h>
#include <string.h>

#include "test_util.h"

#define LFFN_MAX_ADD_LAYERNORM_F32_NMSE 1e-12

int main(void) {
    const int64_t shapes[][2] = {{1, 1}, {3, 7}, {5, 16}, {7, 17}, {27, 384}, {33, 200}, {2, 1000}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t rows = shapes[s][0], cols = shapes[s][1], lda = cols + 3, ldb = cols + 5, ldy = cols + 1;
        test_seed(7 + s);
        float *a = test_random(rows * lda, 3.0f), *b = test_random(rows * ldb, 1.0f);
        float *g = test_random(cols, 1.0f), *be = test_random(cols, 1.0f);
        for (int64_t i = 0; i < rows * lda; i++) a[i] += 0.5f; /* a non-zero mean */
        float *want = test_alloc(rows * ldy * 4), *got = test_alloc(rows * ldy * 4);
        float *inA = test_alloc(rows * lda * 4), *inB = test_alloc(rows * ldb * 4);
        lffn_add_layernorm_f32_ref(rows, cols, a, lda, b, ldb, g, be, 1e-5f, want, ldy);
        for (int64_t r = 0; r < rows; r++) { /* the reference against LayerNorm(fp32 sum) in double */
            double mean = 0, var = 0, num = 0, den = 0;
            for (int64_t c = 0; c < cols; c++) mean += (float)(a[r * lda + c] + b[r * ldb + c]);
            mean /= (double)cols;
            for (int64_t c = 0; c < cols; c++) {
                const double d = (float)(a[r * lda + c] + b[r * ldb + c]) - mean;
                var += d * d;
            }
            var /= (double)cols;
            for (int64_t c = 0; c < cols; c++) {
                const double x = (float)(a[r * lda + c] + b[r * ldb + c]);
                const double y = (x - mean) / sqrt(var + 1e-5) * g[c] + be[c];
                num += (want[r * ldy + c] - y) * (want[r * ldy + c] - y);
                den += y * y;
            }
            TEST_EXPECT(num <= LFFN_MAX_ADD_LAYERNORM_F32_NMSE * den,
                        "reference rows %ld cols %ld row %ld vs double: nmse %g", (long)rows, (long)cols, (long)r,
                        num / den);
        }
        TEST_FOR_EACH_ISA(isa) {
            TEST_EXPECT(lffn_add_layernorm_f32(rows, cols, a, lda, b, ldb, g, be, 1e-5f, got, ldy) == LFFN_SUCCESS,
                        "status");
            /* in place: y = a, then y = b */
            memcpy(inA, a, (size_t)(rows * lda) * 4);
            memcpy(inB, b, (size_t)(rows * ldb) * 4);
            TEST_EXPECT(lffn_add_layernorm_f32(rows, cols, inA, lda, b, ldb, g, be, 1e-5f, inA, lda) == LFFN_SUCCESS,
                        "status");
            TEST_EXPECT(lffn_add_layernorm_f32(rows, cols, a, lda, inB, ldb, g, be, 1e-5f, inB, ldb) == LFFN_SUCCESS,
                        "status");
            for (int64_t r = 0; r < rows; r++) {
                double e = test_nmse(got + r * ldy, want + r * ldy, cols);
                double ea = test_nmse(inA + r * lda, want + r * ldy, cols);
                double eb = test_nmse(inB + r * ldb, want + r * ldy, cols);
                TEST_EXPECT(e <= LFFN_MAX_ADD_LAYERNORM_F32_NMSE && ea <= LFFN_MAX_ADD_LAYERNORM_F32_NMSE &&
                                eb <= LFFN_MAX_ADD_LAYERNORM_F32_NMSE,
                            "%s rows %ld cols %ld row %ld: nmse %g, in place on a %g, on b %g", test_isa_name(isa),
                            (long)rows, (long)cols, (long)r, e, ea, eb);
            }
        }
        free(a); free(b); free(g); free(be); free(want); free(got); free(inA); free(inB);
    }
    TEST_EXPECT(lffn_add_layernorm_f32(1, 0, NULL, 0, NULL, 0, NULL, NULL, 1e-5f, NULL, 0) == LFFN_INVALID_ARGUMENTS,
                "cols 0 rejected");
    TEST_EXPECT(lffn_add_layernorm_f32(2, 4, NULL, 4, NULL, 4, NULL, NULL, 1e-5f, NULL, 4) == LFFN_INVALID_ARGUMENTS,
                "NULL rejected");
    return test_finish("test-add-layernorm");
}
