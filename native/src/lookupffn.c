/* The fused LookupFFN layer (SPEC.md steps 1-4 with a BH4 projection): entry point, checks, workspace layout
 * and the tiling. Rows are processed in big tiles of up to LFFN_FUSED_ROWS rows; each big tile in sub-tiles
 * of LFFN_BH4_TILE rows goes LayerNorm -> BH4 -> hash with L1/L2-resident intermediates, leaving only codes and
 * scores (8 bytes per row and table) for the whole big tile; then one packed gather over the big tile, so
 * each (chunk, table group) slice of the packed tables is brought into L2 once per big tile.
 *
 * AVX-512: BH4 writes z feature-major (one lane per row) and the hash reads it with aligned loads; codes and
 * scores are stored table-major ([tables][big tile]), which the packed gather reads directly. Other ISAs
 * compose the row-major kernels (codes [big tile][tables]). */
#include "dispatch.h"

#ifndef LFFN_FUSED_ROWS
#define LFFN_FUSED_ROWS 4096 /* rows per big tile (codes + scores: 8 KiB per 8 rows of 128 tables) */
#endif
#define TT LFFN_BH4_TILE
_Static_assert(LFFN_PACK_C_F32 <= 64 && LFFN_PACK_C_BF16 <= 64 && LFFN_PACK_C_I8 <= 64, "obuf holds 64 columns per row");
/* The BH4 weights come packed by lffn_bh4_pack_f32: for blocks up to LFFN_BH4_FOLD_MAX_B the in-block Hadamard
 * stages are folded into them at load (saves 6 of the 9 Hadamard stages at b = 64, P = 512; about 12% of the
 * layer), so every call of every size runs the same arithmetic: a row's result does not depend on how rows
 * are split across calls. */

/* Build with -DLFFN_FUSED_PROFILE to accumulate per-stage TSC ticks (LayerNorm, BH4, hash, gather) into
 * lffn_fused_profile (summed over threads, racy: for single-run diagnostics only). Adding
 * -DLFFN_DIAG_CODE_MASK=m ANDs every code with m before the gather (wrong results, diagnostics only): m = 0
 * sends every lookup to row 0 of its table, so the gather's table reads are L1 hits and what remains is the
 * loop's own cost (docs/PERFORMANCE.md, "Where the gather's time goes"). */
#ifdef LFFN_FUSED_PROFILE
#include <x86intrin.h>
LFFN_API double lffn_fused_profile[4];
#define PROF_T(v) const uint64_t v = __rdtsc()
#define PROF_ADD(i, a, b) (lffn_fused_profile[i] += (double)((b) - (a)))
#else
#define PROF_T(v)
#define PROF_ADD(i, a, b)
#endif
#define MAX_P ((int64_t)1 << 24)

static int is_pow2(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }
static int64_t al64(int64_t b) { return (b + 63) & ~(int64_t)63; }

typedef struct {
    int64_t bt;                           /* big-tile row capacity, a multiple of TT */
    int64_t code, score, obuf, ln, z, bh4, end; /* byte offsets */
} fused_layout;

static int layout_of(int64_t rows, int64_t dim, int64_t P, int64_t tables, int64_t tau, fused_layout *L) {
    if (rows < 0 || dim < 1 || dim > MAX_P || !is_pow2(P) || P > MAX_P || P < dim || tables < 1 ||
        tables > ((int64_t)1 << 30) || tau < 1 || tau > 16)
        return 0;
    int64_t bt = rows < LFFN_FUSED_ROWS ? rows : LFFN_FUSED_ROWS;
    bt = (bt + TT - 1) / TT * TT;
    if (bt < TT) bt = TT;
    L->bt = bt;
    L->code = 0;
    L->score = L->code + al64(tables * bt * 4);
    L->obuf = L->score + al64(tables * bt * 4);
    L->ln = L->obuf + al64(bt * 64 * 4); /* partial sums of one 64-column chunk (packed gather) */
    L->z = L->ln + al64(TT * dim * 4);
    L->bh4 = L->z + al64(tables * tau * TT * 4);
    L->end = L->bh4 + al64(3 * P * TT * 4);
    return 1;
}

int64_t lffn_lookupffn_workspace_size(int64_t rows, int64_t dim, int64_t padded_dim, int64_t tables, int64_t tau) {
    fused_layout L;
    if (!layout_of(rows, dim, padded_dim, tables, tau, &L)) return -1;
    return rows == 0 ? 0 : L.end;
}

