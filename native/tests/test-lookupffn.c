/* lffn_lookupffn_workspace_size / lffn_lookupffn_forward_f32: every ISA path, fp32, bf16 and int8 tables, against the
 * composition of the reference kernels (LayerNorm -> BH4 -> hash -> gather on the unpacked table; for bf16 the
 * gather on the bf16-rounded table, for int8 on the quantized table dequantized in double), on the paper shape, small odd shapes (row tails, dims that are not powers
 * of two, tables straddling BH4 repeats, column tails), more rows than one big tile, strides, NULL biases;
 * the bf16 and int8 layers against the fp32 layer (relative error <= 1e-2); then argument checks.
 * A row whose z has a component within rounding of zero may legitimately pick another table row (SPEC.md,
 * Numerics): such rows are excluded when they disagree, and there must be few of them. */
#include <string.h>

#include "dispatch.h"
#include "test_util.h"

/* fp32 kernels against the double layer: z is good to ~1e-6 relative (sums of up to 512 products and 9
 * Hadamard stages), and so are the scores and the output; an nmse of 1e-10 (1e-5 rms relative) leaves room
 * for that and catches any change of formula (an eps in the wrong place, a missing 0.3 u term, a wrong
 * exponent in the score). */
#define LFFN_MAX_LAYER_NMSE 1e-10
#define LFFN_MAX_SCORE_NMSE 1e-10
/* digests of check_pinned_arithmetic */
#define PINNED_AVX2 0x2f2001acedf2c77full
#define PINNED_AVX512 0x45248a084af8244dull
#define LFFN_MAX_COMPACT_LAYER_REL 1e-2

static const char *dtype_name(int d) { return d == 2 ? "int8" : d == 1 ? "bf16" : "f32"; }

static int64_t next_pow2(int64_t v) {
    int64_t p = 1;
    while (p < v) p *= 2;
    return p;
}

/* The layer in double, written here from SPEC.md (independent of the library's kernels): z [rows, hz],
 * code/score [rows, tables], out [rows, out_dim] (the bf16 table when tb != NULL). */
static void layer_f64(int64_t rows, int64_t dim, int64_t P, int64_t block, int64_t tables, int64_t tau,
                      int64_t out_dim, const float *x, int64_t ldx, const float *lnw, const float *lnb, float eps,
                      const float *w, const float *pb, const float *table, const uint16_t *tb, const double *td,
                      const float *bias, double *z, int32_t *code, double *score, double *out) {
    const int64_t hz = tables * tau;
    double *up = calloc((size_t)P, sizeof(double));
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * ldx;
        double mean = 0, var = 0;
        for (int64_t c = 0; c < dim; c++) mean += xr[c];
        mean /= (double)dim;
        for (int64_t c = 0; c < dim; c++) var += (xr[c] - mean) * (xr[c] - mean);
        var /= (double)dim;
        for (int64_t c = 0; c < dim; c++) up[c] = (xr[c] - mean) / sqrt(var + eps) * lnw[c] + lnb[c];
        test_bh4_f64(1, dim, P, block, hz, up, dim, w, pb, z + r * hz, hz);
        for (int64_t k = 0; k < tables; k++) {
            int32_t cd = 0;
            double sum = 0, prod = 1;
            for (int64_t j = 0; j < tau; j++) {
                const double v = z[r * hz + k * tau + j];
                cd = (cd << 1) | (v > 0);
                sum += fabs(v);
                prod *= 1 + exp(-2 * fabs(v));
            }
            code[r * tables + k] = cd;
            score[r * tables + k] = sum / prod;
        }
        for (int64_t c = 0; c < out_dim; c++) {
            double acc = bias ? bias[c] : 0.0;
            for (int64_t k = 0; k < tables; k++) {
                const int64_t e = ((k << tau) + code[r * tables + k]) * out_dim + c;
                acc += score[r * tables + k] * (td ? td[e] : tb ? (double)lffn_bf16_bits_to_f32(tb[e]) : (double)table[e]);
            }
            out[r * out_dim + c] = acc;
        }
    }
    free(up);
}

