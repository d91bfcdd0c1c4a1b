/* lffn_gemm_pack_b_bf16 / lffn_gemm_packed_bf16: the packing against the bf16 rounding of each element; the
 * portable macro-kernel (the reference) against a double-precision loop over the bf16-rounded B; every vector path
 * against the reference with the ISA capped to it, over shapes with row, column and K remainders (odd K, K split
 * into blocks, M and N blocks crossed), both B layouts, with and without bias, both epilogues, leading dimensions
 * above the minimum; column ranges read as slices of the packed B; argument checks. */
#include <string.h>

#include "dispatch.h"
#include "test_util.h"

/* fp32 sums of k products (A rounded to bf16 on the vdpbf16ps path, so its inputs are made bf16-exact) */
#define LFFN_MAX_GEMM_BF16_NMSE 1e-10
/* A not bf16-exact: the vdpbf16ps path rounds it (relative error <= 2^-9 per element) */
#define LFFN_MAX_GEMM_BF16_ROUNDED_A_NMSE 3e-5

static const float SENTINEL = -12345.0f;

static float bf16_round(float x) { return lffn_bf16_bits_to_f32(lffn_f32_to_bf16_bits(x)); }

/* want = epilogue(A . bf16(op(B)) + bias) in double */
static void reference_f64(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb,
                          int trans_b, const float *bias, lffn_epilogue_t epi, float *c, int64_t ldc) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = bias ? bias[j] : 0.0;
            for (int64_t kk = 0; kk < k; kk++)
                s += (double)a[i * lda + kk] * (double)bf16_round(trans_b ? b[j * ldb + kk] : b[kk * ldb + j]);
            c[i * ldc + j] = (float)(epi == LFFN_EPILOGUE_GELU ? 0.5 * s * (1.0 + erf(s * 0.70710678118654752440)) : s);
        }
}

static double worst_row_nmse(int64_t m, int64_t n, const float *got, const float *want, int64_t ldc, int64_t *clobbered) {
    double worst = 0;
    for (int64_t r = 0; r < m; r++) {
        const double e = test_nmse(got + r * ldc, want + r * ldc, n);
        if (e > worst || e != e) worst = e != e ? INFINITY : e;
        for (int64_t j = n; j < ldc; j++) *clobbered += got[r * ldc + j] != SENTINEL;
    }
    return worst;
}

static void check_pack(void) {
    const int64_t n = 45, k = 7, ldb = 50;
    float *b = test_random(k * ldb, 3.0f);
    uint16_t *packed = test_alloc(lffn_gemm_pack_b_size_bf16(n, k));
    TEST_EXPECT(lffn_gemm_pack_b_size_bf16(n, k) == 64 * 8 * 2, "size %ld", (long)lffn_gemm_pack_b_size_bf16(n, k));
    TEST_EXPECT(lffn_gemm_pack_b_bf16(n, k, b, ldb, 0, packed) == LFFN_SUCCESS, "pack status");
    int64_t wrong = 0;
    for (int64_t p = 0; p < 2; p++)
        for (int64_t kk = 0; kk < 8; kk++)
            for (int64_t j = 0; j < 32; j++) {
                const int64_t col = p * 32 + j;
                const uint16_t want = col < n && kk < k ? lffn_f32_to_bf16_bits(b[kk * ldb + col]) : 0;
                wrong += packed[p * 8 * 32 + (kk / 2) * 64 + j * 2 + (kk & 1)] != want;
            }
    TEST_EXPECT(wrong == 0, "%ld packed values differ from the layout", (long)wrong);
    /* round to nearest even at a tie, NaN stays NaN */
    float special[4] = {1.00390625f /* 1 + 2^-8: tie, rounds to 1 */, 1.01171875f /* 1 + 3*2^-8: tie up */, NAN, -0.0f};
    TEST_EXPECT(lffn_gemm_pack_b_bf16(4, 1, special, 4, 0, packed) == LFFN_SUCCESS, "pack status");
    TEST_EXPECT(packed[0] == 0x3F80 && packed[2] == 0x3F82 && (packed[4] & 0x7FFF) > 0x7F80 && packed[6] == 0x8000,
                "rounding: %04x %04x %04x %04x", packed[0], packed[2], packed[4], packed[6]);
    free(b); free(packed);
}

