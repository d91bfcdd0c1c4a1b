/* A probe of the packed gather's inner loop on its own, in cycles per item (one item = one row of one table
 * in one 64-column chunk: 4 zmm loads and 4 FMAs), to see what bounds it: the loop itself (every code 0:
 * table reads hit L1), the L2-resident slice, the partial sums (obuf) beside it, a table set that does not fit
 * in L3, and FMA work from elsewhere interleaved into it (as a BH4 block kernel would be). The loop has the
 * shape of gather_packed_avx512.c's table-major micro-tile: NR rows x 8 tables, 16 accumulators, prefetch of
 * the next micro-tile's rows. One thread; the clock is calibrated with a chain of dependent adds.
 *   gather-probe [rows 4096] [slices 1] [code mask 255] [obuf 1] [fma steps per table 0]
 * slices: distinct 512 KiB slices (8 tables x 256 rows x 256 B) the passes cycle through (128 = the paper's
 * 64 MiB of fp32 tables). fma steps: BH4-like steps (2 zmm loads, 8 broadcasts, 16 FMAs on 16 other
 * accumulators) after each table of a micro-tile; with fma steps > 0 the micro-tile has 2 rows instead of 4. */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { G = 8, TROWS = 256, C = 64, SLICE = G * TROWS * C }; /* floats per slice */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static double ghz(void) { /* 4 dependent adds per iteration: one cycle each */
    const uint64_t n = 400000000ull;
    uint64_t x = 0;
    const double t0 = now();
    for (uint64_t i = 0; i < n; i++) __asm__ volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0" : "+r"(x));
    return 4.0 * (double)n / (now() - t0) * 1e-9;
}

#define PASS(NAME, NR, STEPS)                                                                                \
    __attribute__((target("avx512f,fma"), noinline)) static void NAME(                                       \
        int64_t rows, const int32_t *code, const float *score, const float *slice, float *obuf, int use_obuf, \
        const float *w, const float *y, float *sink) {                                                       \
        __m512 b0[8], b1[8];                                                                                 \
        for (int q = 0; q < 8; q++) b0[q] = b1[q] = _mm512_setzero_ps();                                     \
        int64_t step = 0;                                                                                    \
        for (int64_t r = 0; r + NR <= rows; r += NR) {                                                       \
            __m512 acc[NR][4];                                                                               \
            for (int i = 0; i < NR; i++)                                                                     \
                for (int v = 0; v < 4; v++)                                                                  \
                    acc[i][v] = use_obuf ? _mm512_load_ps(obuf + (r + i) * C + 16 * v) : _mm512_setzero_ps(); \
            const int64_t rp = r + 2 * NR <= rows ? r + NR : r;                                             \
            const float *tk = slice;                                                                         \
            for (int k = 0; k < G; k++, tk += TROWS * C) {                                                   \
                for (int i = 0; i < NR; i++) {                                                               \
                    const char *p = (const char *)(tk + (int64_t)code[k * rows + rp + i] * C);               \
                    for (int l = 0; l < 256; l += 64) _mm_prefetch(p + l, _MM_HINT_T0);                      \
                }                                                                                            \
                for (int i = 0; i < NR; i++) {                                                               \
                    const float *t = tk + (int64_t)code[k * rows + r + i] * C;                               \
                    const __m512 s = _mm512_set1_ps(score[k * rows + r + i]);                                \
                    for (int v = 0; v < 4; v++) acc[i][v] = _mm512_fmadd_ps(s, _mm512_load_ps(t + 16 * v), acc[i][v]); \
                }                                                                                            \
                for (int st = 0; st < STEPS; st++, step = (step + 1) & 63) {                                 \
                    const __m512 s0 = _mm512_load_ps(y + step * 32), s1 = _mm512_load_ps(y + step * 32 + 16); \
                    for (int q = 0; q < 8; q++) {                                                            \
                        const __m512 wq = _mm512_set1_ps(w[q * 64 + step]);                                  \
                        b0[q] = _mm512_fmadd_ps(wq, s0, b0[q]);                                              \
                        b1[q] = _mm512_fmadd_ps(wq, s1, b1[q]);                                              \
                    }                                                                                        \
                }                                                                                            \
            }                                                                                                \
            for (int i = 0; i < NR; i++)                                                                     \
                for (int v = 0; v < 4; v++) _mm512_store_ps(obuf + (use_obuf ? (r + i) * C : 0) + 16 * v, acc[i][v]); \
        }                                                                                                    \
        for (int q = 0; q < 8; q++) _mm512_store_ps(sink + 16 * q, _mm512_add_ps(b0[q], b1[q]));             \
    }
