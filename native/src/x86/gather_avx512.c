/* Weighted gather-accumulate, AVX-512.
 *
 * Cache tiling: the output is processed in column chunks of 64 floats (4 zmm) and the tables in groups of G
 * tables (GROUP_TABLES), so the group's slice of the table (G * 2^tau rows * 64 columns) stays in L2. For one (chunk, group) all rows stream by: two rows at a time keep 2 x 4 zmm
 * accumulators in registers over the G tables, then add them to the output chunk (which is only touched once
 * per group, not once per table). Table rows of the rows two ahead are prefetched into L1.
 *
 * bf16 tables: 32 bf16 values of a 64-byte load become two fp32 vectors without any shuffle, the even
 * columns by a 16-bit left shift of each 32-bit lane and the odd columns by masking the low half. The
 * accumulators therefore hold columns in (even, odd) order; the output chunk is permuted into that order on
 * load and back on store. */
#include <immintrin.h>

#include "../lookup_internal.h"

#define CHUNK 64 /* output columns per chunk (4 zmm) */
/* Tables per group. Measured on Zen 5 (h 128, tau 8, o 512): 8 is best for fp32 and bf16 (4: 1.2-1.7x
 * slower, 16: 1.8-2.4x slower). A 64-column slice of a table has a 2 KiB (1 KiB) row stride, so it maps
 * to a fraction of the L2 sets: the slice's nominal size is not what limits the group. */
#ifndef GROUP_TABLES
#define GROUP_TABLES 8
#endif
#ifndef PREFETCH_ROWS
#define PREFETCH_ROWS 2 /* prefetch distance, in rows */
#endif

static int64_t group_size(int64_t tables) { return GROUP_TABLES < tables ? GROUP_TABLES : tables; }

/* Masks of the four 16-column vectors of a chunk of nc <= 64 columns. */
static inline void chunk_masks(int64_t nc, __mmask16 m[4]) {
    for (int v = 0; v < 4; v++) {
        const int64_t n = nc - 16 * v;
        m[v] = n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1u);
    }
}

/* ------------------------------------------------------------------------------------------------ fp32 */

static inline __attribute__((always_inline)) void f32_rows(const int masked, const int nrows, LFFN_GATHER_ARGS,
                                                           const float *table, const float *bias, float *out,
                                                           int64_t ldout, int64_t r, int64_t c0,
                                                           const __mmask16 m[4], int64_t g0, int64_t g1) {
    (void)rows; (void)tables;
    __m512 acc[2][4];
    for (int i = 0; i < nrows; i++)
        for (int v = 0; v < 4; v++) {
            const float *o = out + (r + i) * ldout + c0 + 16 * v;
            if (g0 > 0) acc[i][v] = masked ? _mm512_maskz_loadu_ps(m[v], o) : _mm512_loadu_ps(o);
            else if (bias) acc[i][v] = masked ? _mm512_maskz_loadu_ps(m[v], bias + c0 + 16 * v) : _mm512_loadu_ps(bias + c0 + 16 * v);
            else acc[i][v] = _mm512_setzero_ps();
        }
    const int32_t *cr = code + r * ldcode;
    const float *sr = score + r * ldscore;
    const int64_t ahead = (r + nrows + PREFETCH_ROWS <= rows) ? PREFETCH_ROWS : 0;
    for (int64_t k = g0; k < g1; k++) {
        const float *tk = table + (k << tau) * out_dim + c0;
        if (ahead) {
            const float *pf = tk + (int64_t)cr[ahead * ldcode + k] * out_dim;
            _mm_prefetch((const char *)pf, _MM_HINT_T0);
            _mm_prefetch((const char *)(pf + 16), _MM_HINT_T0);
            _mm_prefetch((const char *)(pf + 32), _MM_HINT_T0);
            _mm_prefetch((const char *)(pf + 48), _MM_HINT_T0);
            if (nrows == 2) {
                pf = tk + (int64_t)cr[(ahead + 1) * ldcode + k] * out_dim;
                _mm_prefetch((const char *)pf, _MM_HINT_T0);
                _mm_prefetch((const char *)(pf + 16), _MM_HINT_T0);
                _mm_prefetch((const char *)(pf + 32), _MM_HINT_T0);
                _mm_prefetch((const char *)(pf + 48), _MM_HINT_T0);
            }
        }
        for (int i = 0; i < nrows; i++) {
            const float *t = tk + (int64_t)cr[i * ldcode + k] * out_dim;
            const __m512 s = _mm512_set1_ps(sr[i * ldscore + k]);
            for (int v = 0; v < 4; v++) {
                const __m512 x = masked ? _mm512_maskz_loadu_ps(m[v], t + 16 * v) : _mm512_loadu_ps(t + 16 * v);
                acc[i][v] = _mm512_fmadd_ps(s, x, acc[i][v]);
            }
        }
    }
    for (int i = 0; i < nrows; i++)
        for (int v = 0; v < 4; v++) {
            float *o = out + (r + i) * ldout + c0 + 16 * v;
            if (masked) _mm512_mask_storeu_ps(o, m[v], acc[i][v]);
            else _mm512_storeu_ps(o, acc[i][v]);
        }
}

