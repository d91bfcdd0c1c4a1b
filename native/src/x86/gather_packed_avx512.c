/* Weighted gather-accumulate over packed tables, AVX-512.
 *
 * Packed layout (gather.c): [chunk][table][2^tau][C]; a (chunk, table) slice is contiguous, so a group of
 * G tables' slices is one contiguous G * 2^tau * C block that maps evenly onto the L2 sets (the unpacked
 * table's 2 KiB row stride does not). Loop order: chunk, table group (G chosen so the group's slice fits a
 * fixed L2 budget), then every row of the call in micro-tiles of NR rows whose NR x C output block lives in
 * zmm registers over the G tables: the output is read and written once per group, the slice once per call.
 * With table-major codes (the fused layer) the table rows of the next micro-tile are prefetched into L1 while
 * the current one is summed, and the partial sums between groups go to a contiguous scratch (obuf) rather
 * than to out, whose 2 KiB row stride would crowd 1/8 of the L2 sets and evict the slice (-5% time).
 * Measured on Zen 5 (fused layer, 16384 rows): C 32 vs 64, NR 4 vs 6, group budget 256 KiB..768 KiB, big
 * tiles 2048..8192 rows, prefetch distance 1..4 tiles: all within noise of each other, except smaller groups,
 * fewer prefetched lines and no prefetch (all slower). Row-major codes (public entry) use NR 4, no prefetch,
 * and, having no obuf, keep their partial sums in out itself; so that a block's share of out stays in L2
 * across the groups of a chunk, they go through the rows in blocks of PG_RM_ROW_BLOCK (the chunk's 8 MiB of
 * tables are then re-read per block, mostly from L3). 32768 rows, 2 threads: fp32 0.051-0.056 -> 0.043-0.056 s,
 * bf16 0.062-0.065 -> 0.055-0.059 s with blocks of 1024 (512 about the same, 2048 and 4096 in between).
 *
 * bf16: a 64-byte load holds 32 columns permuted at pack time (value 2i = column i, 2i+1 = column 16+i), so
 * a 16-bit left shift of each 32-bit lane gives columns 0..15 and masking the low half gives 16..31, in
 * natural order: no shuffles at all. Products and sums are fp32 (bf16 -> fp32 widening is exact).
 * (vdpbf16ps with the score rounded to bf16 pairs, (s, 0) and (0, s), was measured slower on Zen 5: 0.144-0.154 s
 * vs 0.133 s for 32768 rows, and is less accurate.) */
#include <immintrin.h>

#include "../lookup_internal.h"

#define CF LFFN_PACK_C_F32
#define CB LFFN_PACK_C_BF16
#define NVF (CF / 16) /* zmm accumulators per row, fp32 */
#define NVB (CB / 16) /* zmm accumulators per row, bf16 */
#define CI LFFN_PACK_C_I8
#define NVI (CI / 16) /* zmm accumulators per row, int8 */
_Static_assert(CF % 16 == 0 && CB % 32 == 0 && CI == 64, "packed chunk widths");

/* Rows per micro-tile (NR x NV accumulators must fit the 32 zmm with room for loads). */
#ifndef PG_NR_F32_TM
#define PG_NR_F32_TM (NVF >= 4 ? 4 : NVF == 2 ? 8 : 12)
#endif
#ifndef PG_NR_BF16_TM
#define PG_NR_BF16_TM (NVB >= 4 ? 4 : 8)
#endif
#ifndef PG_NR_I8_TM
#define PG_NR_I8_TM 4
#endif
#ifndef PG_NR_I8_RM
#define PG_NR_I8_RM 4
#endif
#ifndef PG_NR_F32_RM
#define PG_NR_F32_RM 4
#endif
#ifndef PG_NR_BF16_RM
#define PG_NR_BF16_RM 4
#endif
/* L2 bytes for one table group's slice (the rest of the 1 MiB L2 holds the streaming output, codes, scores). */
#ifndef PG_GROUP_BYTES
#define PG_GROUP_BYTES ((int64_t)512 << 10)
#endif
#ifndef PG_I8_GROUP_SCALE_BYTES
#define PG_I8_GROUP_SCALE_BYTES 4 /* int8: L2 bytes counted per row piece for its scale */
#endif
#ifndef PG_PF_LINES
#define PG_PF_LINES 4 /* lines prefetched per table row */
#endif
#ifndef PG_PF_DIST
#define PG_PF_DIST 1 /* prefetch distance in micro-tiles (table-major codes only) */
#endif
#ifndef PG_PREFETCH
#define PG_PREFETCH 1
#endif
#ifndef PG_RM_ROW_BLOCK
#define PG_RM_ROW_BLOCK 1024 /* rows per block without obuf (the public entry) */
#endif

