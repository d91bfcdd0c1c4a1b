/* A probe of the packed gather's inner loop on its own, in cycles per item (one item = one row of one table
 * in one 64-column chunk: 4 zmm loads and 4 FMAs), to see what bounds it: the loop itself (every code 0:
 * table reads hit L1), the L2-resident slice, the partial sums (obuf) beside it, a table set that does not fit
 * in L3, and FMA work from elsewhere interleaved into it (as a BH4 block kernel would be). The loop has the
 * shape of gather_packed_avx512.c's table-major micro-tile: NR rows x 8 tables, 16 accumulators, prefetch of
 * the next micro-tile's rows. One thread; the clock is calibrated with a chain of dependent adds.
 *   gather-probe [rows 4096] [slices 1] [code mask 255] [obuf 1] [fma steps per table 0]
 * slices: distinct 512 KiB slices (8 tables x 256 rows x 256 B) the passes cycle through (128 = the paper's
 * 64 MiB of fp32 tables). fma steps: BH4-like steps (2 zmm loads, 8 broadcasts, 16 FMAs on 16 other
 * accumulators) after each table of a micro-tile; with fma steps > 0 the micro-tile has 2 rows instead of 4.
 * dtype 1 (bf16) and 2 (int8) run the same pass over tables of that element type (fma steps 0 only): bf16 is
 * 2 zmm loads per item widened by a shift or a mask; int8 one zmm load per item, bytes sign-extended by shifts
 * (pack order: byte j of 32-bit lane i is column 16 j + i), plus the row piece's fp32 scale (a separate array,
 * [table][2^tau]) multiplied into the score; slices hold the same 8 tables x 256 rows, so 256 KiB (bf16) and
 * 128 KiB + 8 KiB of scales (int8).
 *   gather-probe [rows] [slices] [mask] [obuf] [fma steps] [dtype 0|1|2]
 * dtype 3 and 4: int8 alternatives (below); 5: int8 with AVX512_VNNI (int16 scores, vpdpwssd, see pass_i8_vnni);
 * 6: the same with its pre-pass run for the first 64-row block only (a diagnostic of the main loop's share). */
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

/* bf16 and int8 passes: NR 4, no fma steps; `slice` points at the slice's values, `scales` at its scales. */
#define PASS_T(NAME, ELEM, BODY)                                                                             \
    __attribute__((target("avx512f,avx512bw,fma"), noinline)) static void NAME(                              \
        int64_t rows, const int32_t *code, const float *score, const ELEM *slice, const float *scales,       \
        float *obuf, int use_obuf) {                                                                         \
        enum { NR = 4 };                                                                                     \
        for (int64_t r = 0; r + NR <= rows; r += NR) {                                                       \
            __m512 acc[NR][4], accs[NR];                                                                     \
            for (int i = 0; i < NR; i++) {                                                                   \
                accs[i] = _mm512_setzero_ps();                                                               \
                for (int v = 0; v < 4; v++)                                                                  \
                    acc[i][v] = use_obuf ? _mm512_load_ps(obuf + (r + i) * C + 16 * v) : _mm512_setzero_ps(); \
            }                                                                                                \
            const int64_t rp = r + 2 * NR <= rows ? r + NR : r;                                             \
            const ELEM *tk = slice;                                                                          \
            const float *sk = scales;                                                                        \
            (void)sk;                                                                                        \
            for (int k = 0; k < G; k++, tk += TROWS * C, sk += TROWS) {                                      \
                for (int i = 0; i < NR; i++) {                                                               \
                    const char *p = (const char *)(tk + (int64_t)code[k * rows + rp + i] * C);               \
                    for (int l = 0; l < (int)(C * sizeof(ELEM)); l += 64) _mm_prefetch(p + l, _MM_HINT_T0);   \
                }                                                                                            \
                for (int i = 0; i < NR; i++) {                                                               \
                    const int64_t ci = code[k * rows + r + i];                                               \
                    const ELEM *t = tk + ci * C;                                                             \
                    const float sv = score[k * rows + r + i];                                                \
                    BODY                                                                                     \
                }                                                                                            \
            }                                                                                                \
            for (int i = 0; i < NR; i++)                                                                     \
                for (int v = 0; v < 4; v++)                                                                  \
                    _mm512_store_ps(obuf + (use_obuf ? (r + i) * C : 0) + 16 * v, _mm512_sub_ps(acc[i][v], accs[i])); \
        }                                                                                                    \
    }
