/* Small helpers shared by the C kernel tests: seeded random data, NMSE, and the loop over ISA paths. */
#ifndef LFFN_TEST_UTIL_H
#define LFFN_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "lffn_internal.h"

/* xorshift64*: the same data on every machine */
static uint64_t test_rng_state = 0x9E3779B97F4A7C15ull;
static inline void test_seed(uint64_t s) { test_rng_state = s ? s : 1; }
static inline float test_uniform(void) { /* in [-1, 1) */
    test_rng_state ^= test_rng_state >> 12;
    test_rng_state ^= test_rng_state << 25;
    test_rng_state ^= test_rng_state >> 27;
    uint64_t v = test_rng_state * 0x2545F4914F6CDD1Dull;
    return (float)((double)(v >> 11) / 4503599627370496.0 - 1.0);
}
static inline float *test_random(int64_t n, float scale) {
    float *p = aligned_alloc(64, (size_t)((n * 4 + 63) / 64 * 64 + 64));
    for (int64_t i = 0; i < n; i++) p[i] = test_uniform() * scale;
    return p;
}
static inline void *test_alloc(int64_t bytes) {
    void *p = aligned_alloc(64, (size_t)((bytes + 63) / 64 * 64 + 64));
    for (int64_t i = 0; i < bytes; i++) ((unsigned char *)p)[i] = 0xA5; /* garbage, not zeros */
    return p;
}

/* normalised mean squared error: sum (a-b)^2 / sum b^2 */
static inline double test_nmse(const float *a, const float *b, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * (double)b[i];
    }
    return den > 0 ? num / den : num;
}

static int test_failures = 0;
#define TEST_EXPECT(cond, ...)                                                                                \
    do {                                                                                                      \
        if (!(cond)) {                                                                                        \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                              \
            fprintf(stderr, __VA_ARGS__);                                                                     \
            fprintf(stderr, "\n");                                                                            \
            test_failures++;                                                                                  \
        }                                                                                                     \
    } while (0)

static const char *test_isa_name(lffn_isa_t isa) {
    static const char *names[] = {"scalar", "avx2", "avx512", "avx512-bf16"};
    return names[isa];
}

/* Runs body once per ISA level this CPU has, with the cap set to it; restores the cap after. */
#define TEST_FOR_EACH_ISA(isa_var)                                                                            \
    for (lffn_isa_t isa_var = LFFN_ISA_SCALAR; isa_var <= lffn_cpu_isa() && lffn_set_max_isa(isa_var) == 0;   \
         isa_var = (lffn_isa_t)(isa_var + 1))

/* Runs body once per vector ISA level this CPU has (AVX2 and up): the levels whose kernels differ from the
 * references. The references themselves (the scalar level's kernels) are judged against double-precision
 * loops written in the tests. */
#define TEST_FOR_EACH_VECTOR_ISA(isa_var)                                                                     \
    for (lffn_isa_t isa_var = LFFN_ISA_AVX2; isa_var <= lffn_cpu_isa() && lffn_set_max_isa(isa_var) == 0;     \
         isa_var = (lffn_isa_t)(isa_var + 1))

/* The BH4 projection in double from SPEC.md (independent of the library): z[r, 0:out_dim] of u [rows, dim]. */
static inline void test_bh4_f64(int64_t rows, int64_t dim, int64_t P, int64_t block, int64_t out_dim, const double *u,
                                int64_t ldu, const float *w, const float *bias, double *z, int64_t ldz) {
    double *up = malloc((size_t)P * sizeof(double)), *y = malloc((size_t)P * sizeof(double));
    double *t = malloc((size_t)P * sizeof(double));
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < P; c++) up[c] = c < dim ? u[r * ldu + c] : 0.0;
        for (int64_t rep = 0; rep * P < out_dim; rep++) {
            for (int64_t c = 0; c < P; c++) y[c] = up[c];
            for (int64_t j = 0; j < 4; j++) {
                const float *wj = w + (rep * 4 + j) * P * block;
                for (int64_t n = 0; n < P / block; n++)
                    for (int64_t o = 0; o < block; o++) {
                        double acc = 0;
                        for (int64_t i = 0; i < block; i++) acc += (double)wj[(n * block + o) * block + i] * y[n * block + i];
                        t[n * block + o] = acc;
                    }
                for (int64_t h = 1; h < P; h *= 2)
                    for (int64_t i = 0; i < P; i += 2 * h)
                        for (int64_t k = i; k < i + h; k++) {
                            const double a = t[k], b = t[k + h];
                            t[k] = a + b;
                            t[k + h] = a - b;
                        }
                for (int64_t c = 0; c < P; c++) y[c] = t[c];
            }
            for (int64_t k = 0; k < P && rep * P + k < out_dim; k++)
                z[r * ldz + rep * P + k] = 0.7 * y[k] + 0.3 * up[k] + (bias ? bias[rep * P + k] : 0.0);
        }
    }
    free(up); free(y); free(t);
}

static inline int test_finish(const char *name) {
    lffn_set_max_isa(lffn_cpu_isa());
    if (test_failures) {
        fprintf(stderr, "%s: %d failure(s)\n", name, test_failures);
        return 1;
    }
    printf("%s: ok (ISA paths up to %s)\n", name, test_isa_name(lffn_cpu_isa()));
    return 0;
}

#endif
