/* Attention kernels: lffn_softmax_rows_f32, lffn_add_f32, lffn_attention_f32 and lffn_attention_rows_f32, every
 * ISA path against the references, with column tails, strides, masks (0 / large negative) and in-place use. */
#include <string.h>

#include "attention_internal.h"
#include "test_util.h"

#define MAX_SOFTMAX_ABS 2e-7   /* probabilities in [0, 1] */
#define MAX_ATTENTION_NMSE 1e-11

static float max_abs_diff(const float *a, const float *b, int64_t n) {
    float m = 0;
    for (int64_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (!(d <= m)) m = d; /* NaN wins */
    }
    return m;
}

static void test_softmax(void) {
    const int64_t shapes[][2] = {{1, 1}, {3, 7}, {5, 16}, {7, 17}, {4, 31}, {33, 200}, {12, 384}, {2, 1000}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t rows = shapes[s][0], cols = shapes[s][1], ld = cols + 5;
        test_seed(7 + s);
        float *x = test_random(rows * ld, 8.0f), *mask = test_random(cols, 1.0f);
        for (int64_t c = 0; c < cols; c++) mask[c] = (c % 3 == 2 && c > 0) ? -1000.0f : (c % 5 == 4 ? -3.4e38f : 0.0f);
        float *want = test_alloc(rows * ld * 4), *got = test_alloc(rows * ld * 4);
        for (int with_mask = 0; with_mask < 2; with_mask++) {
            const float *m = with_mask ? mask : NULL;
            const float scale = with_mask ? 0.1767767f : 1.0f;
            lffn_softmax_rows_f32_ref(rows, cols, x, ld, scale, m, want, ld);
            for (int64_t r = 0; r < rows; r++) { /* the reference against the softmax in double */
                double mx = -INFINITY, sum = 0, worst = 0;
                for (int64_t c = 0; c < cols; c++) mx = fmax(mx, (double)x[r * ld + c] * scale + (m ? m[c] : 0.0));
                for (int64_t c = 0; c < cols; c++) sum += exp((double)x[r * ld + c] * scale + (m ? m[c] : 0.0) - mx);
                for (int64_t c = 0; c < cols; c++)
                    worst = fmax(worst, fabs(want[r * ld + c] - exp((double)x[r * ld + c] * scale + (m ? m[c] : 0.0) - mx) / sum));
                TEST_EXPECT(worst <= MAX_SOFTMAX_ABS, "softmax reference cols %ld mask %d row %ld vs double: %g", (long)cols,
                            with_mask, (long)r, worst);
            }
            TEST_FOR_EACH_VECTOR_ISA(isa) {
                TEST_EXPECT(lffn_softmax_rows_f32(rows, cols, x, ld, scale, m, got, ld) == LFFN_SUCCESS, "status");
                for (int64_t r = 0; r < rows; r++) {
                    float e = max_abs_diff(got + r * ld, want + r * ld, cols);
                    TEST_EXPECT(e <= MAX_SOFTMAX_ABS, "softmax %s rows %ld cols %ld mask %d row %ld: max |diff| %g",
                                test_isa_name(isa), (long)rows, (long)cols, with_mask, (long)r, e);
                }
                /* in place */
                float *xy = test_alloc(rows * ld * 4);
                memcpy(xy, x, (size_t)(rows * ld * 4));
                TEST_EXPECT(lffn_softmax_rows_f32(rows, cols, xy, ld, scale, m, xy, ld) == LFFN_SUCCESS, "status");
                for (int64_t r = 0; r < rows; r++) {
                    float e = max_abs_diff(xy + r * ld, want + r * ld, cols);
                    TEST_EXPECT(e <= MAX_SOFTMAX_ABS, "softmax in place %s cols %ld: %g", test_isa_name(isa),
                                (long)cols, e);
                }
                free(xy);
            }
        }
        free(x); free(mask); free(want); free(got);
    }
    TEST_EXPECT(lffn_softmax_rows_f32(1, 0, NULL, 0, 1.0f, NULL, NULL, 0) == LFFN_INVALID_ARGUMENTS, "cols 0");
    TEST_EXPECT(lffn_softmax_rows_f32(2, 4, NULL, 4, 1.0f, NULL, NULL, 4) == LFFN_INVALID_ARGUMENTS, "NULL");
    float one = 1;
    TEST_EXPECT(lffn_softmax_rows_f32(1, 1, &one, 1, NAN, NULL, &one, 1) == LFFN_INVALID_ARGUMENTS, "NaN scale");
}

