/* lffn_hash_code_score_f32: every ISA path against the double-precision reference for tau 1..16, table
 * counts with vector tails, strides, and special values (+0, -0, NaN, +-inf, tiny, huge); codes must be
 * identical, scores within a relative tolerance; then argument checks. */
#include <string.h>

#include "lookup_internal.h"
#include "test_util.h"

/* fp32 sum and product of up to 16 terms plus a ~2 ulp exp: a few 1e-7 relative in the worst case. */
#define LFFN_MAX_HASH_SCORE_REL 2e-6

static int same_score(float got, float want) {
    if (isnan(want)) return isnan(got);
    if (isinf(want)) return got == want;
    return fabs((double)got - (double)want) <= LFFN_MAX_HASH_SCORE_REL * fabs((double)want);
}

static void check_shape(int64_t rows, int64_t tables, int64_t tau, int specials, uint64_t seed) {
    const int64_t ldz = tables * tau + 2, ldc = tables + 1, lds = tables + 3;
    test_seed(seed);
    float *z = test_random(rows * ldz, 3.0f);
    for (int64_t i = 0; i < rows * ldz; i += 7) z[i] *= 1e-3f; /* values near 0: exp(-2|z|) near 1 */
    if (specials) {
        const float sp[] = {0.0f, -0.0f, NAN, -NAN, INFINITY, -INFINITY, 1e-30f, -1e-30f, 1e-40f, 60.0f, -100.0f};
        for (int64_t i = 0; i < rows * ldz; i += 5) z[i] = sp[(i / 5) % (sizeof sp / sizeof sp[0])];
    }
    int32_t *cw = test_alloc(rows * ldc * 4), *cg = test_alloc(rows * ldc * 4);
    float *sw = test_alloc(rows * lds * 4), *sg = test_alloc(rows * lds * 4);
    lffn_hash_code_score_f32_ref(rows, tables, tau, z, ldz, cw, ldc, sw, lds);
    /* the reference against the SPEC.md formulas in double */
    int ref_bad = 0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t k = 0; k < tables; k++) {
            int32_t code = 0;
            double sum = 0, prod = 1;
            for (int64_t j = 0; j < tau; j++) {
                const double v = z[r * ldz + k * tau + j];
                code = code * 2 + (v > 0);
                sum += fabs(v);
                prod *= 1 + exp(-2 * fabs(v));
            }
            const float want = (float)(sum / prod);
            ref_bad += cw[r * ldc + k] != code || !same_score(sw[r * lds + k], want);
        }
    TEST_EXPECT(ref_bad == 0, "reference rows %ld tables %ld tau %ld: %d codes or scores differ from double", (long)rows,
                (long)tables, (long)tau, ref_bad);
    TEST_FOR_EACH_VECTOR_ISA(isa) {
        memset(cg, 0xA5, (size_t)(rows * ldc * 4));
        memset(sg, 0xA5, (size_t)(rows * lds * 4));
        TEST_EXPECT(lffn_hash_code_score_f32(rows, tables, tau, z, ldz, cg, ldc, sg, lds) == LFFN_SUCCESS, "status");
        int bad = 0;
        for (int64_t r = 0; r < rows && bad < 5; r++) {
            for (int64_t k = 0; k < tables && bad < 5; k++) {
                if (cg[r * ldc + k] != cw[r * ldc + k] || !same_score(sg[r * lds + k], sw[r * lds + k])) {
                    bad++;
                    TEST_EXPECT(0, "%s rows %ld tables %ld tau %ld at (%ld, %ld): code %d want %d, score %.9g want %.9g",
                                test_isa_name(isa), (long)rows, (long)tables, (long)tau, (long)r, (long)k,
                                cg[r * ldc + k], cw[r * ldc + k], sg[r * lds + k], sw[r * lds + k]);
                }
            }
            TEST_EXPECT(cg[r * ldc + tables] == (int32_t)0xA5A5A5A5, "%s: code written past tables", test_isa_name(isa));
        }
    }
    free(z); free(cw); free(cg); free(sw); free(sg);
}

int main(void) {
    uint64_t seed = 7;
    for (int64_t tau = 1; tau <= 16; tau++) {
        check_shape(5, 1, tau, 0, seed++);
        check_shape(9, 17, tau, 0, seed++);
        check_shape(4, 128, tau, 1, seed++);
    }
    check_shape(3, 35, 8, 1, seed++);
    check_shape(64, 128, 8, 0, seed++);
    check_shape(37, 40, 7, 1, seed++); /* several 16-row x 16-table blocks with row and table tails */
    check_shape(21, 33, 16, 0, seed++);

    /* the MSB-first convention, exact zeros and NaN, checked by hand */
    {
        const float z[4] = {1.0f, -0.0f, 0.0f, NAN};
        int32_t c = -1;
        float s = 0;
        TEST_FOR_EACH_ISA(isa) {
            TEST_EXPECT(lffn_hash_code_score_f32(1, 1, 3, z, 4, &c, 1, &s, 1) == 0 && c == 4, "%s: code %d", test_isa_name(isa), c);
            const float z2[2] = {0.5f, 2.0f};
            TEST_EXPECT(lffn_hash_code_score_f32(1, 1, 2, z2, 2, &c, 1, &s, 1) == 0 && c == 3, "%s", test_isa_name(isa));
            const double want = 2.5 / ((1 + exp(-1.0)) * (1 + exp(-4.0)));
            TEST_EXPECT(fabs(s - want) <= 1e-6 * want, "%s: score %.9g want %.9g", test_isa_name(isa), s, want);
        }
    }

    float zz[64] = {0};
    int32_t cc[64];
    float ss[64];
    TEST_EXPECT(lffn_hash_code_score_f32(2, 4, 0, zz, 16, cc, 4, ss, 4) == LFFN_INVALID_ARGUMENTS, "tau 0");
    TEST_EXPECT(lffn_hash_code_score_f32(1, 1, 17, zz, 17, cc, 1, ss, 1) == LFFN_INVALID_ARGUMENTS, "tau 17");
    TEST_EXPECT(lffn_hash_code_score_f32(2, 0, 4, zz, 16, cc, 4, ss, 4) == LFFN_INVALID_ARGUMENTS, "no tables");
    TEST_EXPECT(lffn_hash_code_score_f32(-1, 4, 4, zz, 16, cc, 4, ss, 4) == LFFN_INVALID_ARGUMENTS, "rows < 0");
    TEST_EXPECT(lffn_hash_code_score_f32(2, 4, 4, zz, 15, cc, 4, ss, 4) == LFFN_INVALID_ARGUMENTS, "ldz small");
    TEST_EXPECT(lffn_hash_code_score_f32(2, 4, 4, zz, 16, cc, 3, ss, 4) == LFFN_INVALID_ARGUMENTS, "ldcode small");
    TEST_EXPECT(lffn_hash_code_score_f32(2, 4, 4, zz, 16, cc, 4, ss, 3) == LFFN_INVALID_ARGUMENTS, "ldscore small");
    TEST_EXPECT(lffn_hash_code_score_f32(2, 4, 4, NULL, 16, cc, 4, ss, 4) == LFFN_INVALID_ARGUMENTS, "NULL z");
    TEST_EXPECT(lffn_hash_code_score_f32(2, 4, 4, zz, 16, cc, 4, NULL, 4) == LFFN_INVALID_ARGUMENTS, "NULL score");
    TEST_EXPECT(lffn_hash_code_score_f32(0, 4, 4, NULL, 16, NULL, 4, NULL, 4) == LFFN_SUCCESS, "no rows");
    return test_finish("test-hash");
}