static int64_t group_tables(int64_t tables, int64_t tau, int64_t row_bytes) {
    int64_t g = PG_GROUP_BYTES / (((int64_t)1 << tau) * row_bytes);
    if (g < 1) g = 1;
    if (g >= tables) return tables;
    const int64_t ngroups = (tables + g - 1) / g;
    return (tables + ngroups - 1) / ngroups; /* balanced groups */
}

static inline __mmask16 col_mask(int64_t n) { /* first n of 16 lanes */
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1u);
}

/* One micro-tile: rows r..r+NR-1, tables g0..g0+g-1 of one chunk. cr/sr point at (row r, table g0);
 * slice at (chunk, table g0); o at (row r, chunk column 0). nc: valid columns of the chunk. TM: codes and
 * scores are table-major (row stride 1, table stride ks: one pointer per k, rows at immediate offsets),
 * else row-major (table stride 1, row stride rs: one pointer per row). */
#define DEFINE_TILE(NAME, NR, NV, ELEM, BODY)                                                                  \
    static inline __attribute__((always_inline)) void NAME(                                                  \
        const int TM, const int masked, const int first, const int pf, int64_t nc, int64_t tau,              \
        const int32_t *cr, const float *sr, int64_t cst, int64_t sst, const ELEM *slice,                     \
        const float *sslice, int64_t sw, int64_t g,                                                                      \
        const float *bias, const float *oi, int64_t ldi, float *o, int64_t ldout) {                          \
        __m512 acc[NR][NV];                                                                                   \
        for (int i = 0; i < NR; i++)                                                                          \
            for (int v = 0; v < NV; v++) {                                                                    \
                if (first && !bias) acc[i][v] = _mm512_setzero_ps();                                          \
                else {                                                                                        \
                    const float *src = first ? bias + 16 * v : oi + i * ldi + 16 * v;                         \
                    acc[i][v] = masked ? _mm512_maskz_loadu_ps(col_mask(nc - 16 * v), src) : _mm512_loadu_ps(src); \
                }                                                                                             \
            }                                                                                                 \
        const int64_t tstride = ((int64_t)1 << tau) * (int64_t)(NV * 16);                                     \
        const int32_t *cp[NR];                                                                                \
        const float *sp[NR];                                                                                  \
        for (int i = 0; i < NR; i++) {                                                                        \
            cp[i] = cr + (TM ? i : i * cst);                                                                  \
            sp[i] = sr + (TM ? i : i * sst);                                                                  \
        }                                                                                                     \
        const ELEM *tk = slice;                                                                               \
        const float *sk = sslice; /* int8: the scales of table k's rows */                                   \
        (void)sk;                                                                                             \
        for (int64_t k = 0; k < g; k++, tk += tstride, sk += sslice ? ((int64_t)1 << tau) * sw : 0) {           \
            const int64_t kc = TM ? k * cst : k, kq = TM ? k * sst : k;                                       \
            if (pf && TM)                                                                                     \
                for (int i = 0; i < NR; i++) {                                                                \
                    const char *p = (const char *)(tk + (int64_t)cr[kc + PG_PF_DIST * NR + i] * (NV * 16));                \
                    for (int l = 0; l < (int)(NV * 16 * sizeof(ELEM)) && l < 64 * PG_PF_LINES; l += 64) _mm_prefetch(p + l, _MM_HINT_T0); \
                }                                                                                             \
            for (int i = 0; i < NR; i++) {                                                                    \
                const int64_t ci = TM ? cr[kc + i] : cp[i][kc];                                               \
                const ELEM *t = tk + ci * (NV * 16);                                                          \
                const float sv = TM ? sr[kq + i] : sp[i][kq];                                                 \
                BODY                                                                                          \
            }                                                                                                 \
        }                                                                                                     \
        for (int i = 0; i < NR; i++)                                                                          \
            for (int v = 0; v < NV; v++) {                                                                    \
                if (masked) _mm512_mask_storeu_ps(o + i * ldout + 16 * v, col_mask(nc - 16 * v), acc[i][v]); \
                else _mm512_storeu_ps(o + i * ldout + 16 * v, acc[i][v]);                                     \
            }                                                                                                 \
    }

