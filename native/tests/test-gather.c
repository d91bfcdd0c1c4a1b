/* lffn_gather_accum_f32 / _bf16: every ISA path against the references on shapes with column tails (out_dim
 * not a multiple of 16, 32, 64), odd row counts, several tau and table counts (so the table-group tiling has
 * a partial group), strides, with and without bias; bf16 also against the fp32 kernel on the rounded table;
 * invalid codes rejected before anything is read; argument checks. */
#include <string.h>

#include "lookup_internal.h"
#include "test_util.h"

/* The paths sum the same terms in the same order except for where the bias is added; sums of signed terms
 * can cancel, so allow 1e-10 (~1e-5 relative). */
#define LFFN_MAX_GATHER_NMSE 1e-10
/* bf16 rounding is 2^-9 relative per table value; cancellation in the signed sums inflates it. */
#define LFFN_MAX_GATHER_BF16_VS_F32_NMSE 1e-3

static void check_shape(int64_t rows, int64_t tables, int64_t tau, int64_t out_dim, int with_bias, uint64_t seed) {
    const int64_t ldc = tables + 1, lds = tables + 2, ldo = out_dim + 3, trows = tables << tau;
    test_seed(seed);
    float *table = test_random(trows * out_dim, 1.0f), *score = test_random(rows * lds, 2.0f);
    float *bias = with_bias ? test_random(out_dim, 1.0f) : NULL;
    uint16_t *tb = test_alloc(trows * out_dim * 2);
    lffn_convert_f32_to_bf16_ref(trows * out_dim, table, tb);
    int32_t *code = test_alloc(rows * ldc * 4);
    for (int64_t i = 0; i < rows * ldc; i++) code[i] = (int32_t)((test_uniform() + 1.0f) * 0.5f * (float)(1 << tau)) & ((1 << tau) - 1);
    float *want = test_alloc(rows * ldo * 4), *wantb = test_alloc(rows * ldo * 4), *got = test_alloc(rows * ldo * 4);
    lffn_gather_accum_f32_ref(rows, tables, tau, out_dim, code, ldc, score, lds, table, bias, want, ldo);
    lffn_gather_accum_bf16_ref(rows, tables, tau, out_dim, code, ldc, score, lds, tb, bias, wantb, ldo);
    /* the bf16 reference is the fp32 one on the rounded table: sanity of the reference itself */
    double e_ref = test_nmse(wantb, want, 0);
    for (int64_t r = 0; r < rows; r++) e_ref += test_nmse(wantb + r * ldo, want + r * ldo, out_dim) / (double)rows;
    TEST_EXPECT(e_ref < LFFN_MAX_GATHER_BF16_VS_F32_NMSE, "bf16 vs fp32 reference nmse %g", e_ref);
    TEST_FOR_EACH_ISA(isa) {
        for (int bf = 0; bf < 2; bf++) {
            memset(got, 0xA5, (size_t)(rows * ldo * 4));
            lffn_status_t st = bf ? lffn_gather_accum_bf16(rows, tables, tau, out_dim, code, ldc, score, lds, tb, bias, got, ldo)
                                  : lffn_gather_accum_f32(rows, tables, tau, out_dim, code, ldc, score, lds, table, bias, got, ldo);
            TEST_EXPECT(st == LFFN_SUCCESS, "status");
            const float *w = bf ? wantb : want;
            for (int64_t r = 0; r < rows; r++) {
                double e = test_nmse(got + r * ldo, w + r * ldo, out_dim);
                TEST_EXPECT(e <= LFFN_MAX_GATHER_NMSE, "%s %s rows %ld tables %ld tau %ld out %ld row %ld: nmse %g",
                            test_isa_name(isa), bf ? "bf16" : "f32", (long)rows, (long)tables, (long)tau,
                            (long)out_dim, (long)r, e);
                uint32_t canary;
                memcpy(&canary, got + r * ldo + out_dim, 4);
                TEST_EXPECT(canary == 0xA5A5A5A5u, "%s: wrote past out_dim", test_isa_name(isa));
            }
        }
    }
    free(table); free(score); free(bias); free(tb); free(code); free(want); free(wantb); free(got);
}

