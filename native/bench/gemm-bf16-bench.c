/* gemm-bf16-bench: the packed GEMM with bf16 weights (vdpbf16ps, and the AVX-512 widening path) against the fp32
 * packed GEMM, one thread, at all-MiniLM-L6-v2's shapes: m = 27 (one sentence) and 864 (a sorted batch of 32), k x n
 * = 384 x 1152 (fused QKV), 384 x 384 (attention output), 384 x 1536 (fc1, GELU), 1536 x 384 (fc2). Repetitions
 * are interleaved (fp32, bf16, bf16 widened, fp32, ...) so machine noise hits all; the report is the median time
 * per call, GFLOP/s and the ratio fp32 / bf16.
 *   gemm-bf16-bench [reps=15] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gemm_bf16_internal.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static float *alloc_random(int64_t count, float scale, unsigned seed) {
    float *p = aligned_alloc(64, (size_t)((count * 4 + 63) / 64 * 64));
    uint64_t s = 0x9E3779B97F4A7C15ull ^ seed;
    for (int64_t i = 0; i < count; i++) {
        s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
        p[i] = (float)((double)((s * 0x2545F4914F6CDD1Dull) >> 11) / 4503599627370496.0 - 1.0) * scale;
    }
    return p;
}

int main(int argc, char **argv) {
    const int reps = argc > 1 ? atoi(argv[1]) : 15;
    static const int64_t shapes[][3] = {{384, 1152, 0}, {384, 384, 0}, {384, 1536, 1}, {1536, 384, 0}};
    static const int64_t ms[] = {27, 864};
    const lffn_isa_t top = lffn_cpu_isa();
    printf("gemm-bf16-bench: cpu isa %d, %d reps, medians, 1 thread\n", (int)top, reps);
    printf("%5s %5s %5s %-4s | %9s %9s %9s | %7s %7s\n", "m", "k", "n", "epi", "f32 us", "bf16 us", "widen us",
           "f32/bf16", "f32/widen");
    double total[3] = {0, 0, 0};
    for (size_t mi = 0; mi < 2; mi++)
        for (size_t s = 0; s < 4; s++) {
            const int64_t m = ms[mi], k = shapes[s][0], n = shapes[s][1];
            const lffn_epilogue_t epi = shapes[s][2] ? LFFN_EPILOGUE_GELU : LFFN_EPILOGUE_NONE;
            float *a = alloc_random(m * k, 1.0f, 1), *w = alloc_random(n * k, 0.05f, 2), *bias = alloc_random(n, 0.1f, 3);
            float *c = aligned_alloc(64, (size_t)(m * n * 4 + 64));
            float *pf = aligned_alloc(64, (size_t)lffn_gemm_pack_b_size_f32(n, k));
            uint16_t *pb = aligned_alloc(64, (size_t)lffn_gemm_pack_b_size_bf16(n, k));
            if (lffn_gemm_pack_b_f32(n, k, w, k, 1, pf) || lffn_gemm_pack_b_bf16(n, k, w, k, 1, pb)) return 1;
            double t[3][64];
            const int r = reps > 64 ? 64 : reps;
            for (int i = -2; i < r; i++) /* two warm-up rounds */
                for (int v = 0; v < 3; v++) {
                    lffn_set_max_isa(v == 2 ? LFFN_ISA_AVX512 : top);
                    const double t0 = now();
                    const lffn_status_t st = v == 0 ? lffn_gemm_packed_f32(m, n, k, a, k, pf, bias, epi, c, n)
                                                    : lffn_gemm_packed_bf16(m, n, k, a, k, pb, bias, epi, c, n);
                    const double dt = now() - t0;
                    if (st) return fprintf(stderr, "status %d: %s\n", (int)st, lffn_last_error()), 1;
                    if (i >= 0) t[v][i] = dt;
                }
            double med[3];
            for (int v = 0; v < 3; v++) {
                qsort(t[v], (size_t)r, sizeof(double), cmp_double);
                med[v] = t[v][r / 2];
                total[v] += med[v];
            }
            printf("%5ld %5ld %5ld %-4s | %9.1f %9.1f %9.1f | %7.2fx %7.2fx   (%.0f / %.0f GFLOP/s)\n", (long)m, (long)k,
                   (long)n, shapes[s][2] ? "gelu" : "-", med[0] * 1e6, med[1] * 1e6, med[2] * 1e6, med[0] / med[1],
                   med[0] / med[2], 2e-9 * m * n * k / med[0], 2e-9 * m * n * k / med[1]);
            free(a); free(w); free(bias); free(c); free(pf); free(pb);
        }
    lffn_set_max_isa(top);
    printf("sum of medians: f32 %.1f us, bf16 %.1f us (%.2fx), widened %.1f us (%.2fx)\n", total[0] * 1e6, total[1] * 1e6,
           total[0] / total[1], total[2] * 1e6, total[0] / total[2]);
    return 0;
}
