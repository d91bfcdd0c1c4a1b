/* lffn_tables_pack_size / lffn_tables_pack_f32 / lffn_gather_accum_packed: every ISA path, fp32 and bf16, against
 * the unpacked references (lffn_gather_accum_f32_ref on the table, lffn_gather_accum_bf16_ref on the
 * bf16-rounded table) on shapes with column tails (partial last chunk), row counts that are not multiples of
 * the micro-tile, several tau and table counts (partial table groups), strides, with and without bias; the
 * internal table-major code layout the fused layer uses; pack padding; invalid codes; argument checks. */
#include <math.h>
#include <string.h>

#include "dispatch.h"
#include "test_util.h"

#define LFFN_MAX_GATHER_NMSE 1e-10

static void check_shape(int64_t rows, int64_t tables, int64_t tau, int64_t out_dim, int with_bias, uint64_t seed) {
    const int64_t ldc = tables + 1, lds = tables + 2, ldo = out_dim + 3, trows = tables << tau;
    test_seed(seed);
    float *table = test_random(trows * out_dim, 1.0f), *score = test_random(rows * lds, 2.0f);
    float *bias = with_bias ? test_random(out_dim, 1.0f) : NULL;
    uint16_t *tb = test_alloc(trows * out_dim * 2);
    lffn_convert_f32_to_bf16_ref(trows * out_dim, table, tb);
    int32_t *code = test_alloc(rows * ldc * 4);
    for (int64_t i = 0; i < rows * ldc; i++) code[i] = (int32_t)((test_uniform() + 1.0f) * 0.5f * (float)(1 << tau)) & ((1 << tau) - 1);
    /* table-major copies (the fused layer's internal layout): code_t[k * rows + r] */
    int32_t *code_t = test_alloc(rows * tables * 4);
    float *score_t = test_alloc(rows * tables * 4);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t k = 0; k < tables; k++) {
            code_t[k * rows + r] = code[r * ldc + k];
            score_t[k * rows + r] = score[r * lds + k];
        }
    float *want[3] = {test_alloc(rows * ldo * 4), test_alloc(rows * ldo * 4), test_alloc(rows * ldo * 4)};
    float *got = test_alloc(rows * ldo * 4);
    int8_t *tq = test_alloc(trows * out_dim);
    float *tsc = test_alloc(trows * ((out_dim + 63) / 64) * 4);
    TEST_EXPECT(lffn_tables_quantize_i8(tables, tau, out_dim, table, tq, tsc) == LFFN_SUCCESS, "quantize");
    lffn_gather_accum_f32_ref(rows, tables, tau, out_dim, code, ldc, score, lds, table, bias, want[0], ldo);
    lffn_gather_accum_bf16_ref(rows, tables, tau, out_dim, code, ldc, score, lds, tb, bias, want[1], ldo);
    lffn_gather_accum_i8_ref(rows, tables, tau, out_dim, code, ldc, score, lds, tq, tsc, bias, want[2], ldo);
    for (int bf = 0; bf < 3; bf++) {
        const int64_t bytes = lffn_tables_pack_size(tables, tau, out_dim, bf);
        TEST_EXPECT(bytes >= trows * out_dim * (bf == 2 ? 1 : bf ? 2 : 4), "pack size %ld", (long)bytes);
        void *pk = test_alloc(bytes);
        TEST_EXPECT(lffn_tables_pack_f32(tables, tau, out_dim, table, bf, pk) == LFFN_SUCCESS, "pack status");
        TEST_FOR_EACH_ISA(isa) {
            for (int layout = 0; layout < 2; layout++) {
                memset(got, 0xA5, (size_t)(rows * ldo * 4));
                if (layout == 0) {
                    TEST_EXPECT(lffn_gather_accum_packed(rows, tables, tau, out_dim, code, ldc, score, lds, pk, bf, bias,
                                                         got, ldo) == LFFN_SUCCESS, "status");
                } else {
                    /* the fused layer's call: table-major codes, partial sums in a scratch buffer */
                    float *obuf = test_alloc(rows * 64 * 4);
                    lffn_kernels_for(isa)->gather_packed[bf](rows, tables, tau, out_dim, code_t, 1, rows, score_t, 1,
                                                             rows, pk, bias, got, ldo, obuf);
                    free(obuf);
                }
                /* over the whole output: a single output can cancel to ~0, where FMA vs mul+add differ */
                double num = 0, den = 0;
                for (int64_t r = 0; r < rows; r++)
                    for (int64_t c = 0; c < out_dim; c++) {
                        const double d = (double)got[r * ldo + c] - want[bf][r * ldo + c];
                        num += d * d;
                        den += (double)want[bf][r * ldo + c] * want[bf][r * ldo + c];
                    }
                TEST_EXPECT(num <= LFFN_MAX_GATHER_NMSE * den, "%s %s layout %d rows %ld tables %ld tau %ld out %ld: nmse %g",
                            test_isa_name(isa), bf == 2 ? "int8" : bf ? "bf16" : "f32", layout, (long)rows, (long)tables, (long)tau,
                            (long)out_dim, num / den);
                for (int64_t r = 0; r < rows; r++) {
                    uint32_t canary;
                    memcpy(&canary, got + r * ldo + out_dim, 4);
                    TEST_EXPECT(canary == 0xA5A5A5A5u, "%s: wrote past out_dim", test_isa_name(isa));
                }
            }
        }
        free(pk);
    }
    free(table); free(score); free(bias); free(tb); free(code); free(code_t); free(score_t);
    free(want[0]); free(want[1]); free(want[2]); free(got); free(tq); free(tsc);
}