/* Every ISA path of the fused layer against layer_f64: output (nmse), and through the debug entry the codes
 * (equal but for rows with a z component within rounding of zero) and the scores (nmse). */
static void check_shape_eps(int64_t rows, int64_t dim, int64_t block, int64_t tables, int64_t tau, int64_t out_dim,
                            int with_bias, float eps, uint64_t seed) {
    const int64_t P = next_pow2(dim), hz = tables * tau, R = (hz + P - 1) / P > 0 ? (hz + P - 1) / P : 1;
    const int64_t ldx = dim + 3, ldo = out_dim + 5, trows = tables << tau;
    test_seed(seed);
    float *x = test_random(rows * ldx, 2.0f), *lnw = test_random(dim, 0.3f), *lnb = test_random(dim, 0.3f);
    for (int64_t i = 0; i < dim; i++) lnw[i] += 1.0f;
    float *w = test_random(R * 4 * P * block, 1.7f / sqrtf((float)(block * P)));
    float *pb = with_bias ? test_random(hz, 0.1f) : NULL, *bias = with_bias ? test_random(out_dim, 0.5f) : NULL;
    float *table = test_random(trows * out_dim, 1.0f);
    uint16_t *tb = test_alloc(trows * out_dim * 2);
    lffn_convert_f32_to_bf16_ref(trows * out_dim, table, tb);
    void *wp = test_alloc(lffn_bh4_pack_size_f32(dim, P, block, R, hz));
    TEST_EXPECT(lffn_bh4_pack_f32(dim, P, block, R, hz, w, wp) == LFFN_SUCCESS, "bh4 pack");
    double *z = malloc((size_t)(rows * hz) * sizeof(double)), *score = malloc((size_t)(rows * tables) * sizeof(double));
    double *want[3];
    for (int bf = 0; bf < 3; bf++) want[bf] = malloc((size_t)(rows * out_dim) * sizeof(double));
    /* int8: the table as quantized, dequantized in double */
    int8_t *tq = test_alloc(trows * out_dim);
    const int64_t nch = (out_dim + 63) / 64;
    float *tsc = test_alloc(trows * nch * 4);
    double *td = malloc((size_t)(trows * out_dim) * sizeof(double));
    TEST_EXPECT(lffn_tables_quantize_i8(tables, tau, out_dim, table, tq, tsc) == LFFN_SUCCESS, "quantize");
    for (int64_t t = 0; t < trows; t++)
        for (int64_t c = 0; c < out_dim; c++) td[t * out_dim + c] = (double)tq[t * out_dim + c] * tsc[t * nch + c / 64];
    int32_t *code = test_alloc(rows * tables * 4), *got_code = test_alloc(rows * tables * 4);
    float *got_score = test_alloc(rows * tables * 4), *got = test_alloc(rows * ldo * 4);
    for (int bf = 0; bf < 3; bf++)
        layer_f64(rows, dim, P, block, tables, tau, out_dim, x, ldx, lnw, lnb, eps, w, pb, table, bf == 1 ? tb : NULL,
                  bf == 2 ? td : NULL, bias, z, code, score, want[bf]);
    /* rows with a near-zero z component (a sign flip there is legitimate, SPEC.md Numerics) */
    char *fragile = calloc((size_t)rows, 1);
    int64_t nfragile = 0;
    for (int64_t r = 0; r < rows; r++) {
        double m = 0;
        for (int64_t k = 0; k < hz; k++) m = fabs(z[r * hz + k]) > m ? fabs(z[r * hz + k]) : m;
        for (int64_t k = 0; k < hz; k++) fragile[r] |= fabs(z[r * hz + k]) < 1e-4 * m;
        nfragile += fragile[r];
    }
    const int64_t wsb = lffn_lookupffn_workspace_size(rows, dim, P, tables, tau);
    TEST_EXPECT(wsb > 0, "workspace size %ld", (long)wsb);
    void *ws = test_alloc(wsb);
    for (int bf = 0; bf < 3; bf++) {
        void *pk = test_alloc(lffn_tables_pack_size(tables, tau, out_dim, bf));
        TEST_EXPECT(lffn_tables_pack_f32(tables, tau, out_dim, table, bf, pk) == LFFN_SUCCESS, "pack");
        TEST_FOR_EACH_ISA(isa) {
            memset(got, 0xA5, (size_t)(rows * ldo * 4));
            TEST_EXPECT(lffn_lookupffn_forward_impl(rows, dim, P, block, R, tables, tau, out_dim, x, ldx, lnw, lnb, eps,
                                                    wp, pb, pk, bf, bias, ws, got, ldo, got_code, got_score) ==
                            LFFN_SUCCESS, "status");
            double num = 0, den = 0, sn = 0, sd = 0;
            int64_t skipped = 0;
            for (int64_t r = 0; r < rows; r++) {
                int same = memcmp(got_code + r * tables, code + r * tables, (size_t)tables * 4) == 0;
                if (!same) {
                    TEST_EXPECT(fragile[r], "%s: row %ld codes differ from the double layer (z not near 0)",
                                test_isa_name(isa), (long)r);
                    skipped++;
                    continue;
                }
                for (int64_t k = 0; k < tables; k++) {
                    const double d = got_score[r * tables + k] - score[r * tables + k];
                    sn += d * d;
                    sd += score[r * tables + k] * score[r * tables + k];
                }
                for (int64_t c = 0; c < out_dim; c++) {
                    const double d = got[r * ldo + c] - want[bf][r * out_dim + c];
                    num += d * d;
                    den += want[bf][r * out_dim + c] * want[bf][r * out_dim + c];
                }
                uint32_t canary;
                memcpy(&canary, got + r * ldo + out_dim, 4);
                TEST_EXPECT(canary == 0xA5A5A5A5u, "%s: wrote past out_dim", test_isa_name(isa));
            }
            TEST_EXPECT(sn <= LFFN_MAX_SCORE_NMSE * sd && num <= LFFN_MAX_LAYER_NMSE * den,
                        "%s %s rows %ld dim %ld b %ld h %ld tau %ld out %ld eps %g: score nmse %g, output nmse %g",
                        test_isa_name(isa), dtype_name(bf), (long)rows, (long)dim, (long)block, (long)tables,
                        (long)tau, (long)out_dim, eps, sn / sd, num / den);
            TEST_EXPECT(skipped <= nfragile && skipped * 20 <= rows + 20, "%s: %ld rows differ (%ld fragile)",
                        test_isa_name(isa), (long)skipped, (long)nfragile);
        }
        free(pk);
    }
    free(x); free(lnw); free(lnb); free(w); free(pb); free(bias); free(table); free(tb); free(wp); free(z); free(score);
    free(want[0]); free(want[1]); free(want[2]); free(tq); free(tsc); free(td); free(code); free(got_code); free(got_score); free(got); free(fragile); free(ws);
}