static void test_add(void) {
    const int64_t shapes[][2] = {{1, 1}, {3, 7}, {5, 16}, {7, 17}, {9, 384}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t rows = shapes[s][0], cols = shapes[s][1], ld = cols + 2;
        float *a = test_random(rows * ld, 1.0f), *b = test_random(rows * ld, 1.0f);
        float *want = test_alloc(rows * ld * 4), *got = test_alloc(rows * ld * 4);
        lffn_add_f32_ref(rows, cols, a, ld, b, ld, want, ld);
        for (int64_t r = 0; r < rows; r++) /* one rounding of the exact sum */
            for (int64_t c = 0; c < cols; c++)
                TEST_EXPECT(want[r * ld + c] == (float)((double)a[r * ld + c] + b[r * ld + c]), "add reference");
        TEST_FOR_EACH_VECTOR_ISA(isa) {
            TEST_EXPECT(lffn_add_f32(rows, cols, a, ld, b, ld, got, ld) == LFFN_SUCCESS, "status");
            for (int64_t r = 0; r < rows; r++)
                TEST_EXPECT(max_abs_diff(got + r * ld, want + r * ld, cols) == 0, "add %s cols %ld",
                            test_isa_name(isa), (long)cols);
        }
        free(a); free(b); free(want); free(got);
    }
    TEST_EXPECT(lffn_add_f32(1, 4, NULL, 4, NULL, 4, NULL, 4) == LFFN_INVALID_ARGUMENTS, "NULL");
}

static void test_attention(void) {
    /* seq_len, heads, head_size */
    /* head sizes: below, at and past one vector, past the fused P.V's 64 columns, past its 256-column limit */
    const int64_t shapes[][3] = {{1, 1, 4},  {5, 2, 8},   {13, 4, 32}, {20, 12, 32}, {77, 3, 64},
                                 {130, 2, 16}, {29, 3, 20}, {17, 2, 48}, {33, 2, 80}, {9, 1, 300}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t t = shapes[s][0], heads = shapes[s][1], hs = shapes[s][2], w = heads * hs;
        const int64_t ldqkv = 3 * w + 4, ldo = w + 3;
        test_seed(99 + s);
        float *qkv = test_random(t * ldqkv, 2.0f), *mask = test_random(t, 1.0f);
        for (int64_t j = 0; j < t; j++) mask[j] = j >= t - t / 4 && j > 0 ? -1000.0f : 0.0f;
        float *want = test_alloc(t * ldo * 4), *got = test_alloc(t * ldo * 4);
        void *ws = test_alloc(lffn_attention_workspace_size(t));
        const float scale = 1.0f / sqrtf((float)hs);
        double *pref = malloc((size_t)t * sizeof(double));
        lffn_attention_f32_ref(t, t, heads, hs, qkv, ldqkv, qkv + w, ldqkv, qkv + 2 * w, ldqkv, scale, mask, pref, want,
                               ldo);
        free(pref);
        TEST_FOR_EACH_ISA(isa) {
            TEST_EXPECT(lffn_attention_f32(t, heads, hs, qkv, ldqkv, qkv + w, ldqkv, qkv + 2 * w, ldqkv, scale, mask,
                                           ws, got, ldo) == LFFN_SUCCESS, "status");
            for (int64_t i = 0; i < t; i++) {
                double e = test_nmse(got + i * ldo, want + i * ldo, w);
                TEST_EXPECT(e <= MAX_ATTENTION_NMSE, "attention %s T %ld heads %ld hs %ld row %ld: nmse %g",
                            test_isa_name(isa), (long)t, (long)heads, (long)hs, (long)i, e);
            }
            /* any range of the queries: the same bits as the whole call (threads split a sequence this way) */
            const int64_t cuts[][2] = {{0, 1}, {t / 3, t - t / 3}, {t - 1, t}, {t / 2, t}};
            for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
                const int64_t r0 = cuts[c][0], r1 = cuts[c][1];
                if (r1 <= r0) continue;
                float *part = test_alloc(t * ldo * 4);
                TEST_EXPECT(lffn_attention_rows_f32(r1 - r0, t, heads, hs, qkv + r0 * ldqkv, ldqkv, qkv + w, ldqkv,
                                                    qkv + 2 * w, ldqkv, scale, mask, ws, part + r0 * ldo, ldo) ==
                                LFFN_SUCCESS,
                            "status");
                for (int64_t i = r0; i < r1; i++)
                    TEST_EXPECT(memcmp(part + i * ldo, got + i * ldo, (size_t)w * 4) == 0,
                                "attention rows %s T %ld hs %ld rows [%ld, %ld) row %ld differs from the whole call",
                                test_isa_name(isa), (long)t, (long)hs, (long)r0, (long)r1, (long)i);
                free(part);
            }
        }
        free(qkv); free(mask); free(want); free(got); free(ws);
    }
    TEST_EXPECT(lffn_attention_workspace_size(0) == -1, "workspace of 0 tokens");
    float x[16] __attribute__((aligned(64))) = {0};
    TEST_EXPECT(lffn_attention_f32(1, 2, 4, x, 4, x, 8, x, 8, 1.0f, NULL, x, x, 8) == LFFN_INVALID_ARGUMENTS,
                "ldq < heads * head_size");
    TEST_EXPECT(lffn_attention_rows_f32(3, 2, 1, 4, x, 4, x, 4, x, 4, 1.0f, NULL, x, x, 4) == LFFN_INVALID_ARGUMENTS,
                "more queries than keys");
    TEST_EXPECT(lffn_attention_rows_f32(0, 2, 1, 4, x, 4, x, 4, x, 4, 1.0f, NULL, x, x, 4) == LFFN_INVALID_ARGUMENTS,
                "no queries");
}

int main(void) {
    test_softmax();
    test_add();
    test_attention();
    return test_finish("test-attention");
}