/* int8, against float64 loops written here: the quantization (scale = max|x| / 127 per row piece, q = x / scale
 * rounded to nearest, |q| <= 127, every value within half a step), the packed gather's scalar reference on the
 * dequantized table (relative 1e-6: fp32 products and sums), packing from fp32 == quantize + lffn_tables_pack_i8
 * byte for byte, lffn_tables_pack_bf16 == lffn_tables_pack_f32 to bf16 byte for byte; then the vector paths against
 * the reference on the paper's table shape. */
static void check_i8_f64(uint64_t seed) {
    const int64_t rows = 9, tables = 6, tau = 4, out_dim = 150, trows = tables << tau, nch = 3;
    test_seed(seed);
    float *table = test_random(trows * out_dim, 1.0f), *score = test_random(rows * tables, 2.0f);
    for (int64_t c = 64; c < 128; c++) table[5 * out_dim + c] = 0.0f;      /* an all-zero piece: scale 0 */
    table[7 * out_dim + 3] = 1e30f;                                         /* one huge value in a piece */
    int8_t *q = test_alloc(trows * out_dim);
    float *sc = test_alloc(trows * nch * 4);
    TEST_EXPECT(lffn_tables_quantize_i8(tables, tau, out_dim, table, q, sc) == LFFN_SUCCESS, "quantize");
    for (int64_t t = 0; t < trows; t++)
        for (int64_t ch = 0; ch < nch; ch++) {
            double amax = 0;
            const int64_t c1 = (ch + 1) * 64 < out_dim ? (ch + 1) * 64 : out_dim;
            for (int64_t c = ch * 64; c < c1; c++) amax = fmax(amax, fabs((double)table[t * out_dim + c]));
            const double s = sc[t * nch + ch];
            TEST_EXPECT(fabs(s - amax / 127) <= 1e-6 * amax / 127, "scale (%ld, %ld): %g vs %g", (long)t, (long)ch, s,
                        amax / 127);
            for (int64_t c = ch * 64; c < c1; c++) {
                const double x = table[t * out_dim + c];
                const int v = q[t * out_dim + c];
                TEST_EXPECT(v >= -127 && v <= 127, "q range");
                if (s == 0) TEST_EXPECT(v == 0, "zero piece");
                else TEST_EXPECT(fabs(x / s - v) <= 0.5 + 1e-5, "q (%ld, %ld): %d for %g", (long)t, (long)c, v, x / s);
            }
        }
    TEST_EXPECT(sc[5 * nch + 1] == 0.0f, "all-zero piece has scale 0");
    int32_t *code = test_alloc(rows * tables * 4);
    for (int64_t i = 0; i < rows * tables; i++) code[i] = (int32_t)(i * 7 % (1 << tau));
    code[0] = 7; /* row 7 of table 0: the piece with the huge value */
    float *bias = test_random(out_dim, 1.0f), *got = test_alloc(rows * out_dim * 4);
    const int64_t bytes = lffn_tables_pack_size(tables, tau, out_dim, LFFN_TABLE_I8);
    TEST_EXPECT(bytes == nch * trows * (64 + 4), "int8 pack size %ld", (long)bytes);
    void *pk = test_alloc(bytes), *pk2 = test_alloc(bytes);
    TEST_EXPECT(lffn_tables_pack_i8(tables, tau, out_dim, q, sc, pk) == LFFN_SUCCESS, "pack i8");
    TEST_EXPECT(lffn_tables_pack_f32(tables, tau, out_dim, table, LFFN_TABLE_I8, pk2) == LFFN_SUCCESS, "pack f32 to i8");
    TEST_EXPECT(memcmp(pk, pk2, (size_t)bytes) == 0, "pack_f32(I8) differs from quantize + pack_i8");
    lffn_gather_packed_i8_ref(rows, tables, tau, out_dim, code, tables, 1, score, tables, 1, pk, bias, got, out_dim,
                              NULL);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < out_dim; c++) {
            double acc = bias[c], mag = fabs((double)bias[c]);
            for (int64_t k = 0; k < tables; k++) {
                const int64_t t = (k << tau) + code[r * tables + k];
                const double term = (double)score[r * tables + k] * sc[t * nch + c / 64] * q[t * out_dim + c];
                acc += term;
                mag += fabs(term);
            }
            TEST_EXPECT(fabs(got[r * out_dim + c] - acc) <= 1e-6 * mag, "i8 ref (%ld, %ld): %g vs %g", (long)r, (long)c,
                        got[r * out_dim + c], acc);
        }
    /* bf16 packing from bf16 bits */
    uint16_t *tb = test_alloc(trows * out_dim * 2);
    lffn_convert_f32_to_bf16_ref(trows * out_dim, table, tb);
    const int64_t bb = lffn_tables_pack_size(tables, tau, out_dim, LFFN_TABLE_BF16);
    void *p1 = test_alloc(bb), *p2 = test_alloc(bb);
    TEST_EXPECT(lffn_tables_pack_bf16(tables, tau, out_dim, tb, p1) == LFFN_SUCCESS &&
                    lffn_tables_pack_f32(tables, tau, out_dim, table, LFFN_TABLE_BF16, p2) == LFFN_SUCCESS, "bf16 packs");
    TEST_EXPECT(memcmp(p1, p2, (size_t)bb) == 0, "pack_bf16 differs from pack_f32(BF16)");
    free(table); free(score); free(q); free(sc); free(code); free(bias); free(got); free(pk); free(pk2); free(tb);
    free(p1); free(p2);
}

