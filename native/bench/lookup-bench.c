/* Times the LookupFFN kernels (BH4 projection, hash code/score, gather-accumulate fp32/bf16 on the packed
 * tables, bf16 conversion, table packing) and the fused layer lffn_lookupffn_forward_f32 (fp32 and
 * bf16 tables) on the paper configuration, single-threaded and with 2 pthreads splitting the rows in halves
 * (each thread its own workspace); median of repeats. Kernels 8 and 9: the int8 gather and fused layer.
 *   lookup-bench [max_isa 0..2] [rows] [repeats] [kernel list, e.g. 3,4,7]
 * (d = P = 512, b = 64, R = 2, h = 128, tau = 8, o = 512.) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "lookupffn.h"

enum { D = 512, P = 512, BLK = 64, R = 2, H = 128, TAU = 8, O = 512, HT = H * TAU };

static int64_t N = 32768;
static float *u, *w, *zb, *hb, *score, *table, *bias, *out;
static uint16_t *table16;
static void *packed32, *packed16, *packed8, *wpacked, *lws[2];
static float *lnw, *lnb, *x;
static int32_t *code;
static void *ws[2];
static int kernel;

/* Big buffers: 2 MiB aligned and, with LFFN_BENCH_THP=1, backed by transparent huge pages (madvise). */
static void *balloc(size_t bytes) {
    const size_t huge = (size_t)2 << 20;
    bytes = (bytes + huge - 1) / huge * huge;
    void *p = aligned_alloc(huge, bytes);
    const char *e = getenv("LFFN_BENCH_THP");
    if (p && e && *e == '1') madvise(p, bytes, MADV_HUGEPAGE);
    return p;
}

#ifdef LFFN_FUSED_PROFILE
extern double lffn_fused_profile[4];
#endif

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void run(int64_t r0, int64_t r1, int tid) {
    const int64_t n = r1 - r0;
    lffn_status_t st = LFFN_SUCCESS;
    switch (kernel) {
    case 0: st = lffn_bh4_project_f32(n, D, P, BLK, R, HT, u + r0 * D, D, w, hb, ws[tid], zb + r0 * HT, HT); break;
    case 1: st = lffn_hash_code_score_f32(n, H, TAU, zb + r0 * HT, HT, code + r0 * H, H, score + r0 * H, H); break;
    case 2: { /* table conversion: split the table, not rows */
        const int64_t tn = (int64_t)H * (1 << TAU) * O, a = tn * r0 / N, b = tn * r1 / N;
        st = lffn_convert_f32_to_bf16(b - a, table + a, table16 + a);
        break;
    }
    case 3: st = lffn_gather_accum_packed(n, H, TAU, O, code + r0 * H, H, score + r0 * H, H, packed32, 0, bias, out + r0 * O, O); break;
    case 4: st = lffn_gather_accum_packed(n, H, TAU, O, code + r0 * H, H, score + r0 * H, H, packed16, 1, bias, out + r0 * O, O); break;
    case 5: /* table packing (whole table in each thread: a load-time cost) */
        st = tid == 0 ? lffn_tables_pack_f32(H, TAU, O, table, 0, packed32) : LFFN_SUCCESS;
        break;
    case 6:
    case 7:
        st = lffn_lookupffn_forward_f32(n, D, P, BLK, R, H, TAU, O, x + r0 * D, D, lnw, lnb, 1e-5f, wpacked, hb,
                                        kernel == 6 ? packed32 : packed16, kernel == 7 ? LFFN_TABLE_BF16 : LFFN_TABLE_F32,
                                        bias, lws[tid], out + r0 * O, O);
        break;
    case 8: st = lffn_gather_accum_packed(n, H, TAU, O, code + r0 * H, H, score + r0 * H, H, packed8, LFFN_TABLE_I8, bias, out + r0 * O, O); break;
    case 9:
        st = lffn_lookupffn_forward_f32(n, D, P, BLK, R, H, TAU, O, x + r0 * D, D, lnw, lnb, 1e-5f, wpacked, hb, packed8,
                                        LFFN_TABLE_I8, bias, lws[tid], out + r0 * O, O);
        break;
    }
    if (st != LFFN_SUCCESS) {
        fprintf(stderr, "kernel %d failed: %s\n", kernel, lffn_status_str(st));
        exit(1);
    }
}

struct job { int64_t r0, r1; int tid; };
static void *thread_main(void *p) {
    struct job *j = p;
    run(j->r0, j->r1, j->tid);
    return NULL;
}

