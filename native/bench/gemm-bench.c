/* gemm-bench: our fp32 GEMM (packed B, pthreads splitting M) against oneDNN (dnnl_sgemm and the matmul wrapper,
 * OpenMP threads) at the two FFN shapes. Repetitions are interleaved (ours, oneDNN, ours, ...) so machine noise
 * hits both; the report is medians, GFLOP/s and the ratio ours / oneDNN. Also validates both against the
 * double-precision reference on a sample of rows.
 *   gemm-bench [reps=7] [threads=2]
 * Needs oneDNN and pthreads (see the CMake snippet in the report). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gemm_internal.h"
#include "lffn_onednn.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
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

typedef struct {
    int64_t m0, m1, n, k;
    const float *a, *packed, *bias;
    lffn_epilogue_t epi;
    float *c;
    int status;
} job_t;

static void *run_job(void *arg) {
    job_t *j = arg;
    j->status = lffn_gemm_packed_f32(j->m1 - j->m0, j->n, j->k, j->a + j->m0 * j->k, j->k, j->packed, j->bias,
                                     j->epi, j->c + j->m0 * j->n, j->n);
    return NULL;
}

/* ours: `threads` pthreads, each a contiguous share of the rows */
static double time_ours(int threads, int64_t m, int64_t n, int64_t k, const float *a, const float *packed,
                        const float *bias, lffn_epilogue_t epi, float *c) {
    pthread_t tid[64];
    job_t jobs[64];
    const double t0 = now();
    for (int t = 0; t < threads; t++) {
        jobs[t] = (job_t){m * t / threads, m * (t + 1) / threads, n, k, a, packed, bias, epi, c, 0};
        pthread_create(&tid[t], NULL, run_job, &jobs[t]);
    }
    for (int t = 0; t < threads; t++) pthread_join(tid[t], NULL);
    const double dt = now() - t0;
    for (int t = 0; t < threads; t++)
        if (jobs[t].status) fprintf(stderr, "lffn_gemm_packed_f32 failed: %d\n", jobs[t].status), exit(1);
    return dt;
}

/* max |got - ref| / max |ref| and NMSE over a sample of rows (first and last `rows`) */
static void validate(const char *what, int64_t m, int64_t n, int64_t k, const float *a, const float *w,
                     const float *bias, lffn_epilogue_t epi, const float *c) {
    const int64_t rows = 16;
    float *ref = malloc((size_t)(rows * n) * 4);
    double max_diff = 0, max_ref = 0, num = 0, den = 0;
    for (int part = 0; part < 2; part++) {
        const int64_t r0 = part ? m - rows : 0;
        lffn_gemm_f32_ref(rows, n, k, a + r0 * k, k, w, k, 1, bias, epi, ref, n);
        for (int64_t i = 0; i < rows * n; i++) {
            const double d = fabs((double)c[r0 * n + i] - (double)ref[i]);
            if (d > max_diff) max_diff = d;
            if (fabs(ref[i]) > max_ref) max_ref = fabs(ref[i]);
            num += d * d, den += (double)ref[i] * ref[i];
        }
    }
    printf("  check %-28s max|diff|/max|ref| %.2e  nmse %.2e\n", what, max_diff / max_ref, num / den);
    free(ref);
}