/* int8 scale layout: the scales of one table row for 8 consecutive chunks (0..7, 8..9 here) lie in one 64-byte
 * line, so a cold lookup's scale line serves the row's other chunks too (the first layout, [chunk][table row],
 * put them 2^tau * tables * 4 bytes apart); every scale is where lffn_i8_scale_index says. */
static void check_i8_scale_layout(void) {
    const int64_t tables = 3, tau = 2, out_dim = 64 * 10 - 5, trows = tables << tau, nch = 10;
    int8_t *q = test_alloc(trows * out_dim);
    float *sc = test_alloc(trows * nch * 4);
    memset(q, 1, (size_t)(trows * out_dim));
    for (int64_t i = 0; i < trows * nch; i++) sc[i] = (float)i; /* scale of (row t, chunk c) = t * nch + c */
    const int64_t bytes = lffn_tables_pack_size(tables, tau, out_dim, LFFN_TABLE_I8), vbytes = nch * trows * 64;
    TEST_EXPECT(bytes == nch * trows * (64 + 4), "int8 pack size %ld", (long)bytes);
    char *pk = test_alloc(bytes);
    TEST_EXPECT(lffn_tables_pack_i8(tables, tau, out_dim, q, sc, pk) == LFFN_SUCCESS, "pack i8");
    const float *ps = (const float *)(pk + vbytes);
    for (int64_t t = 0; t < trows; t++)
        for (int64_t c = 0; c < nch; c++) {
            const int64_t i = lffn_i8_scale_index(c, t, trows, nch), i0 = lffn_i8_scale_index(c / 8 * 8, t, trows, nch);
            TEST_EXPECT(i >= 0 && i < trows * nch && ps[i] == (float)(t * nch + c), "scale (%ld, %ld) at %ld", (long)t,
                        (long)c, (long)i);
            TEST_EXPECT((vbytes + 4 * i) / 64 == (vbytes + 4 * i0) / 64,
                        "row %ld: the scales of chunks %ld and %ld are in different lines", (long)t, (long)(c / 8 * 8),
                        (long)c);
        }
    free(q); free(sc); free(pk);
}