void lffn_gather_accum_f32_avx512(LFFN_GATHER_ARGS, const float *table, const float *bias, float *out,
                                  int64_t ldout) {
    const int64_t G = group_size(tables);
    for (int64_t c0 = 0; c0 < out_dim; c0 += CHUNK) {
        const int64_t nc = out_dim - c0 < CHUNK ? out_dim - c0 : CHUNK;
        __mmask16 m[4];
        chunk_masks(nc, m);
        for (int64_t g0 = 0; g0 < tables; g0 += G) {
            const int64_t g1 = g0 + G < tables ? g0 + G : tables;
            int64_t r = 0;
            if (nc == CHUNK) {
                for (; r + 2 <= rows; r += 2)
                    f32_rows(0, 2, rows, tables, tau, out_dim, code, ldcode, score, ldscore, table, bias, out, ldout,
                             r, c0, m, g0, g1);
                if (r < rows)
                    f32_rows(0, 1, rows, tables, tau, out_dim, code, ldcode, score, ldscore, table, bias, out, ldout,
                             r, c0, m, g0, g1);
            } else {
                for (; r < rows; r++)
                    f32_rows(1, 1, rows, tables, tau, out_dim, code, ldcode, score, ldscore, table, bias, out, ldout,
                             r, c0, m, g0, g1);
            }
        }
    }
}

/* ------------------------------------------------------------------------------------------------ bf16 */

/* natural 32 columns (a = 0..15, b = 16..31) <-> (even columns, odd columns) */
static inline void to_even_odd(__m512 a, __m512 b, __m512 *e, __m512 *o) {
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    *e = _mm512_permutex2var_ps(a, ie, b);
    *o = _mm512_permutex2var_ps(a, io, b);
}
static inline void from_even_odd(__m512 e, __m512 o, __m512 *a, __m512 *b) {
    const __m512i il = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i ih = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    *a = _mm512_permutex2var_ps(e, il, o);
    *b = _mm512_permutex2var_ps(e, ih, o);
}