static double time_once(int threads) {
    double t0 = now();
    if (threads == 1) {
        run(0, N, 0);
    } else {
        pthread_t th;
        struct job j1 = {N / 2, N, 1};
        pthread_create(&th, NULL, thread_main, &j1);
        run(0, N / 2, 0);
        pthread_join(th, NULL);
    }
    return now() - t0;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* LFFN_BENCH_FLUSH=MiB: before every timed call, read and write that many MiB of another buffer (untimed), so
 * the tables start cold (evicted from L3) as in a server between requests or in an interleaved `bench`. */
static char *flush_buf;
static size_t flush_bytes;
static void flush_caches(void) {
    for (size_t i = 0; i < flush_bytes; i += 64) flush_buf[i]++;
}

static double median_time(int threads, int reps) {
    double t[64];
    time_once(threads); /* warm up */
    for (int i = 0; i < reps; i++) {
        if (flush_bytes) flush_caches();
        t[i] = time_once(threads);
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp);
    return getenv("LFFN_BENCH_MIN") ? t[0] : t[reps / 2]; /* LFFN_BENCH_MIN: the fastest call instead */
}

static float frand(uint64_t *s) {
    *s ^= *s >> 12; *s ^= *s << 25; *s ^= *s >> 27;
    return (float)((double)((*s * 0x2545F4914F6CDD1Dull) >> 11) / 4503599627370496.0 - 1.0);
}
static float *randv(int64_t n, float scale, uint64_t seed) {
    float *p = balloc((size_t)(n * 4));
    for (int64_t i = 0; i < n; i++) p[i] = frand(&seed) * scale;
    return p;
}

int main(int argc, char **argv) {
    if (argc > 1 && lffn_set_max_isa((lffn_isa_t)atoi(argv[1])) != LFFN_SUCCESS) {
        fprintf(stderr, "ISA %s not available\n", argv[1]);
        return 1;
    }
    if (argc > 2) N = atoll(argv[2]);
    int reps = argc > 3 ? atoi(argv[3]) : 7;
    int want[16] = {0}, any = 0;
    if (argc > 4)
        for (const char *p = argv[4]; *p;) {
            const long k = strtol(p, (char **)&p, 10);
            if (k >= 0 && k < 16) want[k] = any = 1;
            while (*p == ',') p++;
        }
    if (getenv("LFFN_BENCH_FLUSH")) {
        flush_bytes = (size_t)atoll(getenv("LFFN_BENCH_FLUSH")) << 20;
        flush_buf = flush_bytes ? balloc(flush_bytes) : NULL;
        if (flush_buf) memset(flush_buf, 1, flush_bytes);
        else flush_bytes = 0;
    }
    if (reps < 1) reps = 1;
    if (reps > 63) reps = 63;
    const char *isa_names[] = {"scalar", "avx2", "avx512", "avx512_bf16"};
    printf("lookup-bench: rows %ld, d %d, P %d, b %d, R %d, h %d, tau %d, o %d; ISA %s (cpu %s); median of %d; huge pages %s; flush %zu MiB\n",
           (long)N, D, P, BLK, R, H, TAU, O, isa_names[lffn_get_effective_isa()], isa_names[lffn_cpu_isa()], reps, getenv("LFFN_BENCH_THP") && *getenv("LFFN_BENCH_THP") == '1' ? "on" : "off", flush_bytes >> 20);
    const int64_t tn = (int64_t)H * (1 << TAU) * O;
    u = randv(N * D, 2.0f, 1);
    w = randv((int64_t)R * 4 * P * BLK, 1.7f / 181.0f, 2); /* ~ 1/sqrt(b P): keeps z of order 1 */
    hb = randv(HT, 0.1f, 3);
    zb = balloc((size_t)(N * HT * 4));
    score = balloc((size_t)(N * H * 4));
    code = balloc((size_t)(N * H * 4));
    table = randv(tn, 0.05f, 4);
    table16 = balloc((size_t)(tn * 2));
    bias = randv(O, 0.1f, 5);
    out = balloc((size_t)(N * O * 4));
    for (int t = 0; t < 2; t++) ws[t] = aligned_alloc(64, (size_t)lffn_bh4_workspace_size(N, P));
    lffn_convert_f32_to_bf16(tn, table, table16);
    packed32 = balloc((size_t)lffn_tables_pack_size(H, TAU, O, 0));
    packed16 = balloc((size_t)lffn_tables_pack_size(H, TAU, O, 1));
    lffn_tables_pack_f32(H, TAU, O, table, 0, packed32);
    lffn_tables_pack_f32(H, TAU, O, table, 1, packed16);
    packed8 = balloc((size_t)lffn_tables_pack_size(H, TAU, O, LFFN_TABLE_I8));
    lffn_tables_pack_f32(H, TAU, O, table, LFFN_TABLE_I8, packed8);
    wpacked = balloc((size_t)lffn_bh4_pack_size_f32(D, P, BLK, R, HT));
    lffn_bh4_pack_f32(D, P, BLK, R, HT, w, wpacked);
    x = randv(N * D, 2.0f, 6);
    lnw = randv(D, 0.2f, 7);
    lnb = randv(D, 0.2f, 8);
    for (int i = 0; i < D; i++) lnw[i] += 1.0f;
    for (int t = 0; t < 2; t++) {
        const int64_t bytes = lffn_lookupffn_workspace_size(N - N / 2, D, P, H, TAU);
        lws[t] = balloc((size_t)bytes);
        memset(lws[t], 0, (size_t)bytes);
    }
    memset(out, 0, (size_t)(N * O * 4));
    memset(zb, 0, (size_t)(N * HT * 4));

    enum { NK = 10 };
    const char *names[NK] = {"bh4_project_f32", "hash_code_score", "convert_f32_bf16", "gather_packed_f32", "gather_packed_bf16", "pack_tables_f32",
                             "layer_fused_f32", "layer_fused_bf16", "gather_packed_i8", "layer_fused_i8"};
    const double gflop = (double)N * H * O * 2, lflop = (double)N * R * 4 * P * BLK * 2 + gflop;
    const double flops[NK] = {(double)N * R * 4 * P * BLK * 2, (double)N * HT * 20, 0, gflop, gflop, 0, lflop, lflop,
                              gflop, lflop};
    /* bytes: operands of the kernel (logical table-row reads for the gathers) */
    const double bytes[NK] = {(double)N * (D + HT) * 4, (double)N * (HT + 2 * H) * 4, (double)tn * 6,
                              (double)N * H * (O * 4 + 8) + (double)N * O * 4,
                              (double)N * H * (O * 2 + 8) + (double)N * O * 4, (double)tn * 8,
                              (double)N * (D + O) * 4, (double)N * (D + O) * 4,
                              (double)N * H * (O + O / 16 + 8) + (double)N * O * 4, (double)N * (D + O) * 4};
    double sec[NK][2] = {{0}};
    /* real codes and scores for the gathers even when bh4/hash are not timed */
    if (lffn_bh4_project_f32(N, D, P, BLK, R, HT, u, D, w, hb, ws[0], zb, HT) != LFFN_SUCCESS ||
        lffn_hash_code_score_f32(N, H, TAU, zb, HT, code, H, score, H) != LFFN_SUCCESS) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    if (getenv("LFFN_BENCH_CODES")) { /* diagnostics: codes & mask (0: every lookup hits row 0, in L1) */
        const int32_t mask = atoi(getenv("LFFN_BENCH_CODES"));
        for (int64_t i = 0; i < N * H; i++) code[i] &= mask;
    }
    printf("%-18s %8s %11s %9s %9s %11s %9s %9s\n", "kernel", "", "1 thread s", "GFLOP/s", "GB/s", "2 threads s",
           "GFLOP/s", "GB/s");
    for (kernel = 0; kernel < NK; kernel++) {
        if (any && !want[kernel]) continue;
#ifdef LFFN_FUSED_PROFILE
        for (int i = 0; i < 4; i++) lffn_fused_profile[i] = 0;
#endif
        for (int th = 1; th <= 2; th++) sec[kernel][th - 1] = median_time(th, reps);
        printf("%-18s %8s %11.6f %9.1f %9.1f %11.6f %9.1f %9.1f\n", names[kernel], "", sec[kernel][0],
               flops[kernel] / sec[kernel][0] * 1e-9, bytes[kernel] / sec[kernel][0] * 1e-9, sec[kernel][1],
               flops[kernel] / sec[kernel][1] * 1e-9, bytes[kernel] / sec[kernel][1] * 1e-9);
#ifdef LFFN_FUSED_PROFILE
        if (kernel == 6 || kernel == 7 || kernel == 9) {
            const double tot = lffn_fused_profile[0] + lffn_fused_profile[1] + lffn_fused_profile[2] + lffn_fused_profile[3];
            printf("   stages (share of fused ticks): layernorm %.1f%%, bh4 %.1f%%, hash %.1f%%, gather %.1f%%\n",
                   100 * lffn_fused_profile[0] / tot, 100 * lffn_fused_profile[1] / tot, 100 * lffn_fused_profile[2] / tot,
                   100 * lffn_fused_profile[3] / tot);
        }
#endif
    }
    for (int th = 0; th < 2; th++) {
        const double p32 = sec[0][th] + sec[1][th] + sec[3][th], p16 = sec[0][th] + sec[1][th] + sec[4][th];
        printf("layer (bh4+hash+packed gather, separate calls), %d thread(s): fp32 %.4f s, bf16 %.4f s, "
               "speed-up %.2fx\n", th + 1, p32, p16, p32 / p16);
        printf("layer FUSED (LayerNorm+bh4+hash+packed gather), %d thread(s): fp32 %.4f s, bf16 %.4f s, "
               "speed-up %.2fx; int8 %.4f s, speed-up %.2fx\n", th + 1, sec[6][th], sec[7][th], sec[6][th] / sec[7][th],
               sec[9][th], sec[6][th] / sec[9][th]);
    }
    return 0;
}
