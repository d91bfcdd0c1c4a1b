/* lffn_gemm_f32 / lffn_gemm_packed_f32: every ISA path against the double-precision reference, over shapes
 * with row, column and K remainders (and shapes that cross the M, N and K blocks), both B layouts, with and
 * without bias, both epilogues, leading dimensions above the minimum; the vector GELU against erf in double;
 * argument checks. */
#include <string.h>

#include "gemm_internal.h"
#include "test_util.h"

#define LFFN_MAX_GEMM_F32_NMSE 1e-10
#define LFFN_MAX_GELU_F32_ABS 1.5e-7 /* |gelu(x) - exact| / max(1, |x|) */

static const float SENTINEL = -12345.0f;

static void check_shape(int64_t m, int64_t n, int64_t k, int trans_b, int with_bias, lffn_epilogue_t epi) {
    const int64_t lda = k + 3, ldb = (trans_b ? k : n) + 5, ldc = n + 7;
    const int64_t brows = trans_b ? n : k;
    float *a = test_random(m * lda, 1.0f), *b = test_random(brows * ldb, 2.0f / sqrtf((float)k));
    float *bias = with_bias ? test_random(n, 0.5f) : NULL;
    float *want = test_alloc(m * ldc * 4), *got = test_alloc(m * ldc * 4);
    float *packed = test_alloc(lffn_gemm_pack_b_size_f32(n, k));
    lffn_gemm_f32_ref(m, n, k, a, lda, b, ldb, trans_b, bias, epi, want, ldc);
    TEST_EXPECT(lffn_gemm_pack_b_f32(n, k, b, ldb, trans_b, packed) == LFFN_SUCCESS, "pack status");
    TEST_FOR_EACH_ISA(isa) {
        for (int use_packed = 0; use_packed < 2; use_packed++) {
            for (int64_t i = 0; i < m * ldc; i++) got[i] = SENTINEL;
            lffn_status_t st = use_packed ? lffn_gemm_packed_f32(m, n, k, a, lda, packed, bias, epi, got, ldc)
                                          : lffn_gemm_f32(m, n, k, a, lda, b, ldb, trans_b, bias, epi, got, ldc);
            TEST_EXPECT(st == LFFN_SUCCESS, "status %d", (int)st);
            double worst = 0;
            int64_t clobbered = 0;
            for (int64_t r = 0; r < m; r++) {
                double e = test_nmse(got + r * ldc, want + r * ldc, n);
                if (e > worst) worst = e;
                for (int64_t j = n; j < ldc; j++) clobbered += got[r * ldc + j] != SENTINEL;
            }
            TEST_EXPECT(worst <= LFFN_MAX_GEMM_F32_NMSE && clobbered == 0,
                        "%s %s m %ld n %ld k %ld trans_b %d bias %d epi %d: row nmse %g, %ld padding writes",
                        test_isa_name(isa), use_packed ? "packed" : "unpacked", (long)m, (long)n, (long)k, trans_b,
                        with_bias, (int)epi, worst, (long)clobbered);
        }
    }
    free(a); free(b); free(bias); free(want); free(got); free(packed);
}

/* A row of C must not depend on how rows and columns are split into calls (the encoder splits rows across
 * threads for batches and panel-aligned columns for one sentence, and results must be the same bits): the
 * few-rows order (m <= LFFN_GEMM_SMALL_M), the many-rows order and column slices of the packed B all give the
 * same bits as one call over everything, on every ISA path. */
static void check_split_bits(int64_t m, int64_t n, int64_t k, lffn_epilogue_t epi) {
    const int64_t panels = (n + LFFN_GEMM_NR - 1) / LFFN_GEMM_NR;
    float *a = test_random(m * k, 1.0f), *b = test_random(n * k, 2.0f / sqrtf((float)k)), *bias = test_random(n, 0.5f);
    float *whole = test_alloc(m * n * 4), *parts = test_alloc(m * n * 4);
    float *packed = test_alloc(lffn_gemm_pack_b_size_f32(n, k));
    TEST_EXPECT(lffn_gemm_pack_b_f32(n, k, b, k, 1, packed) == LFFN_SUCCESS, "pack status");
    TEST_FOR_EACH_ISA(isa) {
        TEST_EXPECT(lffn_gemm_packed_f32(m, n, k, a, k, packed, bias, epi, whole, n) == LFFN_SUCCESS, "status");
        /* rows in uneven calls (1, 5, 27, rest), each call's columns in up to three panel-aligned slices */
        const int64_t row_cuts[] = {0, 1, 6, 33, m};
        for (int rc = 0; rc < 4; rc++) {
            const int64_t r0 = row_cuts[rc] < m ? row_cuts[rc] : m, r1 = row_cuts[rc + 1] < m ? row_cuts[rc + 1] : m;
            if (r0 >= r1) continue;
            for (int part = 0; part < 3; part++) {
                const int64_t c0 = panels * part / 3 * LFFN_GEMM_NR, c1e = panels * (part + 1) / 3 * LFFN_GEMM_NR;
                const int64_t c1 = c1e < n ? c1e : n;
                if (c0 >= c1) continue;
                TEST_EXPECT(lffn_gemm_packed_f32(r1 - r0, c1 - c0, k, a + r0 * k, k, packed + c0 * k, bias + c0, epi,
                                                 parts + r0 * n + c0, n) == LFFN_SUCCESS,
                            "status");
            }
        }
        TEST_EXPECT(memcmp(whole, parts, (size_t)(m * n) * 4) == 0, "%s m %ld n %ld k %ld: split calls differ in bits",
                    test_isa_name(isa), (long)m, (long)n, (long)k);
    }
    free(a); free(b); free(bias); free(whole); free(parts); free(packed);
}