static void check_shape(int64_t rows, int64_t dim, int64_t block, int64_t tables, int64_t tau, int64_t out_dim,
                        int with_bias, uint64_t seed) {
    check_shape_eps(rows, dim, block, tables, tau, out_dim, with_bias, 1e-5f, seed);
}

/* The bf16 layer against the fp32 layer at the paper shape with lookup-bench's (realistic) distributions:
 * x ~ 2 U(-1,1), LayerNorm weight 1 +- 0.2, bias 0.2 U, BH4 weights U(-1,1) 1.7/181, biases 0.1 U, tables
 * 0.05 U. The relative error must stay <= 1e-2 on every ISA path (the ~1e-3 of bf16 table rounding). Also
 * checks that a row's result does not depend on how rows are split across calls. */
static void check_compact_realistic(int64_t rows, uint64_t seed) {
    const int64_t dim = 512, P = 512, block = 64, R = 2, tables = 128, tau = 8, out_dim = 512;
    const int64_t hz = tables * tau, trows = tables << tau;
    test_seed(seed);
    float *x = test_random(rows * dim, 2.0f), *lnw = test_random(dim, 0.2f), *lnb = test_random(dim, 0.2f);
    for (int64_t i = 0; i < dim; i++) lnw[i] += 1.0f;
    float *w = test_random(R * 4 * P * block, 1.7f / 181.0f), *pb = test_random(hz, 0.1f);
    float *table = test_random(trows * out_dim, 0.05f), *bias = test_random(out_dim, 0.1f);
    float *out[3] = {test_alloc(rows * out_dim * 4), test_alloc(rows * out_dim * 4), test_alloc(rows * out_dim * 4)};
    float *part = test_alloc(rows * out_dim * 4);
    void *ws = test_alloc(lffn_lookupffn_workspace_size(rows, dim, P, tables, tau));
    void *wp = test_alloc(lffn_bh4_pack_size_f32(dim, P, block, R, hz));
    TEST_EXPECT(lffn_bh4_pack_f32(dim, P, block, R, hz, w, wp) == LFFN_SUCCESS, "bh4 pack");
    void *pk[3];
    for (int bf = 0; bf < 3; bf++) {
        pk[bf] = test_alloc(lffn_tables_pack_size(tables, tau, out_dim, bf));
        TEST_EXPECT(lffn_tables_pack_f32(tables, tau, out_dim, table, bf, pk[bf]) == LFFN_SUCCESS, "pack");
    }
    TEST_FOR_EACH_ISA(isa) {
        for (int bf = 0; bf < 3; bf++) {
            TEST_EXPECT(lffn_lookupffn_forward_f32(rows, dim, P, block, R, tables, tau, out_dim, x, dim, lnw, lnb, 1e-5f, wp,
                                                   pb, pk[bf], bf, bias, ws, out[bf], out_dim) == LFFN_SUCCESS, "status");
            /* the same rows in calls of 1, 7 and the rest: bit-identical rows */
            const int64_t cuts[4] = {0, 1, 8, rows};
            for (int c = 0; c < 3; c++)
                TEST_EXPECT(lffn_lookupffn_forward_f32(cuts[c + 1] - cuts[c], dim, P, block, R, tables, tau, out_dim,
                                                       x + cuts[c] * dim, dim, lnw, lnb, 1e-5f, wp, pb, pk[bf], bf, bias,
                                                       ws, part + cuts[c] * out_dim, out_dim) == LFFN_SUCCESS, "status");
            TEST_EXPECT(memcmp(part, out[bf], (size_t)(rows * out_dim * 4)) == 0,
                        "%s %s: rows depend on the split across calls", test_isa_name(isa), dtype_name(bf));
        }
        for (int bf = 1; bf < 3; bf++) {
            double n2 = 0, d2 = 0;
            for (int64_t i = 0; i < rows * out_dim; i++) {
                const double d = (double)out[bf][i] - out[0][i];
                n2 += d * d;
                d2 += (double)out[0][i] * out[0][i];
            }
            printf("  %s: %s layer vs fp32 layer, %ld rows of the paper shape (realistic data): rel %.3g\n",
                   test_isa_name(isa), dtype_name(bf), (long)rows, sqrt(n2 / d2));
            TEST_EXPECT(sqrt(n2 / d2) <= LFFN_MAX_COMPACT_LAYER_REL, "%s: realistic %s layer vs fp32 layer rel %g",
                        test_isa_name(isa), dtype_name(bf), sqrt(n2 / d2));
        }
    }
    free(x); free(lnw); free(lnb); free(w); free(pb); free(table); free(bias); free(out[0]); free(out[1]); free(out[2]);
    free(part); free(ws); free(pk[0]); free(pk[1]); free(pk[2]); free(wp);
}

