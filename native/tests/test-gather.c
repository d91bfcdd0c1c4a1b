/* The unpacked gather references (lffn_gather_accum_f32_ref / _bf16_ref), the oracle of the packed gather
 * tests, against a double-precision loop written here: shapes with column tails, several tau and table counts,
 * strides, with and without bias; the bf16 one on the table rounded here. */
#include <string.h>

#include "lookup_internal.h"
#include "test_util.h"

/* fp32 sums of tables terms against double sums: ~tables ulp of the largest partial sum. */
#define LFFN_MAX_GATHER_REF_NMSE 1e-12

static void check_shape(int64_t rows, int64_t tables, int64_t tau, int64_t out_dim, int with_bias, uint64_t seed) {
    const int64_t ldc = tables + 1, lds = tables + 2, ldo = out_dim + 3, trows = tables << tau;
    test_seed(seed);
    float *table = test_random(trows * out_dim, 1.0f), *score = test_random(rows * lds, 2.0f);
    float *bias = with_bias ? test_random(out_dim, 1.0f) : NULL;
    uint16_t *tb = test_alloc(trows * out_dim * 2);
    for (int64_t i = 0; i < trows * out_dim; i++) { /* bf16, round to nearest even (no NaN in the data) */
        uint32_t u;
        memcpy(&u, &table[i], 4);
        tb[i] = (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
    }
    int32_t *code = test_alloc(rows * ldc * 4);
    for (int64_t i = 0; i < rows * ldc; i++) code[i] = (int32_t)((test_uniform() + 1.0f) * 0.5f * (float)(1 << tau)) & ((1 << tau) - 1);
    float *got = test_alloc(rows * ldo * 4);
    double *want = malloc((size_t)(rows * out_dim) * sizeof(double));
    for (int bf = 0; bf < 2; bf++) {
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < out_dim; c++) {
                double s = bias ? bias[c] : 0.0;
                for (int64_t k = 0; k < tables; k++) {
                    const int64_t t = ((k << tau) + code[r * ldc + k]) * out_dim + c;
                    double v = table[t];
                    if (bf) {
                        uint32_t u = (uint32_t)tb[t] << 16;
                        float f;
                        memcpy(&f, &u, 4);
                        v = f;
                    }
                    s += (double)score[r * lds + k] * v;
                }
                want[r * out_dim + c] = s;
            }
        memset(got, 0xA5, (size_t)(rows * ldo * 4));
        if (bf) lffn_gather_accum_bf16_ref(rows, tables, tau, out_dim, code, ldc, score, lds, tb, bias, got, ldo);
        else lffn_gather_accum_f32_ref(rows, tables, tau, out_dim, code, ldc, score, lds, table, bias, got, ldo);
        double num = 0, den = 0;
        for (int64_t r = 0; r < rows; r++) {
            for (int64_t c = 0; c < out_dim; c++) {
                const double d = got[r * ldo + c] - want[r * out_dim + c];
                num += d * d;
                den += want[r * out_dim + c] * want[r * out_dim + c];
            }
            uint32_t canary;
            memcpy(&canary, got + r * ldo + out_dim, 4);
            TEST_EXPECT(canary == 0xA5A5A5A5u, "wrote past out_dim");
        }
        TEST_EXPECT(num <= LFFN_MAX_GATHER_REF_NMSE * den, "%s ref rows %ld tables %ld tau %ld out %ld: nmse %g",
                    bf ? "bf16" : "f32", (long)rows, (long)tables, (long)tau, (long)out_dim, num / den);
    }
    free(table); free(score); free(bias); free(tb); free(code); free(got); free(want);
}

int main(void) {
    uint64_t seed = 11;
    const int64_t outs[] = {1, 15, 33, 100, 512};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        check_shape(7, 5, 3, outs[i], 1, seed++);
        check_shape(10, 20, 8, outs[i], i & 1, seed++);
    }
    check_shape(1, 1, 1, 64, 1, seed++);
    check_shape(3, 128, 8, 64, 1, seed++);
    return test_finish("test-gather");
}