int main(void) {
    uint64_t seed = 11;
    const int64_t outs[] = {1, 15, 16, 31, 33, 64, 100, 129, 512};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        check_shape(7, 5, 3, outs[i], 1, seed++);
        check_shape(10, 20, 8, outs[i], i & 1, seed++);
    }
    check_shape(1, 1, 1, 64, 1, seed++);
    check_shape(37, 128, 8, 512, 1, seed++);
    check_shape(5, 3, 12, 70, 0, seed++);
    check_shape(4, 2, 16, 8, 1, seed++);

    /* invalid codes: rejected, nothing written */
    float table[4 * 16] = {0}, score[8] = {1, 1, 1, 1, 1, 1, 1, 1}, out[16];
    uint16_t tb[4 * 16] = {0};
    const int32_t bad_codes[][4] = {{0, 1, 2, 1}, {0, 1, -1, 0}, {0, 1, 0, 2}, {(int32_t)0x80000000, 0, 0, 0}};
    for (int i = 0; i < 4; i++) {
        const lffn_status_t want = i == 0 ? LFFN_SUCCESS : LFFN_INVALID_ARGUMENTS;
        /* 2 rows x 2 tables, tau 1 (codes 0..1), except the first case's row 1 code 2 is out of range too */
        int32_t c[4];
        memcpy(c, bad_codes[i], sizeof c);
        if (i == 0) c[2] = 1;
        TEST_FOR_EACH_ISA(isa) {
            memset(out, 0xA5, sizeof out);
            TEST_EXPECT(lffn_gather_accum_f32(2, 2, 1, 4, c, 2, score, 2, table, NULL, out, 4) == want, "f32 codes case %d", i);
            TEST_EXPECT(lffn_gather_accum_bf16(2, 2, 1, 4, c, 2, score, 2, tb, NULL, out, 4) == want, "bf16 codes case %d", i);
            if (want != LFFN_SUCCESS) {
                uint32_t w0;
                memcpy(&w0, out, 4);
                TEST_EXPECT(w0 == 0xA5A5A5A5u, "output written despite a bad code");
            }
        }
    }
    const int32_t c0[4] = {0, 0, 0, 0};
    TEST_EXPECT(lffn_gather_accum_f32(-1, 2, 1, 4, c0, 2, score, 2, table, NULL, out, 4) == LFFN_INVALID_ARGUMENTS, "rows < 0");
    TEST_EXPECT(lffn_gather_accum_f32(2, 0, 1, 4, c0, 2, score, 2, table, NULL, out, 4) == LFFN_INVALID_ARGUMENTS, "tables 0");
    TEST_EXPECT(lffn_gather_accum_f32(2, 2, 0, 4, c0, 2, score, 2, table, NULL, out, 4) == LFFN_INVALID_ARGUMENTS, "tau 0");
    TEST_EXPECT(lffn_gather_accum_f32(2, 2, 17, 4, c0, 2, score, 2, table, NULL, out, 4) == LFFN_INVALID_ARGUMENTS, "tau 17");
    TEST_EXPECT(lffn_gather_accum_f32(2, 2, 1, 0, c0, 2, score, 2, table, NULL, out, 4) == LFFN_INVALID_ARGUMENTS, "out_dim 0");
    TEST_EXPECT(lffn_gather_accum_f32(2, 2, 1, 4, c0, 1, score, 2, table, NULL, out, 4) == LFFN_INVALID_ARGUMENTS, "ldcode");
    TEST_EXPECT(lffn_gather_accum_f32(2, 2, 1, 4, c0, 2, score, 1, table, NULL, out, 4) == LFFN_INVALID_ARGUMENTS, "ldscore");
    TEST_EXPECT(lffn_gather_accum_f32(2, 2, 1, 4, c0, 2, score, 2, table, NULL, out, 3) == LFFN_INVALID_ARGUMENTS, "ldout");
    TEST_EXPECT(lffn_gather_accum_f32(2, 2, 1, 4, c0, 2, score, 2, NULL, NULL, out, 4) == LFFN_INVALID_ARGUMENTS, "NULL table");
    TEST_EXPECT(lffn_gather_accum_bf16(2, 2, 1, 4, NULL, 2, score, 2, tb, NULL, out, 4) == LFFN_INVALID_ARGUMENTS, "NULL code");
    TEST_EXPECT(lffn_gather_accum_bf16(0, 2, 1, 4, NULL, 2, NULL, 2, NULL, NULL, NULL, 4) == LFFN_SUCCESS, "no rows");
    return test_finish("test-gather");
}