static void check_i8_errors(void) {
    float t[2 * 4] = {1, 2, 3, 4, 5, 6, 7, 8}, sc[2] = {1, 1};
    int8_t q[8] = {0};
    void *pk = test_alloc(lffn_tables_pack_size(1, 1, 4, LFFN_TABLE_I8));
    TEST_EXPECT(lffn_tables_pack_size(1, 1, 4, (lffn_table_dtype_t)3) < 0, "pack size: unknown dtype");
    TEST_EXPECT(lffn_tables_pack_f32(1, 1, 4, t, (lffn_table_dtype_t)3, pk) == LFFN_INVALID_ARGUMENTS, "pack: unknown dtype");
    t[5] = NAN;
    TEST_EXPECT(lffn_tables_pack_f32(1, 1, 4, t, LFFN_TABLE_I8, pk) == LFFN_INVALID_ARGUMENTS, "pack i8: NaN");
    TEST_EXPECT(lffn_tables_quantize_i8(1, 1, 4, t, q, sc) == LFFN_INVALID_ARGUMENTS, "quantize: NaN");
    t[5] = INFINITY;
    TEST_EXPECT(lffn_tables_quantize_i8(1, 1, 4, t, q, sc) == LFFN_INVALID_ARGUMENTS, "quantize: inf");
    TEST_EXPECT(lffn_tables_quantize_i8(1, 0, 4, t, q, sc) == LFFN_INVALID_ARGUMENTS, "quantize: tau 0");
    TEST_EXPECT(lffn_tables_quantize_i8(1, 1, 4, t, NULL, sc) == LFFN_INVALID_ARGUMENTS, "quantize: NULL q");
    sc[1] = -1.0f;
    TEST_EXPECT(lffn_tables_pack_i8(1, 1, 4, q, sc, pk) == LFFN_INVALID_ARGUMENTS, "pack i8: negative scale");
    sc[1] = NAN;
    TEST_EXPECT(lffn_tables_pack_i8(1, 1, 4, q, sc, pk) == LFFN_INVALID_ARGUMENTS, "pack i8: NaN scale");
    sc[1] = INFINITY;
    TEST_EXPECT(lffn_tables_pack_i8(1, 1, 4, q, sc, pk) == LFFN_INVALID_ARGUMENTS, "pack i8: inf scale");
    sc[1] = 1.0f;
    TEST_EXPECT(lffn_tables_pack_i8(1, 1, 4, q, sc, (char *)pk + 4) == LFFN_INVALID_ARGUMENTS, "pack i8: misaligned");
    TEST_EXPECT(lffn_tables_pack_bf16(1, 1, 4, NULL, pk) == LFFN_INVALID_ARGUMENTS, "pack bf16: NULL");
    const int32_t code[1] = {0};
    float out[4];
    TEST_EXPECT(lffn_gather_accum_packed(1, 1, 1, 4, code, 1, sc, 1, pk, (lffn_table_dtype_t)7, NULL, out, 4) ==
                    LFFN_INVALID_ARGUMENTS, "gather: unknown dtype");
    free(pk);
}