#define F32_BODY                                                                                             \
    const __m512 s = _mm512_set1_ps(sv);                                                                     \
    for (int v = 0; v < NVF; v++) acc[i][v] = _mm512_fmadd_ps(s, _mm512_load_ps(t + 16 * v), acc[i][v]);
#define BF16_BODY                                                                                            \
    const __m512 s = _mm512_set1_ps(sv);                                                                     \
    for (int h = 0; h < NVB / 2; h++) {                                                                      \
        const __m512i x = _mm512_load_si512((const void *)(t + 32 * h));                                     \
        const __m512 lo = _mm512_castsi512_ps(_mm512_slli_epi32(x, 16));                                     \
        const __m512 hi = _mm512_castsi512_ps(_mm512_and_si512(x, _mm512_set1_epi32((int)0xFFFF0000u)));      \
        acc[i][2 * h] = _mm512_fmadd_ps(s, lo, acc[i][2 * h]);                                               \
        acc[i][2 * h + 1] = _mm512_fmadd_ps(s, hi, acc[i][2 * h + 1]);                                       \
    }

/* int8: one 64-byte load per row piece; lane i holds columns i, 16+i, 32+i, 48+i (pack order), so byte j of
 * every lane is sign-extended by a left shift to the top and an arithmetic right shift (j = 3: the shift
 * alone); the integers convert exactly and the per-piece scale is folded into the broadcast score. */
#define I8_BODY                                                                                              \
    const __m512 s = _mm512_set1_ps(sv * sk[ci * sw]);                                                            \
    {                                                                                                        \
        const __m512i x = _mm512_load_si512((const void *)t);                                                \
        const __m512 q0 = _mm512_cvtepi32_ps(_mm512_srai_epi32(_mm512_slli_epi32(x, 24), 24));               \
        const __m512 q1 = _mm512_cvtepi32_ps(_mm512_srai_epi32(_mm512_slli_epi32(x, 16), 24));               \
        const __m512 q2 = _mm512_cvtepi32_ps(_mm512_srai_epi32(_mm512_slli_epi32(x, 8), 24));                \
        const __m512 q3 = _mm512_cvtepi32_ps(_mm512_srai_epi32(x, 24));                                      \
        acc[i][0] = _mm512_fmadd_ps(s, q0, acc[i][0]);                                                       \
        acc[i][1] = _mm512_fmadd_ps(s, q1, acc[i][1]);                                                       \
        acc[i][2] = _mm512_fmadd_ps(s, q2, acc[i][2]);                                                       \
        acc[i][3] = _mm512_fmadd_ps(s, q3, acc[i][3]);                                                       \
    }

DEFINE_TILE(f32_tile_tm, PG_NR_F32_TM, NVF, float, F32_BODY)
DEFINE_TILE(f32_tile_rm, PG_NR_F32_RM, NVF, float, F32_BODY)
DEFINE_TILE(f32_tile_1, 1, NVF, float, F32_BODY)
DEFINE_TILE(bf16_tile_tm, PG_NR_BF16_TM, NVB, uint16_t, BF16_BODY)
DEFINE_TILE(bf16_tile_rm, PG_NR_BF16_RM, NVB, uint16_t, BF16_BODY)
DEFINE_TILE(bf16_tile_1, 1, NVB, uint16_t, BF16_BODY)
DEFINE_TILE(i8_tile_tm, PG_NR_I8_TM, NVI, int8_t, I8_BODY)
DEFINE_TILE(i8_tile_rm, PG_NR_I8_RM, NVI, int8_t, I8_BODY)
DEFINE_TILE(i8_tile_1, 1, NVI, int8_t, I8_BODY)

enum { DT_F32 = LFFN_TABLE_F32, DT_BF16 = LFFN_TABLE_BF16, DT_I8 = LFFN_TABLE_I8 };

/* One micro-tile of NR rows (or of one row, NR 1) of the element type and code layout given: picks the
 * specialisation generated above (dt, TM, one are constants wherever this is inlined). */
