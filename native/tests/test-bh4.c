/* lffn_bh4_project_f32: the reference against a double-precision projection, every vector path against the
 * reference, on shapes with row tails (rows not a multiple
 * of the 32-row tile), dims that are not powers of two, every block size 1..128 that divides P, output
 * cuts and strides; then argument checks. */
#include <math.h>
#include <string.h>

#include "lookup_internal.h"
#include "test_util.h"

/* fp32 paths sum in different orders: a normalised error of 1e-10 is ~1e-5 relative, far above rounding
 * noise (~1e-13) and far below any indexing mistake (~1). */
#define LFFN_MAX_BH4_F32_NMSE 1e-10

static int64_t next_pow2(int64_t v) {
    int64_t p = 1;
    while (p < v) p *= 2;
    return p;
}

static void check_shape(int64_t rows, int64_t dim, int64_t block, int64_t repeats, int64_t out_dim, int with_bias,
                        uint64_t seed) {
    const int64_t P = next_pow2(dim), ldu = dim + 3, ldz = out_dim + 5;
    test_seed(seed);
    float *u = test_random(rows * ldu, 2.0f);
    float *w = test_random(repeats * 4 * P * block, 1.7f / sqrtf((float)(block * P)));
    float *bias = with_bias ? test_random(out_dim, 1.0f) : NULL;
    float *want = test_alloc(rows * ldz * 4), *got = test_alloc(rows * ldz * 4);
    const int64_t ws_bytes = lffn_bh4_workspace_size(rows, P);
    TEST_EXPECT(ws_bytes >= 3 * P * 4, "workspace size %ld", (long)ws_bytes);
    void *ws = test_alloc(ws_bytes);
    lffn_bh4_project_f32_ref(rows, dim, P, block, repeats, out_dim, u, ldu, w, bias, ws, want, ldz);
    /* the reference against the projection in double */
    double *ud = malloc((size_t)(rows * dim) * sizeof(double)), *zd = malloc((size_t)(rows * out_dim) * sizeof(double));
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < dim; c++) ud[r * dim + c] = u[r * ldu + c];
    test_bh4_f64(rows, dim, P, block, out_dim, ud, dim, w, bias, zd, out_dim);
    for (int64_t r = 0; r < rows; r++) {
        double num = 0, den = 0;
        for (int64_t k = 0; k < out_dim; k++) {
            num += (want[r * ldz + k] - zd[r * out_dim + k]) * (want[r * ldz + k] - zd[r * out_dim + k]);
            den += zd[r * out_dim + k] * zd[r * out_dim + k];
        }
        TEST_EXPECT(num <= LFFN_MAX_BH4_F32_NMSE * den, "reference rows %ld dim %ld b %ld row %ld vs double: nmse %g",
                    (long)rows, (long)dim, (long)block, (long)r, num / den);
    }
    free(ud); free(zd);
    TEST_FOR_EACH_VECTOR_ISA(isa) {
        memset(got, 0xA5, (size_t)(rows * ldz * 4));
        TEST_EXPECT(lffn_bh4_project_f32(rows, dim, P, block, repeats, out_dim, u, ldu, w, bias, ws, got, ldz) ==
                        LFFN_SUCCESS,
                    "status");
        for (int64_t r = 0; r < rows; r++) {
            double e = test_nmse(got + r * ldz, want + r * ldz, out_dim);
            TEST_EXPECT(e <= LFFN_MAX_BH4_F32_NMSE, "%s rows %ld dim %ld b %ld R %ld out %ld row %ld: nmse %g",
                        test_isa_name(isa), (long)rows, (long)dim, (long)block, (long)repeats, (long)out_dim,
                        (long)r, e);
            uint32_t canary;
            memcpy(&canary, got + r * ldz + out_dim, 4);
            TEST_EXPECT(canary == 0xA5A5A5A5u, "%s: wrote past out_dim", test_isa_name(isa));
        }
    }
    free(u); free(w); free(bias); free(want); free(got); free(ws);
}

/* lffn_bh4_pack_f32: blocks up to 128 folded, (I (x) H_b) W computed here in double; larger blocks copied;
 * only the repeats that reach out_dim. */
static void check_pack(int64_t P, int64_t b, int64_t repeats, int64_t out_dim, uint64_t seed) {
    test_seed(seed);
    const int64_t used = (out_dim + P - 1) / P, n = used * 4 * P * b;
    float *w = test_random(repeats * 4 * P * b, 1.0f);
    const int64_t bytes = lffn_bh4_pack_size_f32(P, P, b, repeats, out_dim);
    TEST_EXPECT(bytes == n * 4, "pack size P %ld b %ld: %ld", (long)P, (long)b, (long)bytes);
    float *got = test_alloc(bytes);
    TEST_EXPECT(lffn_bh4_pack_f32(P, P, b, repeats, out_dim, w, got) == LFFN_SUCCESS, "pack status");
    int64_t bad = 0;
    for (int64_t blk = 0; blk < n / (b * b); blk++)
        for (int64_t o = 0; o < b; o++)
            for (int64_t i = 0; i < b; i++) {
                double want = 0;
                if (b > 128) want = w[blk * b * b + o * b + i];
                else /* H_b[o, j] = (-1)^popcount(o & j) */
                    for (int64_t j = 0; j < b; j++)
                        want += (__builtin_popcountll((unsigned long long)(o & j)) & 1 ? -1.0 : 1.0) * w[blk * b * b + j * b + i];
                bad += fabs(got[blk * b * b + o * b + i] - want) > 1e-5 * (1 + fabs(want)) * sqrt((double)b);
            }
    TEST_EXPECT(bad == 0, "pack P %ld b %ld: %ld values differ from (I (x) H_b) W", (long)P, (long)b, (long)bad);
    free(w);
    free(got);
}