int main(void) {
    uint64_t seed = 101;
    const int64_t outs[] = {1, 15, 16, 31, 33, 64, 100, 129, 512};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        check_shape(7, 5, 3, outs[i], 1, seed++);
        check_shape(29, 20, 8, outs[i], i & 1, seed++);
    }
    check_shape(1, 1, 1, 64, 1, seed++);
    check_shape(77, 128, 8, 512, 1, seed++);
    check_shape(50, 37, 10, 70, 0, seed++); /* several partial table groups */
    check_shape(5, 3, 12, 70, 0, seed++);
    check_shape(4, 2, 16, 8, 1, seed++);
    check_shape(2 * 1024 + 77, 9, 6, 70, 1, seed++); /* the public entry's row blocks (1024 rows), a short last one */
    check_shape(29, 20, 8, 600, 1, seed++);  /* int8: 10 chunks, two scale runs (and a column tail) */
    check_shape(9, 5, 3, 64 * 17, 0, seed++); /* int8: 17 chunks, runs of 8, 8, 1 */

    /* pack: zero padding of the tail chunk, bf16 rounding */
    {
        float t[2 * 3] = {1.0f, 2.0f, 3.0f, -1.0f, 1.00390625f, 1.01171875f};
        const int64_t bytes = lffn_tables_pack_size(1, 1, 3, 1);
        uint16_t *pk = test_alloc(bytes);
        TEST_EXPECT(lffn_tables_pack_f32(1, 1, 3, t, 1, pk) == LFFN_SUCCESS, "pack bf16");
        int zeros = 1;
        for (int64_t i = 0; i < bytes / 2; i++) {
            const int64_t row = i / LFFN_PACK_C_BF16, pos = i % LFFN_PACK_C_BF16;
            int64_t col = -1;
            for (int64_t j = 0; j < LFFN_PACK_C_BF16; j++)
                if ((j & ~31) + lffn_bf16_pack_pos(j & 31) == pos) col = j;
            if (col < 3) TEST_EXPECT(pk[i] == lffn_f32_to_bf16_bits(t[row * 3 + col]), "bf16 pack value %ld", (long)i);
            else zeros &= pk[i] == 0;
        }
        TEST_EXPECT(zeros, "bf16 tail chunk not zero-padded");
        free(pk);
        float *pf = test_alloc(lffn_tables_pack_size(1, 1, 3, 0));
        TEST_EXPECT(lffn_tables_pack_f32(1, 1, 3, t, 0, pf) == LFFN_SUCCESS, "pack f32");
        for (int64_t row = 0; row < 2; row++)
            for (int64_t j = 0; j < LFFN_PACK_C_F32; j++)
                TEST_EXPECT(pf[row * LFFN_PACK_C_F32 + j] == (j < 3 ? t[row * 3 + j] : 0.0f), "f32 pack (%ld, %ld)",
                            (long)row, (long)j);
        free(pf);
    }

    /* invalid codes: rejected, nothing written */
    float table[4 * 16] = {0}, score[8] = {1, 1, 1, 1, 1, 1, 1, 1}, out[16];
    void *pk[3];
    for (int bf = 0; bf < 3; bf++) {
        pk[bf] = test_alloc(lffn_tables_pack_size(2, 1, 4, bf));
        TEST_EXPECT(lffn_tables_pack_f32(2, 1, 4, table, bf, pk[bf]) == LFFN_SUCCESS, "pack");
    }
    const int32_t bad_codes[][4] = {{0, 1, 1, 1}, {0, 1, -1, 0}, {0, 1, 0, 2}, {(int32_t)0x80000000, 0, 0, 0}};
    for (int i = 0; i < 4; i++) {
        const lffn_status_t want = i == 0 ? LFFN_SUCCESS : LFFN_INVALID_ARGUMENTS;
        TEST_FOR_EACH_ISA(isa) {
            for (int bf = 0; bf < 3; bf++) {
                memset(out, 0xA5, sizeof out);
                TEST_EXPECT(lffn_gather_accum_packed(2, 2, 1, 4, bad_codes[i], 2, score, 2, pk[bf], bf, NULL, out, 4) == want,
                            "codes case %d", i);
                if (want != LFFN_SUCCESS) {
                    uint32_t w0;
                    memcpy(&w0, out, 4);
                    TEST_EXPECT(w0 == 0xA5A5A5A5u, "output written despite a bad code");
                }
            }
        }
    }
    const int32_t c0[4] = {0, 0, 0, 0};