PASS(pass_4, 4, 0)
PASS(pass_2_1, 2, 1)
PASS(pass_2_2, 2, 2)
PASS(pass_2_4, 2, 4)

int main(int argc, char **argv) {
    const int64_t rows = argc > 1 ? atoll(argv[1]) : 4096;
    const int slices = argc > 2 ? atoi(argv[2]) : 1, mask = argc > 3 ? atoi(argv[3]) : 255;
    const int use_obuf = argc > 4 ? atoi(argv[4]) : 1, steps = argc > 5 ? atoi(argv[5]) : 0;
    if (!__builtin_cpu_supports("avx512f")) {
        fprintf(stderr, "gather-probe needs AVX-512\n");
        return 1;
    }
    if (rows < 8 || rows > (1 << 20) || slices < 1 || slices > 512 || (steps != 0 && steps != 1 && steps != 2 && steps != 4)) {
        fprintf(stderr, "usage: gather-probe [rows 8..2^20] [slices 1..512] [code mask] [obuf 0|1] [fma steps 0|1|2|4]\n");
        return 2;
    }
    float *tab = aligned_alloc(64, (size_t)slices * SLICE * 4);
    for (int64_t i = 0; i < (int64_t)slices * SLICE; i++) tab[i] = 1e-3f * (float)(i % 7);
    int32_t *code = aligned_alloc(64, (size_t)(G * rows * 4));
    float *score = aligned_alloc(64, (size_t)(G * rows * 4)), *obuf = aligned_alloc(64, (size_t)(rows * C * 4));
    float *w = aligned_alloc(64, 8 * 64 * 4), *y = aligned_alloc(64, 64 * 32 * 4), *sink = aligned_alloc(64, 8 * 64);
    srand(1);
    for (int64_t i = 0; i < G * rows; i++) code[i] = (rand() & (TROWS - 1)) & mask, score[i] = 0.5f;
    memset(obuf, 0, (size_t)(rows * C * 4));
    for (int i = 0; i < 8 * 64; i++) w[i] = 1e-3f;
    for (int i = 0; i < 64 * 32; i++) y[i] = 1e-3f;
    const double f = ghz();
    const int passes = (int)(400000000LL / (rows * G)) + 1;
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        const double t0 = now();
        for (int p = 0; p < passes; p++) {
            const float *s = tab + (int64_t)(p % slices) * SLICE;
            switch (steps) {
            case 0: pass_4(rows, code, score, s, obuf, use_obuf, w, y, sink); break;
            case 1: pass_2_1(rows, code, score, s, obuf, use_obuf, w, y, sink); break;
            case 2: pass_2_2(rows, code, score, s, obuf, use_obuf, w, y, sink); break;
            default: pass_2_4(rows, code, score, s, obuf, use_obuf, w, y, sink); break;
            }
        }
        const double t = now() - t0;
        if (t < best) best = t;
    }
    printf("gather-probe: rows %ld, slices %d (%.1f MiB), code mask %d, obuf %s, fma steps %d: %.2f cycles/item "
           "(%.2f GHz calibrated)\n",
           (long)rows, slices, slices * 0.5, mask, use_obuf ? "on" : "off", steps,
           best * f * 1e9 / ((double)passes * (double)rows * G), f);
    return 0;
}