#define BODY_BF16                                                                                            \
    const __m512 s = _mm512_set1_ps(sv);                                                                     \
    for (int h = 0; h < 2; h++) {                                                                            \
        const __m512i x = _mm512_load_si512((const void *)(t + 32 * h));                                     \
        acc[i][2 * h] = _mm512_fmadd_ps(s, _mm512_castsi512_ps(_mm512_slli_epi32(x, 16)), acc[i][2 * h]);    \
        acc[i][2 * h + 1] = _mm512_fmadd_ps(                                                                 \
            s, _mm512_castsi512_ps(_mm512_and_si512(x, _mm512_set1_epi32((int)0xFFFF0000u))), acc[i][2 * h + 1]); \
    }
#define BODY_I8                                                                                              \
    const __m512 s = _mm512_set1_ps(sv * sk[ci]);                                                            \
    const __m512i x = _mm512_load_si512((const void *)t);                                                    \
    acc[i][0] = _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(_mm512_srai_epi32(_mm512_slli_epi32(x, 24), 24)), acc[i][0]); \
    acc[i][1] = _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(_mm512_srai_epi32(_mm512_slli_epi32(x, 16), 24)), acc[i][1]); \
    acc[i][2] = _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(_mm512_srai_epi32(_mm512_slli_epi32(x, 8), 24)), acc[i][2]); \
    acc[i][3] = _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(_mm512_srai_epi32(x, 24)), acc[i][3]);
/* int8 alternatives (the probe does not check values): 3 = vpmovsxbd from memory (4 loads per item, natural
 * order); 4 = the byte moved to mantissa bits 15..22 and ORed into 1.0f (one shift and one vpternlogd per 16
 * columns, no conversion: (1 + u/256) for u = q + 128; the constant part would be removed once per row piece
 * through the sum of the multipliers, accumulated beside it) */
#define BODY_I8_MOVSX                                                                                        \
    const __m512 s = _mm512_set1_ps(sv * sk[ci]);                                                            \
    for (int v = 0; v < 4; v++)                                                                              \
        acc[i][v] = _mm512_fmadd_ps(                                                                         \
            s, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_load_si128((const __m128i *)(t + 16 * v)))), acc[i][v]);
#define BODY_I8_EXP                                                                                          \
    const __m512 s = _mm512_set1_ps(sv * sk[ci]);                                                            \
    const __m512i x = _mm512_load_si512((const void *)t);                                                    \
    const __m512i mm = _mm512_set1_epi32(0x007F8000), one = _mm512_set1_epi32(0x3F800000);                    \
    acc[i][0] = _mm512_fmadd_ps(s, _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_slli_epi32(x, 15), mm, one, 0xEA)), acc[i][0]); \
    acc[i][1] = _mm512_fmadd_ps(s, _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_slli_epi32(x, 7), mm, one, 0xEA)), acc[i][1]); \
    acc[i][2] = _mm512_fmadd_ps(s, _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_srli_epi32(x, 1), mm, one, 0xEA)), acc[i][2]); \
    acc[i][3] = _mm512_fmadd_ps(s, _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_srli_epi32(x, 9), mm, one, 0xEA)), acc[i][3]); \
    accs[i] = _mm512_add_ps(accs[i], s);
PASS_T(pass_bf16, uint16_t, BODY_BF16)
PASS_T(pass_i8, int8_t, BODY_I8)
PASS_T(pass_i8_movsx, int8_t, BODY_I8_MOVSX)
PASS_T(pass_i8_exp, int8_t, BODY_I8_EXP)
/* dtype 5, int8 with AVX512_VNNI: per block of 64 rows a pre-pass turns each (row, table) into
 * p = score * scale[code] (the scale gathered with vgatherdps), takes the row's max |p| over the slice's tables and
 * quantizes p to int16 q with S = max / 32767 (|q| <= 32767), stored as two dwords, (q, 0) and (0, q). The main
 * loop then widens a row piece with two vpmovsxbw (words 2c, 2c + 1 of each 32-column half are columns c and
 * 16 + c after a pack-time permutation) and accumulates with four vpdpwssd into int32 (8 tables x 32767 x 127 is
 * far from overflow); per micro-tile the int32 sums go to the fp32 partial sums times S. */