/* The fused layer's exact arithmetic on the vector paths, pinned: a digest (FNV-1a) of the codes, the bits of
 * the scores and of the output for one fixed input. The tolerance tests above cannot see a changed rounding
 * (an FMA's operand order, a reassociated sum): this one fails on any such change. When a change of the
 * arithmetic is intended, check it with the tests above and the Java fixtures, then put the new digests here.
 * The scalar level is left out: its hash calls libm's exp, whose last bit may vary between C libraries. */
static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ ((const unsigned char *)p)[i]) * 0x100000001B3ull;
    return h;
}

static void check_pinned_arithmetic(void) {
    const int64_t rows = 70, dim = 100, P = 128, block = 16, tables = 24, tau = 6, out_dim = 40, R = 2, hz = tables * tau;
    const uint64_t pinned[4] = {0, PINNED_AVX2, PINNED_AVX512, PINNED_AVX512}; /* AVX512_BF16: the AVX-512 kernels */
    test_seed(2024);
    float *x = test_random(rows * dim, 2.0f), *lnw = test_random(dim, 0.3f), *lnb = test_random(dim, 0.3f);
    float *w = test_random(R * 4 * P * block, 1.7f / sqrtf((float)(block * P))), *pb = test_random(hz, 0.1f);
    float *table = test_random((tables << tau) * out_dim, 1.0f), *bias = test_random(out_dim, 0.5f);
    void *wp = test_alloc(lffn_bh4_pack_size_f32(dim, P, block, R, hz));
    void *pk = test_alloc(lffn_tables_pack_size(tables, tau, out_dim, 0));
    void *ws = test_alloc(lffn_lookupffn_workspace_size(rows, dim, P, tables, tau));
    int32_t *code = test_alloc(rows * tables * 4);
    float *score = test_alloc(rows * tables * 4), *out = test_alloc(rows * out_dim * 4);
    TEST_EXPECT(lffn_bh4_pack_f32(dim, P, block, R, hz, w, wp) == LFFN_SUCCESS &&
                    lffn_tables_pack_f32(tables, tau, out_dim, table, 0, pk) == LFFN_SUCCESS, "packs");
    TEST_FOR_EACH_VECTOR_ISA(isa) {
        TEST_EXPECT(lffn_lookupffn_forward_impl(rows, dim, P, block, R, tables, tau, out_dim, x, dim, lnw, lnb, 1e-5f, wp,
                                                pb, pk, 0, bias, ws, out, out_dim, code, score) == LFFN_SUCCESS, "status");
        uint64_t h = fnv1a(0xCBF29CE484222325ull, code, (size_t)(rows * tables * 4));
        h = fnv1a(h, score, (size_t)(rows * tables * 4));
        h = fnv1a(h, out, (size_t)(rows * out_dim * 4));
        TEST_EXPECT(h == pinned[isa], "%s: the fused layer's arithmetic changed: digest 0x%016llxull, pinned 0x%016llxull",
                    test_isa_name(isa), (unsigned long long)h, (unsigned long long)pinned[isa]);
    }
    free(x); free(lnw); free(lnb); free(w); free(pb); free(table); free(bias); free(wp); free(pk); free(ws); free(code);
    free(score); free(out);
}