int main(void) {
    uint64_t seed = 1;
    for (int64_t b = 1; b <= 256; b *= 2) check_pack(b < 16 ? 16 : 512, b, 3, b < 16 ? 40 : 1000, seed++);
    TEST_EXPECT(lffn_bh4_pack_size_f32(8, 8, 3, 1, 8) < 0 && lffn_bh4_pack_size_f32(8, 8, 4, 1, 9) < 0 &&
                    lffn_bh4_pack_size_f32(5, 16, 4, 1, 8) < 0, "pack size of bad shapes");
    /* every block size dividing P, P = 128 (dim 100 padded) and P = 512 (paper, dim 512) */
    for (int64_t b = 1; b <= 128; b *= 2) {
        check_shape(37, 100, b, 2, 200, 1, seed++);
        check_shape(70, 512, b, 2, 1024, b & 1, seed++);
    }
    /* small and odd shapes: P = 1, 4, 16; cut outputs; an extra repeat that is not needed */
    check_shape(3, 1, 1, 3, 2, 1, seed++);
    check_shape(33, 3, 2, 2, 7, 1, seed++);
    check_shape(31, 16, 16, 1, 16, 0, seed++);
    check_shape(32, 16, 4, 3, 33, 1, seed++);
    check_shape(1, 200, 8, 2, 300, 1, seed++);
    check_shape(65, 256, 64, 5, 1000, 1, seed++);

    /* argument checks */
    float dummy[64] __attribute__((aligned(64))) = {0};
    void *ws = test_alloc(lffn_bh4_workspace_size(4, 8));
#define BH4(rows, dim, P, b, R, out, ldu, ldz, wsp) \
    lffn_bh4_project_f32(rows, dim, P, b, R, out, dummy, ldu, dummy, NULL, wsp, dummy, ldz)
    TEST_EXPECT(BH4(4, 8, 8, 4, 1, 8, 8, 8, ws) == LFFN_SUCCESS, "valid call");
    TEST_EXPECT(BH4(-1, 8, 8, 4, 1, 8, 8, 8, ws) == LFFN_INVALID_ARGUMENTS, "negative rows");
    TEST_EXPECT(BH4(4, 0, 1, 1, 1, 1, 1, 1, ws) == LFFN_INVALID_ARGUMENTS, "dim 0");
    TEST_EXPECT(BH4(4, 6, 6, 2, 1, 6, 6, 6, ws) == LFFN_INVALID_ARGUMENTS, "P not a power of two");
    TEST_EXPECT(BH4(4, 5, 16, 2, 1, 8, 8, 8, ws) == LFFN_INVALID_ARGUMENTS, "P not the next power of two");
    TEST_EXPECT(BH4(4, 8, 4, 2, 1, 4, 8, 8, ws) == LFFN_INVALID_ARGUMENTS, "P < dim");
    TEST_EXPECT(BH4(4, 8, 8, 3, 1, 8, 8, 8, ws) == LFFN_INVALID_ARGUMENTS, "block does not divide P");
    TEST_EXPECT(BH4(4, 8, 8, 16, 1, 8, 8, 8, ws) == LFFN_INVALID_ARGUMENTS, "block > P");
    TEST_EXPECT(BH4(4, 8, 8, 0, 1, 8, 8, 8, ws) == LFFN_INVALID_ARGUMENTS, "block 0");
    TEST_EXPECT(BH4(4, 8, 8, 4, 1, 9, 8, 9, ws) == LFFN_INVALID_ARGUMENTS, "R * P < out_dim");
    TEST_EXPECT(BH4(4, 8, 8, 4, 0, 8, 8, 8, ws) == LFFN_INVALID_ARGUMENTS, "R 0");
    TEST_EXPECT(BH4(4, 8, 8, 4, 1, 0, 8, 8, ws) == LFFN_INVALID_ARGUMENTS, "out_dim 0");
    TEST_EXPECT(BH4(4, 8, 8, 4, 1, 8, 7, 8, ws) == LFFN_INVALID_ARGUMENTS, "ldu < dim");
    TEST_EXPECT(BH4(4, 8, 8, 4, 1, 8, 8, 7, ws) == LFFN_INVALID_ARGUMENTS, "ldz < out_dim");
    TEST_EXPECT(BH4(4, 8, 8, 4, 1, 8, 8, 8, NULL) == LFFN_INVALID_ARGUMENTS, "NULL workspace");
    TEST_EXPECT(BH4(4, 8, 8, 4, 1, 8, 8, 8, (char *)ws + 4) == LFFN_INVALID_ARGUMENTS, "misaligned workspace");
    TEST_EXPECT(lffn_bh4_project_f32(4, 8, 8, 4, 1, 8, NULL, 8, dummy, NULL, ws, dummy, 8) ==
                    LFFN_INVALID_ARGUMENTS, "NULL u");
    TEST_EXPECT(BH4(0, 8, 8, 4, 1, 8, 8, 8, NULL) == LFFN_SUCCESS, "no rows, no workspace needed");
    TEST_EXPECT(lffn_bh4_workspace_size(4, 6) < 0, "workspace size of a bad P");
    TEST_EXPECT(lffn_bh4_workspace_size(-1, 8) < 0, "workspace size of negative rows");
    free(ws);
    return test_finish("test-bh4");
}