enum { VB = 64 }; /* rows per pre-pass block */
/* acc += dot(w pairs, q pairs); inline asm: gcc 12 moves and spills accumulators around the intrinsic */
#define DPWSSD(acc, w, q) __asm__("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(w), "v"(q))
__attribute__((target("avx512f,avx512bw,avx512vnni,fma"), noinline)) static void pass_i8_vnni(
    int64_t rows, const int32_t *code, const float *score, const int8_t *slice, const float *scales, float *obuf,
    int use_obuf, int prepass) {
    enum { NR = 4 };
    int32_t qe[G][VB] __attribute__((aligned(64))), qo[G][VB] __attribute__((aligned(64)));
    float sr[VB] __attribute__((aligned(64)));
    for (int64_t b0 = 0; b0 < rows; b0 += VB) {
        const int64_t nb = rows - b0 < VB ? rows - b0 : VB; /* a multiple of 16 here */
        for (int64_t v = 0; v < (prepass || b0 == 0 ? nb : 0); v += 16) {
            __m512 p[G], mx = _mm512_setzero_ps();
            for (int k = 0; k < G; k++) {
                const __m512i c = _mm512_loadu_si512((const void *)(code + k * rows + b0 + v));
                const __m512 sc = _mm512_i32gather_ps(c, scales + k * TROWS, 4);
                p[k] = _mm512_mul_ps(sc, _mm512_loadu_ps(score + k * rows + b0 + v));
                mx = _mm512_max_ps(mx, _mm512_abs_ps(p[k]));
            }
            const __mmask16 nz = _mm512_cmp_ps_mask(mx, _mm512_setzero_ps(), _CMP_GT_OQ);
            const __m512 inv = _mm512_maskz_div_ps(nz, _mm512_set1_ps(32767.0f), mx);
            _mm512_store_ps(sr + v, _mm512_mul_ps(mx, _mm512_set1_ps(1.0f / 32767.0f)));
            for (int k = 0; k < G; k++) {
                const __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(p[k], inv));
                _mm512_store_si512((void *)(qe[k] + v), _mm512_and_si512(q, _mm512_set1_epi32(0xFFFF)));
                _mm512_store_si512((void *)(qo[k] + v), _mm512_slli_epi32(q, 16));
            }
        }
        for (int64_t r = b0; r + NR <= b0 + nb; r += NR) {
            /* named accumulators: gcc 12 spills an indexed __m512i array around vpdpwssd */
            __m512i a00 = _mm512_setzero_si512(), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00,
                    a13 = a00, a20 = a00, a21 = a00, a22 = a00, a23 = a00, a30 = a00, a31 = a00, a32 = a00, a33 = a00;
            const int64_t rp = r + 2 * NR <= rows ? r + NR : r;
            const int8_t *tk = slice;
            for (int k = 0; k < G; k++, tk += TROWS * C) {
                for (int i = 0; i < NR; i++) _mm_prefetch((const char *)(tk + (int64_t)code[k * rows + rp + i] * C), _MM_HINT_T0);
#define VNNI_ROW(i, A0, A1, A2, A3)                                                                          \
    {                                                                                                        \
        const int8_t *t = tk + (int64_t)code[k * rows + r + i] * C;                                          \
        const __m512i w0 = _mm512_cvtepi8_epi16(_mm256_load_si256((const __m256i *)t));                     \
        const __m512i w1 = _mm512_cvtepi8_epi16(_mm256_load_si256((const __m256i *)(t + 32)));              \
        const __m512i e = _mm512_set1_epi32(qe[k][r - b0 + i]), o = _mm512_set1_epi32(qo[k][r - b0 + i]);      \
        DPWSSD(A0, w0, e);                                                                 \
        DPWSSD(A1, w0, o);                                                                 \
        DPWSSD(A2, w1, e);                                                                 \
        DPWSSD(A3, w1, o);                                                                 \
    }
                VNNI_ROW(0, a00, a01, a02, a03)
                VNNI_ROW(1, a10, a11, a12, a13)
                VNNI_ROW(2, a20, a21, a22, a23)
                VNNI_ROW(3, a30, a31, a32, a33)
            }
            const __m512i acc[NR][4] = {{a00, a01, a02, a03}, {a10, a11, a12, a13}, {a20, a21, a22, a23}, {a30, a31, a32, a33}};
            for (int i = 0; i < NR; i++) {
                const __m512 sv = _mm512_set1_ps(sr[r - b0 + i]);
                float *ob = obuf + (use_obuf ? (r + i) * C : 0);
                for (int v = 0; v < 4; v++) {
                    const __m512 prev = use_obuf ? _mm512_load_ps(ob + 16 * v) : _mm512_setzero_ps();
                    _mm512_store_ps(ob + 16 * v, _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[i][v]), sv, prev));
                }
            }
        }
    }
}
PASS(pass_2_1, 2, 1)
PASS(pass_2_2, 2, 2)
PASS(pass_2_4, 2, 4)