int main(int argc, char **argv) {
    const int reps = argc > 1 ? atoi(argv[1]) : 7;
    const int threads = argc > 2 ? atoi(argv[2]) : 2;
    const int64_t shapes[][3] = {{32768, 2048, 512}, {32768, 512, 2048}};
    lffn_onednn_set_num_threads(threads);
    printf("gemm-bench: %d threads, %d interleaved reps, isa %d, oneDNN %s\n", threads, reps,
           (int)lffn_get_effective_isa(), lffn_onednn_version());
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        const double gflop = 2.0 * (double)m * (double)n * (double)k * 1e-9;
        float *a = alloc_random(m * k, 1.0f, 1), *w = alloc_random(n * k, 2.0f / sqrtf((float)k), 2);
        float *bias = alloc_random(n, 0.5f, 3);
        float *c_ours = aligned_alloc(64, (size_t)(m * n) * 4), *c_dnnl = aligned_alloc(64, (size_t)(m * n) * 4);
        memset(c_ours, 0, (size_t)(m * n) * 4), memset(c_dnnl, 0, (size_t)(m * n) * 4);
        float *packed = aligned_alloc(64, (size_t)lffn_gemm_pack_b_size_f32(n, k));
        double t0 = now();
        if (lffn_gemm_pack_b_f32(n, k, w, k, 1, packed)) return 1;
        const double pack_ms = (now() - t0) * 1e3;
        void *mm_f32 = NULL, *mm_bf16 = NULL;
        int st = lffn_onednn_matmul_create(&mm_f32, m, n, k, w, bias, 1, 0);
        st |= lffn_onednn_matmul_create(&mm_bf16, m, n, k, w, bias, 1, 1);
        if (st) fprintf(stderr, "matmul_create failed %d\n", st), exit(1);

        printf("shape M=%ld N=%ld K=%ld (%.1f GFLOP), pack B %.1f ms\n", (long)m, (long)n, (long)k, gflop, pack_ms);
        /* warm-up + validation */
        time_ours(threads, m, n, k, a, packed, NULL, LFFN_EPILOGUE_NONE, c_ours);
        validate("ours (no bias)", m, n, k, a, w, NULL, LFFN_EPILOGUE_NONE, c_ours);
        lffn_onednn_sgemm('N', 'T', m, n, k, 1.0f, a, k, w, k, 0.0f, c_dnnl, n);
        validate("dnnl_sgemm", m, n, k, a, w, NULL, LFFN_EPILOGUE_NONE, c_dnnl);
        time_ours(threads, m, n, k, a, packed, bias, LFFN_EPILOGUE_GELU, c_ours);
        validate("ours bias+gelu", m, n, k, a, w, bias, LFFN_EPILOGUE_GELU, c_ours);
        if (lffn_onednn_matmul_execute(mm_f32, a, c_dnnl)) return 1;
        validate("onednn matmul f32 bias+gelu", m, n, k, a, w, bias, LFFN_EPILOGUE_GELU, c_dnnl);
        if (lffn_onednn_matmul_execute(mm_bf16, a, c_dnnl)) return 1;
        validate("onednn matmul bf16 bias+gelu", m, n, k, a, w, bias, LFFN_EPILOGUE_GELU, c_dnnl);

        double t_ours[64], t_sgemm[64], t_ours_g[64], t_mm[64], t_bf16[64];
        for (int r = 0; r < reps && r < 64; r++) {
            t_ours[r] = time_ours(threads, m, n, k, a, packed, NULL, LFFN_EPILOGUE_NONE, c_ours);
            t0 = now();
            lffn_onednn_sgemm('N', 'T', m, n, k, 1.0f, a, k, w, k, 0.0f, c_dnnl, n);
            t_sgemm[r] = now() - t0;
            t_ours_g[r] = time_ours(threads, m, n, k, a, packed, bias, LFFN_EPILOGUE_GELU, c_ours);
            t0 = now();
            lffn_onednn_matmul_execute(mm_f32, a, c_dnnl);
            t_mm[r] = now() - t0;
            t0 = now();
            lffn_onednn_matmul_execute(mm_bf16, a, c_dnnl);
            t_bf16[r] = now() - t0;
        }
        const int nr = reps < 64 ? reps : 64;
        const double o = median(t_ours, nr), sg = median(t_sgemm, nr), og = median(t_ours_g, nr);
        const double mm = median(t_mm, nr), bf = median(t_bf16, nr);
        printf("  ours packed            %8.1f ms %7.1f GFLOP/s\n", o * 1e3, gflop / o);
        printf("  dnnl_sgemm             %8.1f ms %7.1f GFLOP/s   ours/sgemm  %.3f\n", sg * 1e3, gflop / sg, sg / o);
        printf("  ours bias+gelu         %8.1f ms %7.1f GFLOP/s\n", og * 1e3, gflop / og);
        printf("  matmul f32 bias+gelu   %8.1f ms %7.1f GFLOP/s   ours/matmul %.3f\n", mm * 1e3, gflop / mm, mm / og);
        printf("  matmul bf16 bias+gelu  %8.1f ms %7.1f GFLOP/s   (src reorder included)\n", bf * 1e3, gflop / bf);
        fflush(stdout);
        lffn_onednn_matmul_destroy(mm_f32), lffn_onednn_matmul_destroy(mm_bf16);
        free(a), free(w), free(bias), free(c_ours), free(c_dnnl), free(packed);
    }
    return 0;
}