lffn_status_t lffn_lookupffn_forward_impl(int64_t rows, int64_t dim, int64_t padded_dim, int64_t block,
                                          int64_t repeats, int64_t tables, int64_t tau, int64_t out_dim,
                                          const float *x, int64_t ldx, const float *ln_weight, const float *ln_bias,
                                          float eps, const float *packed_proj, const float *proj_bias,
                                          const void *packed_tables, lffn_table_dtype_t table_dtype,
                                          const float *bias, void *workspace, float *out, int64_t ldout, int32_t *debug_code,
                                          float *debug_score) {
    fused_layout L;
    const int64_t P = padded_dim;
    LFFN_CHECK(layout_of(rows, dim, P, tables, tau, &L));
    const int64_t hz = tables * tau; /* projected width */
    LFFN_CHECK(lffn_bh4_pack_size_f32(dim, P, block, repeats, hz) > 0);
    LFFN_CHECK(lffn_tables_pack_size(tables, tau, out_dim, table_dtype) > 0); /* also a known table_dtype */
    LFFN_CHECK(ldx >= dim && ldout >= out_dim && eps >= 0.0f);
    if (rows == 0) return LFFN_SUCCESS;
    LFFN_CHECK(x && ln_weight && ln_bias && packed_proj && packed_tables && workspace && out);
    LFFN_CHECK(((uintptr_t)workspace & 63) == 0 && ((uintptr_t)packed_tables & 63) == 0);
    LFFN_CHECK(((uintptr_t)packed_proj & 63) == 0);

    char *ws = workspace;
    int32_t *code = (int32_t *)(ws + L.code);
    float *score = (float *)(ws + L.score), *obuf = (float *)(ws + L.obuf), *ln = (float *)(ws + L.ln);
    float *z = (float *)(ws + L.z), *bh4ws = (float *)(ws + L.bh4);
    const lffn_kernels_t *K = lffn_kernels();
    const int tiles = K->bh4_tile_f32 != NULL; /* feature-major tiles, table-major codes */
    const int64_t ru = (hz + P - 1) / P, h0 = lffn_bh4_h0(block); /* repeats packed; first Hadamard stride */
    for (int64_t b0 = 0; b0 < rows; b0 += L.bt) {
        const int64_t nb = rows - b0 < L.bt ? rows - b0 : L.bt;
        for (int64_t s = 0; s < nb; s += TT) {
            const int64_t nt = nb - s < TT ? nb - s : TT;
            PROF_T(t0);
            K->layernorm_f32(nt, dim, x + (b0 + s) * ldx, ldx, ln_weight, ln_bias, eps, ln, dim);
            PROF_T(t1);
            if (tiles) {
                K->bh4_tile_f32(nt, dim, P, block, ru, hz, ln, dim, packed_proj, proj_bias, bh4ws, z, h0);
                PROF_T(t2);
                K->hash_tile_f32(tables, tau, z, code + s, score + s, L.bt);
                PROF_T(t3);
                PROF_ADD(0, t0, t1);
                PROF_ADD(1, t1, t2);
                PROF_ADD(2, t2, t3);
            } else {
                K->bh4_rows_f32(nt, dim, P, block, ru, hz, ln, dim, packed_proj, proj_bias, bh4ws, z, hz, h0);
                K->hash_code_score_f32(nt, tables, tau, z, hz, code + s * tables, tables, score + s * tables, tables);
            }
        }
        /* codes and scores: [tables][bt] with tiles, else [nb][tables] */
        const int64_t c_rs = tiles ? 1 : tables, c_ks = tiles ? L.bt : 1;
        if (debug_code)
            for (int64_t r = 0; r < nb; r++)
                for (int64_t k = 0; k < tables; k++) {
                    debug_code[(b0 + r) * tables + k] = code[r * c_rs + k * c_ks];
                    debug_score[(b0 + r) * tables + k] = score[r * c_rs + k * c_ks];
                }
        PROF_T(g0);
#ifdef LFFN_DIAG_CODE_MASK
        for (int64_t i = 0; i < tables * L.bt; i++) code[i] &= LFFN_DIAG_CODE_MASK; /* both code layouts */
#endif
        K->gather_packed[table_dtype](nb, tables, tau, out_dim, code, c_rs, c_ks, score, c_rs, c_ks, packed_tables, bias,
                                    out + b0 * ldout, ldout, tiles ? obuf : NULL);
        PROF_T(g1);
        PROF_ADD(3, g0, g1);
    }
    return LFFN_SUCCESS;
}

lffn_status_t lffn_lookupffn_forward_f32(int64_t rows, int64_t dim, int64_t padded_dim, int64_t block,
                                         int64_t repeats, int64_t tables, int64_t tau, int64_t out_dim,
                                         const float *x, int64_t ldx, const float *ln_weight, const float *ln_bias,
                                         float eps, const void *packed_proj, const float *proj_bias,
                                         const void *packed_tables, lffn_table_dtype_t table_dtype, const float *bias,
                                         void *workspace, float *out, int64_t ldout) {
    return lffn_lookupffn_forward_impl(rows, dim, padded_dim, block, repeats, tables, tau, out_dim, x, ldx, ln_weight,
                                       ln_bias, eps, packed_proj, proj_bias, packed_tables, table_dtype, bias, workspace, out,
                                       ldout, NULL, NULL);
}