static inline __attribute__((always_inline)) void tile(const int dt, const int TM, const int one, const int masked,
                                                       const int first, const int pf, int64_t nc, int64_t tau,
                                                       const int32_t *cr, const float *sr, int64_t cst, int64_t sst,
                                                       const void *slice, const float *sslice, int64_t sw, int64_t g,
                                                       const float *bias, const float *oi, int64_t ldi, float *o,
                                                       int64_t ldout) {
#define TILE_ARGS TM, masked, first, pf, nc, tau, cr, sr, cst, sst, slice, sslice, sw, g, bias, oi, ldi, o, ldout
    if (dt == DT_I8) {
        if (one) i8_tile_1(TILE_ARGS);
        else if (TM) i8_tile_tm(TILE_ARGS);
        else i8_tile_rm(TILE_ARGS);
    } else if (dt == DT_BF16) {
        if (one) bf16_tile_1(TILE_ARGS);
        else if (TM) bf16_tile_tm(TILE_ARGS);
        else bf16_tile_rm(TILE_ARGS);
    } else {
        if (one) f32_tile_1(TILE_ARGS);
        else if (TM) f32_tile_tm(TILE_ARGS);
        else f32_tile_rm(TILE_ARGS);
    }
#undef TILE_ARGS
}

static inline int nr_of(const int dt, const int TM) {
    if (dt == DT_I8) return TM ? PG_NR_I8_TM : PG_NR_I8_RM;
    if (dt == DT_BF16) return TM ? PG_NR_BF16_TM : PG_NR_BF16_RM;
    return TM ? PG_NR_F32_TM : PG_NR_F32_RM;
}

/* Row micro-tiles of one (chunk, group) over `rows` rows whose codes and scores start at (code, score): every
 * flag a constant in its own specialisation. Partial sums are read from (ib, ldib) and written to (ob, ldob):
 * out's chunk, or obuf between the groups of a chunk. cr/sr of a tile point at (its first row, table g0). */
static inline __attribute__((always_inline)) void row_tiles(
    const int dt, const int TM, const int masked, const int first, int64_t rows, const int32_t *code,
    int64_t code_rs, int64_t code_ks, const float *score, int64_t score_rs, int64_t score_ks, int64_t g0, int64_t g,
    int64_t cst, int64_t sst, const void *slice, const float *sslice, int64_t sw, int64_t nc, int64_t tau, const float *bb,
    const float *ib, int64_t ldib, float *ob, int64_t ldob) {
    const int NR = nr_of(dt, TM);
    int64_t r = 0;
    for (; r + NR <= rows; r += NR) {
        const int32_t *cr = code + r * code_rs + g0 * code_ks;
        const float *sr = score + r * score_rs + g0 * score_ks;
        if (PG_PREFETCH && TM && r + (PG_PF_DIST + 1) * NR <= rows)
            tile(dt, TM, 0, masked, first, 1, nc, tau, cr, sr, cst, sst, slice, sslice, sw, g, bb, ib + r * ldib, ldib,
                 ob + r * ldob, ldob);
        else
            tile(dt, TM, 0, masked, first, 0, nc, tau, cr, sr, cst, sst, slice, sslice, sw, g, bb, ib + r * ldib, ldib,
                 ob + r * ldob, ldob);
    }
    for (; r < rows; r++)
        tile(dt, TM, 1, masked, first, 0, nc, tau, code + r * code_rs + g0 * code_ks,
             score + r * score_rs + g0 * score_ks, cst, sst, slice, sslice, sw, g, bb, ib + r * ldib, ldib, ob + r * ldob,
             ldob);
}