int main(int argc, char **argv) {
    const int64_t rows = argc > 1 ? atoll(argv[1]) : 4096;
    const int slices = argc > 2 ? atoi(argv[2]) : 1, mask = argc > 3 ? atoi(argv[3]) : 255;
    const int use_obuf = argc > 4 ? atoi(argv[4]) : 1, steps = argc > 5 ? atoi(argv[5]) : 0;
    const int dtype = argc > 6 ? atoi(argv[6]) : 0;
    if (!__builtin_cpu_supports("avx512f")) {
        fprintf(stderr, "gather-probe needs AVX-512\n");
        return 1;
    }
    if (dtype >= 5 && !__builtin_cpu_supports("avx512vnni")) {
        fprintf(stderr, "gather-probe: dtype %d needs AVX512_VNNI\n", dtype);
        return 1;
    }
    if (rows < 8 || rows > (1 << 20) || slices < 1 || slices > 512 || (steps != 0 && steps != 1 && steps != 2 && steps != 4) ||
        dtype < 0 || dtype > 6 || (dtype && steps)) {
        fprintf(stderr, "usage: gather-probe [rows 8..2^20] [slices 1..512] [code mask] [obuf 0|1] [fma steps 0|1|2|4] "
                        "[dtype 0 f32 | 1 bf16 | 2 int8 | 3..6 int8 variants (fma steps 0)]\n");
        return 2;
    }
    float *tab = aligned_alloc(64, (size_t)slices * SLICE * 4);
    for (int64_t i = 0; i < (int64_t)slices * SLICE; i++) tab[i] = 1e-3f * (float)(i % 7);
    /* bf16 / int8 slices: SLICE elements each (the same tables and rows), packed back to back */
    uint16_t *tab16 = (uint16_t *)tab;
    int8_t *tab8 = (int8_t *)tab;
    float *scales = aligned_alloc(64, (size_t)slices * G * TROWS * 4);
    for (int64_t i = 0; i < (int64_t)slices * G * TROWS; i++) scales[i] = 1e-3f;
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
            if (dtype == 1) {
                pass_bf16(rows, code, score, tab16 + (int64_t)(p % slices) * SLICE, NULL, obuf, use_obuf);
                continue;
            }
            if (dtype >= 5) { /* 6: the pre-pass only for the first block (diagnostic: the main loop's share) */
                pass_i8_vnni(rows, code, score, tab8 + (int64_t)(p % slices) * SLICE, scales + (int64_t)(p % slices) * G * TROWS,
                             obuf, use_obuf, dtype == 5);
                continue;
            }
            if (dtype >= 2) {
                (dtype == 2 ? pass_i8 : dtype == 3 ? pass_i8_movsx : pass_i8_exp)(rows, code, score, tab8 + (int64_t)(p % slices) * SLICE, scales + (int64_t)(p % slices) * G * TROWS,
                        obuf, use_obuf);
                continue;
            }
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
    const char *dnames[] = {"f32", "bf16", "int8", "int8-movsx", "int8-exp", "int8-vnni", "int8-vnni-noprepass"};
    const double slice_mib[] = {0.5, 0.25, 0.125 + 1.0 / 128, 0.125 + 1.0 / 128, 0.125 + 1.0 / 128, 0.125 + 1.0 / 128, 0.125 + 1.0 / 128};
    printf("gather-probe %s: rows %ld, slices %d (%.1f MiB), code mask %d, obuf %s, fma steps %d: %.2f cycles/item "
           "(%.2f GHz calibrated)\n",
           dnames[dtype], (long)rows, slices, slices * slice_mib[dtype], mask, use_obuf ? "on" : "off", steps,
           best * f * 1e9 / ((double)passes * (double)rows * G), f);
    return 0;
}