static void check_gelu(void) {
    const int64_t count = 200001;
    float *x = test_alloc(count * 4), *y = test_alloc(count * 4);
    for (int64_t i = 0; i < count; i++) x[i] = -10.0f + 20.0f * (float)i / (float)(count - 1);
    x[0] = 0.0f; x[1] = -0.0f; x[2] = 1e-30f; x[3] = -30.0f; x[4] = 30.0f; x[5] = 1e-6f;
    void (*fns[])(int64_t, float *) = {lffn_gelu_f32_scalar, lffn_gelu_f32_avx2, lffn_gelu_f32_avx512};
    for (int f = 0; f < 3 && f <= (int)lffn_cpu_isa(); f++) {
        memcpy(y, x, (size_t)count * 4);
        fns[f](count - 3, y); /* odd length: the tail path too */
        double worst = 0;
        for (int64_t i = 0; i < count - 3; i++) {
            double xd = x[i], exact = 0.5 * xd * (1.0 + erf(xd * 0.70710678118654752440));
            double e = fabs((double)y[i] - exact) / (fabs(xd) > 1 ? fabs(xd) : 1);
            if (e > worst) worst = e;
        }
        TEST_EXPECT(worst <= LFFN_MAX_GELU_F32_ABS, "gelu path %d: max scaled abs error %g", f, worst);
        printf("gelu path %s: max |err|/max(1,|x|) = %.3g\n", test_isa_name((lffn_isa_t)f), worst);
    }
    free(x); free(y);
}