static inline __attribute__((always_inline)) void bf16_rows(const int masked, const int nrows, LFFN_GATHER_ARGS,
                                                            const uint16_t *table, const float *bias, float *out,
                                                            int64_t ldout, int64_t r, int64_t c0,
                                                            const __mmask16 m[4], int64_t g0, int64_t g1) {
    (void)tables;
    const __mmask32 m32[2] = {(__mmask32)m[0] | ((__mmask32)m[1] << 16), (__mmask32)m[2] | ((__mmask32)m[3] << 16)};
    const __m512i hi = _mm512_set1_epi32((int)0xFFFF0000u);
    __m512 acc[2][4]; /* [row][even 0..31, odd 0..31, even 32..63, odd 32..63] */
    for (int i = 0; i < nrows; i++)
        for (int h = 0; h < 2; h++) {
            const float *src = g0 > 0 ? out + (r + i) * ldout + c0 + 32 * h : bias ? bias + c0 + 32 * h : NULL;
            if (src) {
                const __m512 a = masked ? _mm512_maskz_loadu_ps(m[2 * h], src) : _mm512_loadu_ps(src);
                const __m512 b = masked ? _mm512_maskz_loadu_ps(m[2 * h + 1], src + 16) : _mm512_loadu_ps(src + 16);
                to_even_odd(a, b, &acc[i][2 * h], &acc[i][2 * h + 1]);
            } else {
                acc[i][2 * h] = acc[i][2 * h + 1] = _mm512_setzero_ps();
            }
        }
    const int32_t *cr = code + r * ldcode;
    const float *sr = score + r * ldscore;
    const int64_t ahead = (r + nrows + PREFETCH_ROWS <= rows) ? PREFETCH_ROWS : 0;
    for (int64_t k = g0; k < g1; k++) {
        const uint16_t *tk = table + (k << tau) * out_dim + c0;
        if (ahead) {
            const uint16_t *pf = tk + (int64_t)cr[ahead * ldcode + k] * out_dim;
            _mm_prefetch((const char *)pf, _MM_HINT_T0);
            _mm_prefetch((const char *)(pf + 32), _MM_HINT_T0);
            if (nrows == 2) {
                pf = tk + (int64_t)cr[(ahead + 1) * ldcode + k] * out_dim;
                _mm_prefetch((const char *)pf, _MM_HINT_T0);
                _mm_prefetch((const char *)(pf + 32), _MM_HINT_T0);
            }
        }
        for (int i = 0; i < nrows; i++) {
            const uint16_t *t = tk + (int64_t)cr[i * ldcode + k] * out_dim;
            const __m512 s = _mm512_set1_ps(sr[i * ldscore + k]);
            for (int h = 0; h < 2; h++) {
                const __m512i x = masked ? _mm512_maskz_loadu_epi16(m32[h], t + 32 * h)
                                         : _mm512_loadu_si512((const void *)(t + 32 * h));
                const __m512 ev = _mm512_castsi512_ps(_mm512_slli_epi32(x, 16));
                const __m512 od = _mm512_castsi512_ps(_mm512_and_si512(x, hi));
                acc[i][2 * h] = _mm512_fmadd_ps(s, ev, acc[i][2 * h]);
                acc[i][2 * h + 1] = _mm512_fmadd_ps(s, od, acc[i][2 * h + 1]);
            }
        }
    }
    for (int i = 0; i < nrows; i++)
        for (int h = 0; h < 2; h++) {
            __m512 a, b;
            from_even_odd(acc[i][2 * h], acc[i][2 * h + 1], &a, &b);
            float *o = out + (r + i) * ldout + c0 + 32 * h;
            if (masked) {
                _mm512_mask_storeu_ps(o, m[2 * h], a);
                _mm512_mask_storeu_ps(o + 16, m[2 * h + 1], b);
            } else {
                _mm512_storeu_ps(o, a);
                _mm512_storeu_ps(o + 16, b);
            }
        }
}

void lffn_gather_accum_bf16_avx512(LFFN_GATHER_ARGS, const uint16_t *table, const float *bias, float *out,
                                   int64_t ldout) {
    const int64_t G = group_size(tables);
    for (int64_t c0 = 0; c0 < out_dim; c0 += CHUNK) {
        const int64_t nc = out_dim - c0 < CHUNK ? out_dim - c0 : CHUNK;
        __mmask16 m[4];
        chunk_masks(nc, m);
        for (int64_t g0 = 0; g0 < tables; g0 += G) {
            const int64_t g1 = g0 + G < tables ? g0 + G : tables;
            int64_t r = 0;
            if (nc == CHUNK) {
                for (; r + 2 <= rows; r += 2)
                    bf16_rows(0, 2, rows, tables, tau, out_dim, code, ldcode, score, ldscore, table, bias, out,
                              ldout, r, c0, m, g0, g1);
                if (r < rows)
                    bf16_rows(0, 1, rows, tables, tau, out_dim, code, ldcode, score, ldscore, table, bias, out,
                              ldout, r, c0, m, g0, g1);
            } else {
                for (; r < rows; r++)
                    bf16_rows(1, 1, rows, tables, tau, out_dim, code, ldcode, score, ldscore, table, bias, out,
                              ldout, r, c0, m, g0, g1);
            }
        }
    }
}