/* The loops shared by the element types: chunk, row block, table group, row micro-tiles. */
static inline __attribute__((always_inline)) void gather_loops(const int dt, LFFN_PGATHER_ARGS) {
    /* chunk columns, bytes per element */
    const int64_t C = dt == DT_I8 ? CI : dt == DT_BF16 ? CB : CF, esize = dt == DT_I8 ? 1 : dt == DT_BF16 ? 2 : 4;
    const char *pk = packed;
    const int64_t trows = tables << tau, chunks = (out_dim + C - 1) / C;
    const float *scales = dt == DT_I8 ? (const float *)(pk + chunks * trows * C) : NULL; /* int8 only */
    const int64_t G = group_tables(tables, tau, C * esize + (dt == DT_I8 ? PG_I8_GROUP_SCALE_BYTES : 0));
    /* table-major (row stride 1) or row-major (table stride 1): the two layouts the library uses */
    const int tm = code_rs == 1 && score_rs == 1;
    const int64_t cst = tm ? code_ks : code_rs, sst = tm ? score_ks : score_rs;
    /* without obuf the partial sums live in out: row blocks keep a block's share of out in L2 across the
     * groups of a chunk (the chunk's tables are then re-read per block, from L3) */
    const int64_t rb = obuf ? rows : PG_RM_ROW_BLOCK;
    for (int64_t c0 = 0; c0 < out_dim; c0 += C) {
        const int64_t nc = out_dim - c0 < C ? out_dim - c0 : C;
        const int masked = nc < C;
        const char *chunk = pk + (c0 / C) * trows * C * esize;
        for (int64_t r0 = 0; r0 < rows; r0 += rb) {
            const int64_t nr = rows - r0 < rb ? rows - r0 : rb;
            const int32_t *cb = code + r0 * code_rs;
            const float *sb = score + r0 * score_rs;
            float *outb = out + r0 * ldout;
            for (int64_t g0 = 0; g0 < tables; g0 += G) {
                const int64_t g = tables - g0 < G ? tables - g0 : G;
                const int first = g0 == 0;
                const void *slice = chunk + (g0 << tau) * C * esize;
                /* int8: scale of row ci of table k (from g0) at sslice[(k << tau) * sw + ci * sw] */
                const float *sslice = scales ? scales + lffn_i8_scale_index(c0 / C, g0 << tau, trows, chunks) : NULL;
                const int64_t sw = scales ? lffn_i8_scale_width(c0 / C, chunks) : 0;
                const float *bb = bias ? bias + c0 : NULL;
                const int last = g0 + g >= tables;
                const float *ibuf = obuf ? obuf : outb + c0;
                const int64_t ldibuf = obuf ? C : ldout;
                float *obf = obuf && !last ? obuf : outb + c0;
                const int64_t ldobf = obuf && !last ? C : ldout;
#define ROWS(TM, masked, first, ib, ldib, ob, ldob)                                                          \
    do {                                                                                                     \
        if (dt == DT_I8)                                                                                     \
            row_tiles(DT_I8, TM, masked, first, nr, cb, code_rs, code_ks, sb, score_rs, score_ks, g0, g, cst, \
                      sst, slice, sslice, sw, nc, tau, bb, ib, ldib, ob, ldob);                                  \
        else if (dt == DT_BF16)                                                                              \
            row_tiles(DT_BF16, TM, masked, first, nr, cb, code_rs, code_ks, sb, score_rs, score_ks, g0, g, cst, \
                      sst, slice, sslice, sw, nc, tau, bb, ib, ldib, ob, ldob);                                  \
        else                                                                                                 \
            row_tiles(DT_F32, TM, masked, first, nr, cb, code_rs, code_ks, sb, score_rs, score_ks, g0, g, cst, \
                      sst, slice, sslice, sw, nc, tau, bb, ib, ldib, ob, ldob);                                  \
    } while (0)
                if (tm) {
                    if (masked) ROWS(1, 1, first, ibuf, ldibuf, obf, ldobf);
                    else if (first) ROWS(1, 0, 1, ibuf, ldibuf, obf, ldobf);
                    else ROWS(1, 0, 0, ibuf, ldibuf, obf, ldobf);
                } else { /* public entry: no obuf, the same block in and out (fewer live registers) */
                    float *oc = outb + c0;
                    if (masked) ROWS(0, 1, first, oc, ldout, oc, ldout);
                    else if (first) ROWS(0, 0, 1, oc, ldout, oc, ldout);
                    else ROWS(0, 0, 0, oc, ldout, oc, ldout);
                }
#undef ROWS
            }
        }
    }
}

#define GATHER_ENTRY(NAME, DT)                                                                               \
    void NAME(LFFN_PGATHER_ARGS) {                                                                           \
        gather_loops(DT, rows, tables, tau, out_dim, code, code_rs, code_ks, score, score_rs, score_ks, packed, \
                     bias, out, ldout, obuf);                                                                \
    }
GATHER_ENTRY(lffn_gather_packed_f32_avx512, DT_F32)
GATHER_ENTRY(lffn_gather_packed_bf16_avx512, DT_BF16)
GATHER_ENTRY(lffn_gather_packed_i8_avx512, DT_I8)