static void check_arguments(void) {
    float buf[64] __attribute__((aligned(64))) = {0};
    const lffn_epilogue_t none = LFFN_EPILOGUE_NONE;
    TEST_EXPECT(lffn_gemm_f32(-1, 2, 2, buf, 2, buf, 2, 0, NULL, none, buf, 2) == LFFN_INVALID_ARGUMENTS, "m<0");
    TEST_EXPECT(lffn_gemm_f32(1, 0, 2, buf, 2, buf, 2, 0, NULL, none, buf, 2) == LFFN_INVALID_ARGUMENTS, "n=0");
    TEST_EXPECT(lffn_gemm_f32(1, 2, 0, buf, 2, buf, 2, 0, NULL, none, buf, 2) == LFFN_INVALID_ARGUMENTS, "k=0");
    TEST_EXPECT(lffn_gemm_f32(1, 2, 3, buf, 2, buf, 2, 0, NULL, none, buf, 2) == LFFN_INVALID_ARGUMENTS, "lda<k");
    TEST_EXPECT(lffn_gemm_f32(1, 4, 2, buf, 2, buf, 3, 0, NULL, none, buf, 4) == LFFN_INVALID_ARGUMENTS, "ldb<n");
    TEST_EXPECT(lffn_gemm_f32(1, 2, 4, buf, 4, buf, 3, 1, NULL, none, buf, 2) == LFFN_INVALID_ARGUMENTS, "ldb<k");
    TEST_EXPECT(lffn_gemm_f32(1, 4, 2, buf, 2, buf, 4, 0, NULL, none, buf, 3) == LFFN_INVALID_ARGUMENTS, "ldc<n");
    TEST_EXPECT(lffn_gemm_f32(1, 2, 2, NULL, 2, buf, 2, 0, NULL, none, buf, 2) == LFFN_INVALID_ARGUMENTS, "a NULL");
    TEST_EXPECT(lffn_gemm_f32(1, 2, 2, buf, 2, NULL, 2, 0, NULL, none, buf, 2) == LFFN_INVALID_ARGUMENTS, "b NULL");
    TEST_EXPECT(lffn_gemm_f32(1, 2, 2, buf, 2, buf, 2, 0, NULL, none, NULL, 2) == LFFN_INVALID_ARGUMENTS, "c NULL");
    TEST_EXPECT(lffn_gemm_f32(1, 2, 2, buf, 2, buf, 2, 0, NULL, (lffn_epilogue_t)7, buf, 2) == LFFN_INVALID_ARGUMENTS,
                "bad epilogue");
    TEST_EXPECT(lffn_gemm_f32(0, 2, 2, NULL, 2, NULL, 2, 0, NULL, none, NULL, 2) == LFFN_SUCCESS, "m=0 is a no-op");
    TEST_EXPECT(lffn_gemm_pack_b_size_f32(0, 4) == 0 && lffn_gemm_pack_b_size_f32(4, -1) == 0, "bad pack size");
    TEST_EXPECT(lffn_gemm_pack_b_size_f32(33, 3) == 64 * 3 * 4, "pack size pads n to 32");
    TEST_EXPECT(lffn_gemm_pack_b_f32(0, 2, buf, 2, 0, buf) == LFFN_INVALID_ARGUMENTS, "pack n=0");
    TEST_EXPECT(lffn_gemm_pack_b_f32(2, 2, buf, 1, 0, buf) == LFFN_INVALID_ARGUMENTS, "pack ldb<n");
    TEST_EXPECT(lffn_gemm_pack_b_f32(2, 2, NULL, 2, 0, buf) == LFFN_INVALID_ARGUMENTS, "pack b NULL");
    TEST_EXPECT(lffn_gemm_pack_b_f32(2, 2, buf, 2, 0, NULL) == LFFN_INVALID_ARGUMENTS, "pack dst NULL");
    TEST_EXPECT(lffn_gemm_packed_f32(1, 2, 2, buf, 1, buf, NULL, none, buf, 2) == LFFN_INVALID_ARGUMENTS, "lda<k");
    TEST_EXPECT(lffn_gemm_packed_f32(1, 2, 2, buf, 2, NULL, NULL, none, buf, 2) == LFFN_INVALID_ARGUMENTS, "packed NULL");
    TEST_EXPECT(lffn_gemm_packed_f32(1, 2, 2, buf, 2, buf, NULL, (lffn_epilogue_t)-1, buf, 2) ==
                    LFFN_INVALID_ARGUMENTS, "bad epilogue");
}

int main(void) {
    /* fixed shapes: tiny, exact tiles, one past a tile, and blocks of M (112), N (256, 64) and K (256, 128) */
    const int64_t fixed[][3] = {{1, 1, 1},   {1, 32, 1},    {14, 32, 16},  {15, 33, 17},  {6, 16, 8},
                                {13, 31, 7}, {29, 65, 129}, {113, 257, 257}, {250, 600, 700}, {7, 300, 1100},
                                /* the few-rows order (m <= 42): one sentence, uneven slivers, N past a block */
                                {27, 300, 384}, {30, 576, 384}, {33, 97, 1100}, {42, 288, 64}, {43, 65, 33},
                                {5, 1100, 31}};
    int cases = 0;
    for (size_t s = 0; s < sizeof fixed / sizeof fixed[0]; s++, cases++) {
        test_seed(1000 + s);
        check_shape(fixed[s][0], fixed[s][1], fixed[s][2], (int)(s & 1), (int)(s % 3 != 0),
                    (lffn_epilogue_t)((s >> 1) & 1));
    }
    test_seed(7);
    for (int t = 0; t < 48; t++, cases++) {
        const int64_t m = 1 + (int64_t)((test_uniform() + 1) * 150), n = 1 + (int64_t)((test_uniform() + 1) * 150),
                      k = 1 + (int64_t)((test_uniform() + 1) * 150);
        const uint64_t saved = test_rng_state;
        check_shape(m, n, k, t & 1, (t >> 1) & 1, (lffn_epilogue_t)((t >> 2) & 1));
        test_rng_state = saved ^ (uint64_t)t; /* shapes do not depend on the data drawn */
    }
    const int64_t split[][3] = {{60, 300, 384}, {27, 1152, 384}, {150, 97, 1536}, {33, 33, 700}};
    for (size_t s = 0; s < sizeof split / sizeof split[0]; s++, cases++) {
        test_seed(2000 + s);
        check_split_bits(split[s][0], split[s][1], split[s][2], (lffn_epilogue_t)(s & 1));
    }
    printf("test-gemm: %d shapes\n", cases);
    check_gelu();
    check_arguments();
    return test_finish("test-gemm");
}