#define PG(rows, tables, tau, od, code, ldc, lds, p, ldo) \
    lffn_gather_accum_packed(rows, tables, tau, od, code, ldc, score, lds, p, 0, NULL, out, ldo)
    TEST_EXPECT(PG(-1, 2, 1, 4, c0, 2, 2, pk[0], 4) == LFFN_INVALID_ARGUMENTS, "rows < 0");
    TEST_EXPECT(PG(2, 0, 1, 4, c0, 2, 2, pk[0], 4) == LFFN_INVALID_ARGUMENTS, "tables 0");
    TEST_EXPECT(PG(2, 2, 0, 4, c0, 2, 2, pk[0], 4) == LFFN_INVALID_ARGUMENTS, "tau 0");
    TEST_EXPECT(PG(2, 2, 17, 4, c0, 2, 2, pk[0], 4) == LFFN_INVALID_ARGUMENTS, "tau 17");
    TEST_EXPECT(PG(2, 2, 1, 0, c0, 2, 2, pk[0], 4) == LFFN_INVALID_ARGUMENTS, "out_dim 0");
    TEST_EXPECT(PG(2, 2, 1, 4, c0, 1, 2, pk[0], 4) == LFFN_INVALID_ARGUMENTS, "ldcode");
    TEST_EXPECT(PG(2, 2, 1, 4, c0, 2, 1, pk[0], 4) == LFFN_INVALID_ARGUMENTS, "ldscore");
    TEST_EXPECT(PG(2, 2, 1, 4, c0, 2, 2, pk[0], 3) == LFFN_INVALID_ARGUMENTS, "ldout");
    TEST_EXPECT(PG(2, 2, 1, 4, c0, 2, 2, NULL, 4) == LFFN_INVALID_ARGUMENTS, "NULL packed");
    TEST_EXPECT(PG(2, 2, 1, 4, c0, 2, 2, (char *)pk[0] + 4, 4) == LFFN_INVALID_ARGUMENTS, "misaligned packed");
    TEST_EXPECT(PG(2, 2, 1, 4, NULL, 2, 2, pk[0], 4) == LFFN_INVALID_ARGUMENTS, "NULL code");
    TEST_EXPECT(lffn_gather_accum_packed(0, 2, 1, 4, NULL, 2, NULL, 2, NULL, 0, NULL, NULL, 4) == LFFN_SUCCESS, "no rows");
    TEST_EXPECT(lffn_tables_pack_size(0, 1, 4, 0) < 0 && lffn_tables_pack_size(2, 0, 4, 0) < 0 &&
                lffn_tables_pack_size(2, 17, 4, 1) < 0 && lffn_tables_pack_size(2, 1, 0, 0) < 0, "pack size of bad shapes");
    /* sizes whose element count overflows int64_t (or the 2^40 cap) are refused, never wrapped */
    TEST_EXPECT(lffn_tables_pack_size(1, 1, INT64_MAX - 10, 0) < 0, "pack size: out_dim + chunk padding overflows");
    TEST_EXPECT(lffn_tables_pack_size((int64_t)1 << 20, 16, (int64_t)1 << 40, 0) < 0, "pack size: product overflows");
    TEST_EXPECT(lffn_tables_pack_f32(2, 1, 4, NULL, 0, pk[0]) == LFFN_INVALID_ARGUMENTS, "pack NULL table");
    TEST_EXPECT(lffn_tables_pack_f32(2, 1, 4, table, 0, (char *)pk[0] + 4) == LFFN_INVALID_ARGUMENTS, "pack misaligned");
    TEST_EXPECT(lffn_tables_pack_f32(2, 0, 4, table, 0, pk[0]) == LFFN_INVALID_ARGUMENTS, "pack tau 0");
    free(pk[0]); free(pk[1]); free(pk[2]);
    check_i8_f64(seed++);
    check_i8_scale_layout();
    check_i8_errors();
    return test_finish("test-gather-packed");
}