int main(void) {
    uint64_t seed = 301;
    check_shape(100, 512, 64, 128, 8, 512, 1, seed++); /* the paper shape, row tail */
    check_shape(37, 100, 16, 20, 5, 70, 0, seed++);    /* P 128, R 1, column tail, no biases */
    check_shape(45, 100, 8, 30, 7, 33, 1, seed++);     /* h tau 210 > P: R 2, tables straddle repeats */
    check_shape(3, 16, 4, 4, 4, 20, 1, seed++);
    check_shape(4200, 16, 4, 4, 4, 20, 1, seed++);     /* more rows than one big tile */
    check_shape(33, 40, 1, 6, 3, 16, 1, seed++);       /* block 1 */
    check_shape(130, 100, 128, 10, 6, 40, 1, seed++);  /* b = P: no stage left outside the packed weights */
    check_shape(70, 256, 256, 8, 4, 16, 0, seed++);    /* b > 128: packed unfolded */
    check_shape_eps(50, 64, 16, 16, 4, 40, 1, 0.5f, seed++); /* a large eps: its place in LayerNorm matters */
    check_compact_realistic(512, seed++);                  /* the acceptance bound of the bf16 and int8 layers */
    check_pinned_arithmetic();

    /* argument checks */
    float x[64] __attribute__((aligned(64))) = {0}, out[64];
    void *pk = test_alloc(lffn_tables_pack_size(2, 2, 4, 0));
    TEST_EXPECT(lffn_tables_pack_f32(2, 2, 4, x, 0, pk) == LFFN_SUCCESS, "pack");
    void *ws = test_alloc(lffn_lookupffn_workspace_size(2, 8, 8, 2, 2));
#define FWD(rows, dim, P, b, R, h, tau, od, ldx, packed, wsp, ldo) \
    lffn_lookupffn_forward_f32(rows, dim, P, b, R, h, tau, od, x, ldx, x, x, 1e-5f, x, NULL, packed, 0, NULL, wsp, out, ldo)
    TEST_EXPECT(FWD(2, 8, 8, 4, 1, 2, 2, 4, 8, pk, ws, 4) == LFFN_SUCCESS, "valid call");
    TEST_EXPECT(FWD(-1, 8, 8, 4, 1, 2, 2, 4, 8, pk, ws, 4) == LFFN_INVALID_ARGUMENTS, "rows < 0");
    TEST_EXPECT(FWD(2, 0, 1, 1, 1, 2, 2, 4, 8, pk, ws, 4) == LFFN_INVALID_ARGUMENTS, "dim 0");
    TEST_EXPECT(FWD(2, 6, 6, 2, 1, 2, 2, 4, 8, pk, ws, 4) == LFFN_INVALID_ARGUMENTS, "P not a power of two");
    TEST_EXPECT(FWD(2, 3, 8, 2, 1, 2, 2, 4, 8, pk, ws, 4) == LFFN_INVALID_ARGUMENTS, "P not the next power of two");
    TEST_EXPECT(FWD(2, 8, 8, 3, 1, 2, 2, 4, 8, pk, ws, 4) == LFFN_INVALID_ARGUMENTS, "block does not divide P");
    TEST_EXPECT(FWD(2, 8, 8, 16, 1, 2, 2, 4, 8, pk, ws, 4) == LFFN_INVALID_ARGUMENTS, "block > P");
    TEST_EXPECT(FWD(2, 8, 8, 4, 1, 3, 3, 4, 8, pk, ws, 4) == LFFN_INVALID_ARGUMENTS, "R P < h tau");
    TEST_EXPECT(FWD(2, 8, 8, 4, 0, 2, 2, 4, 8, pk, ws, 4) == LFFN_INVALID_ARGUMENTS, "R 0");
    TEST_EXPECT(FWD(2, 8, 8, 4, 1, 0, 2, 4, 8, pk, ws, 4) == LFFN_INVALID_ARGUMENTS, "tables 0");
    TEST_EXPECT(FWD(2, 8, 8, 4, 1, 2, 0, 4, 8, pk, ws, 4) == LFFN_INVALID_ARGUMENTS, "tau 0");
    TEST_EXPECT(FWD(2, 8, 8, 4, 1, 2, 17, 4, 8, pk, ws, 4) == LFFN_INVALID_ARGUMENTS, "tau 17");
    TEST_EXPECT(FWD(2, 8, 8, 4, 1, 2, 2, 0, 8, pk, ws, 4) == LFFN_INVALID_ARGUMENTS, "out_dim 0");
    TEST_EXPECT(FWD(2, 8, 8, 4, 1, 2, 2, 4, 7, pk, ws, 4) == LFFN_INVALID_ARGUMENTS, "ldx < dim");
    TEST_EXPECT(FWD(2, 8, 8, 4, 1, 2, 2, 4, 8, pk, ws, 3) == LFFN_INVALID_ARGUMENTS, "ldout < out_dim");
    TEST_EXPECT(FWD(2, 8, 8, 4, 1, 2, 2, 4, 8, NULL, ws, 4) == LFFN_INVALID_ARGUMENTS, "NULL packed");
    TEST_EXPECT(FWD(2, 8, 8, 4, 1, 2, 2, 4, 8, (char *)pk + 4, ws, 4) == LFFN_INVALID_ARGUMENTS, "misaligned packed");
    TEST_EXPECT(FWD(2, 8, 8, 4, 1, 2, 2, 4, 8, pk, NULL, 4) == LFFN_INVALID_ARGUMENTS, "NULL workspace");
    TEST_EXPECT(FWD(2, 8, 8, 4, 1, 2, 2, 4, 8, pk, (char *)ws + 4, 4) == LFFN_INVALID_ARGUMENTS, "misaligned workspace");
    TEST_EXPECT(lffn_lookupffn_forward_f32(2, 8, 8, 4, 1, 2, 2, 4, x, 8, x, x, -1.0f, x, NULL, pk, 0, NULL, ws, out, 4) ==
                    LFFN_INVALID_ARGUMENTS, "eps < 0");
    TEST_EXPECT(lffn_lookupffn_forward_f32(2, 8, 8, 4, 1, 2, 2, 4, NULL, 8, x, x, 1e-5f, x, NULL, pk, 0, NULL, ws, out, 4) ==
                    LFFN_INVALID_ARGUMENTS, "NULL x");
    TEST_EXPECT(lffn_lookupffn_forward_f32(2, 8, 8, 4, 1, 2, 2, 4, x, 8, NULL, x, 1e-5f, x, NULL, pk, 0, NULL, ws, out, 4) ==
                    LFFN_INVALID_ARGUMENTS, "NULL ln_weight");
    TEST_EXPECT(lffn_lookupffn_forward_f32(2, 8, 8, 4, 1, 2, 2, 4, x, 8, x, x, 1e-5f, NULL, NULL, pk, 0, NULL, ws, out, 4) ==
                    LFFN_INVALID_ARGUMENTS, "NULL packed_proj");
    TEST_EXPECT(lffn_lookupffn_forward_f32(2, 8, 8, 4, 1, 2, 2, 4, x, 8, x, x, 1e-5f, x + 1, NULL, pk, 0, NULL, ws, out, 4) ==
                    LFFN_INVALID_ARGUMENTS, "misaligned packed_proj");
    TEST_EXPECT(FWD(0, 8, 8, 4, 1, 2, 2, 4, 8, NULL, NULL, 4) == LFFN_SUCCESS, "no rows");
    TEST_EXPECT(lffn_lookupffn_workspace_size(0, 8, 8, 2, 2) == 0, "workspace of no rows");
    TEST_EXPECT(lffn_lookupffn_workspace_size(-1, 8, 8, 2, 2) < 0 && lffn_lookupffn_workspace_size(2, 8, 6, 2, 2) < 0 &&
                lffn_lookupffn_workspace_size(2, 8, 8, 0, 2) < 0 && lffn_lookupffn_workspace_size(2, 8, 8, 2, 17) < 0,
                "workspace size of bad shapes");
    TEST_EXPECT(lffn_lookupffn_workspace_size(1 << 20, 512, 512, 128, 8) == lffn_lookupffn_workspace_size(1 << 22, 512, 512, 128, 8),
                "workspace size is capped");
    free(pk); free(ws);
    return test_finish("test-lookupffn");
}