static void check_shape(int64_t m, int64_t n, int64_t k, int trans_b, int with_bias, lffn_epilogue_t epi,
                        int bf16_exact_a) {
    const int64_t lda = k + 3, ldb = (trans_b ? k : n) + 5, ldc = n + 7;
    const int64_t brows = trans_b ? n : k;
    float *a = test_random(m * lda, 1.0f), *b = test_random(brows * ldb, 2.0f / sqrtf((float)k));
    if (bf16_exact_a)
        for (int64_t i = 0; i < m * lda; i++) a[i] = bf16_round(a[i]);
    float *bias = with_bias ? test_random(n, 0.5f) : NULL;
    float *want = test_alloc(m * ldc * 4), *got = test_alloc(m * ldc * 4);
    uint16_t *packed = test_alloc(lffn_gemm_pack_b_size_bf16(n, k));
    reference_f64(m, n, k, a, lda, b, ldb, trans_b, bias, epi, want, ldc);
    TEST_EXPECT(lffn_gemm_pack_b_bf16(n, k, b, ldb, trans_b, packed) == LFFN_SUCCESS, "pack status");
    TEST_FOR_EACH_ISA(isa) {
        for (int64_t i = 0; i < m * ldc; i++) got[i] = SENTINEL;
        lffn_status_t st = lffn_gemm_packed_bf16(m, n, k, a, lda, packed, bias, epi, got, ldc);
        TEST_EXPECT(st == LFFN_SUCCESS, "status %d", (int)st);
        int64_t clobbered = 0;
        const double worst = worst_row_nmse(m, n, got, want, ldc, &clobbered);
        const double limit = bf16_exact_a || isa < LFFN_ISA_AVX512_BF16 ? LFFN_MAX_GEMM_BF16_NMSE
                                                                      : LFFN_MAX_GEMM_BF16_ROUNDED_A_NMSE;
        TEST_EXPECT(worst <= limit && clobbered == 0,
                    "%s m %ld n %ld k %ld trans_b %d bias %d epi %d exact_a %d: row nmse %g (limit %g), %ld padding writes",
                    test_isa_name(isa), (long)m, (long)n, (long)k, trans_b, with_bias, (int)epi, bf16_exact_a, worst,
                    limit, (long)clobbered);
    }
    free(a); free(b); free(bias); free(want); free(got); free(packed);
}

/* Columns [32 p0, n) computed from the slice of the packed B that starts at panel p0 (how a thread takes a
 * column range) equal those columns of the whole product. */
static void check_column_slices(void) {
    const int64_t m = 27, n = 150, k = 385, p0 = 2, n0 = p0 * 32;
    float *a = test_random(m * k, 1.0f), *b = test_random(n * k, 0.1f), *bias = test_random(n, 0.5f);
    float *whole = test_alloc(m * n * 4), *part = test_alloc(m * n * 4);
    uint16_t *packed = test_alloc(lffn_gemm_pack_b_size_bf16(n, k));
    TEST_EXPECT(lffn_gemm_pack_b_bf16(n, k, b, k, 1, packed) == LFFN_SUCCESS, "pack status");
    const int64_t panel_bytes = lffn_gemm_pack_b_size_bf16(32, k);
    TEST_FOR_EACH_ISA(isa) {
        TEST_EXPECT(lffn_gemm_packed_bf16(m, n, k, a, k, packed, bias, LFFN_EPILOGUE_GELU, whole, n) == LFFN_SUCCESS &&
                        lffn_gemm_packed_bf16(m, n - n0, k, a, k, packed + p0 * panel_bytes / 2, bias + n0,
                                              LFFN_EPILOGUE_GELU, part + n0, n) == LFFN_SUCCESS,
                    "status");
        int64_t differ = 0;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = n0; j < n; j++) differ += memcmp(&whole[i * n + j], &part[i * n + j], 4) != 0;
        TEST_EXPECT(differ == 0, "%s: %ld values of the column slice differ", test_isa_name(isa), (long)differ);
    }
    free(a); free(b); free(bias); free(whole); free(part); free(packed);
}

/* The reference macro-kernel itself against the double loop: scalar level only. */
static void check_reference(void) {
    TEST_EXPECT(lffn_kernels_for(LFFN_ISA_SCALAR)->gemm_macro_bf16 == lffn_gemm_macro_bf16_ref, "scalar table");
}

static void check_arguments(void) {
    float buf[64] __attribute__((aligned(64))) = {0};
    uint16_t pk[4096] __attribute__((aligned(64))) = {0};
    const lffn_epilogue_t none = LFFN_EPILOGUE_NONE;
    TEST_EXPECT(lffn_gemm_pack_b_size_bf16(0, 3) == 0 && lffn_gemm_pack_b_size_bf16(3, 0) == 0, "size of nothing");
    TEST_EXPECT(lffn_gemm_pack_b_size_bf16(INT64_MAX, 2) == -1 && lffn_gemm_pack_b_size_bf16(64, INT64_MAX) == -1,
                "size overflow");
    TEST_EXPECT(lffn_gemm_pack_b_bf16(2, 2, buf, 1, 0, pk) == LFFN_INVALID_ARGUMENTS, "ldb<n");
    TEST_EXPECT(lffn_gemm_pack_b_bf16(2, 2, NULL, 2, 0, pk) == LFFN_INVALID_ARGUMENTS, "b NULL");
    TEST_EXPECT(lffn_gemm_pack_b_bf16(2, 2, buf, 2, 0, pk + 1) == LFFN_INVALID_ARGUMENTS, "packed unaligned");
    TEST_EXPECT(lffn_gemm_packed_bf16(-1, 2, 2, buf, 2, pk, NULL, none, buf, 2) == LFFN_INVALID_ARGUMENTS, "m<0");
    TEST_EXPECT(lffn_gemm_packed_bf16(1, 0, 2, buf, 2, pk, NULL, none, buf, 2) == LFFN_INVALID_ARGUMENTS, "n=0");
    TEST_EXPECT(lffn_gemm_packed_bf16(1, 2, 0, buf, 2, pk, NULL, none, buf, 2) == LFFN_INVALID_ARGUMENTS, "k=0");
    TEST_EXPECT(lffn_gemm_packed_bf16(1, 2, 3, buf, 2, pk, NULL, none, buf, 2) == LFFN_INVALID_ARGUMENTS, "lda<k");
    TEST_EXPECT(lffn_gemm_packed_bf16(1, 4, 2, buf, 2, pk, NULL, none, buf, 3) == LFFN_INVALID_ARGUMENTS, "ldc<n");
    TEST_EXPECT(lffn_gemm_packed_bf16(1, 2, 2, buf, 2, pk + 1, NULL, none, buf, 2) == LFFN_INVALID_ARGUMENTS, "B unaligned");
    TEST_EXPECT(lffn_gemm_packed_bf16(1, 2, 2, buf, 2, pk, NULL, (lffn_epilogue_t)7, buf, 2) == LFFN_INVALID_ARGUMENTS,
                "epilogue");
    TEST_EXPECT(lffn_gemm_packed_bf16(1, 2, 2, NULL, 2, pk, NULL, none, buf, 2) == LFFN_INVALID_ARGUMENTS, "a NULL");
    TEST_EXPECT(lffn_gemm_packed_bf16(0, 2, 2, NULL, 2, NULL, NULL, none, NULL, 2) == LFFN_SUCCESS, "m=0 is a no-op");
}

int main(void) {
    test_seed(15);
    check_pack();
    check_reference();
    check_arguments();
    check_column_slices();
    static const int64_t shapes[][3] = {
        {1, 1, 1},    {3, 5, 2},     {27, 1152, 384}, {27, 384, 1536}, {13, 33, 7},   {15, 31, 1025},
        {29, 64, 513}, {120, 300, 64}, {6, 17, 31},    {2, 260, 1},     {113, 40, 130}, {14, 32, 512},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        for (int variant = 0; variant < 4; variant++)
            check_shape(m, n, k, variant & 1, (variant >> 1) & 1, variant == 3 ? LFFN_EPILOGUE_GELU : LFFN_EPILOGUE_NONE,
                        1);
        check_shape(m, n, k, 1, 1, LFFN_EPILOGUE_GELU, 0);
    }
    return test_finish("test-gemm-bf16");
}
