/* Attention kernels, AVX-512: masked softmax over rows (vector exp: Cody-Waite reduction, degree-6
 * polynomial, 2^n by scalef) and element-wise add. */
#include <immintrin.h>
#include <math.h>

#include "../attention_internal.h"
#include "simd_avx512.h"

void lffn_softmax_rows_f32_avx512(int64_t rows, int64_t cols, const float *x, int64_t ldx, float scale,
                                  const float *mask_add, float *y, int64_t ldy) {
    const int64_t main = cols & ~(int64_t)15;
    const __mmask16 tail = (__mmask16)((1u << (cols - main)) - 1u);
    const __m512 vs = _mm512_set1_ps(scale);
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * ldx;
        float *yr = y + r * ldy;
        /* pass 1: s = x * scale + mask into y, and the row max */
        __m512 mx = ninf;
        for (int64_t c = 0; c < main; c += 16) {
            __m512 s = _mm512_mul_ps(_mm512_loadu_ps(xr + c), vs);
            if (mask_add) s = _mm512_add_ps(s, _mm512_loadu_ps(mask_add + c));
            _mm512_storeu_ps(yr + c, s);
            mx = _mm512_max_ps(mx, s);
        }
        if (tail) {
            __m512 s = _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, xr + main), vs);
            if (mask_add) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(tail, mask_add + main));
            _mm512_mask_storeu_ps(yr + main, tail, s);
            mx = _mm512_mask_max_ps(mx, tail, mx, s);
        }
        const __m512 vmax = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
        /* pass 2: e = exp(s - max) and the sum */
        __m512 sum = _mm512_setzero_ps();
        for (int64_t c = 0; c < main; c += 16) {
            __m512 e = lffn_exp_avx512(_mm512_sub_ps(_mm512_loadu_ps(yr + c), vmax));
            _mm512_storeu_ps(yr + c, e);
            sum = _mm512_add_ps(sum, e);
        }
        if (tail) {
            __m512 e = lffn_exp_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, yr + main), vmax));
            _mm512_mask_storeu_ps(yr + main, tail, e);
            sum = _mm512_add_ps(sum, _mm512_maskz_mov_ps(tail, e));
        }
        /* pass 3: normalise */
        const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
        for (int64_t c = 0; c < main; c += 16) _mm512_storeu_ps(yr + c, _mm512_mul_ps(_mm512_loadu_ps(yr + c), inv));
        if (tail) _mm512_mask_storeu_ps(yr + main, tail, _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, yr + main), inv));
    }
}

void lffn_add_f32_avx512(int64_t rows, int64_t cols, const float *a, int64_t lda, const float *b, int64_t ldb,
                         float *y, int64_t ldy) {
    const int64_t main = cols & ~(int64_t)15;
    const __mmask16 tail = (__mmask16)((1u << (cols - main)) - 1u);
    for (int64_t r = 0; r < rows; r++) {
        const float *ar = a + r * lda, *br = b + r * ldb;
        float *yr = y + r * ldy;
        for (int64_t c = 0; c < main; c += 16)
            _mm512_storeu_ps(yr + c, _mm512_add_ps(_mm512_loadu_ps(ar + c), _mm512_loadu_ps(br + c)));
        if (tail)
            _mm512_mask_storeu_ps(yr + main, tail, _mm512_add_ps(_mm512_maskz_loadu_ps(tail, ar + main),
                                                                 _mm512_maskz_loadu_ps(tail, br + main)));
    }
}

/* ---- one head, fused: scores, softmax, P.V without the general GEMM ----
 * At a head size of 32 and a few dozen tokens the general GEMM spends more on packing and tile set-up than on
 * arithmetic, and a row-wise softmax on its horizontal reductions. Here 16 queries share the lanes of a vector:
 * their values are transposed once per block, Q.K^T broadcasts each key's values against them, the softmax runs
 * down the keys lane-wise (no horizontal reductions), and P.V broadcasts each (query, key) probability against
 * V's rows as they are stored. Every output element is one fixed sequence of operations in its own lane or
 * accumulator, whatever block its query falls in, so a call over a range of the queries gives the same bits as
 * the call over all of them. */

#define ATT_MAX_HEAD 256 /* the transposed query block lives on the stack: 256 x 16 floats */
#define ATT_KEYS 12      /* keys per Q.K^T step: 12 accumulators + the query vector */

/* st[j][0:16] = q_block . k_j for keys j in [0, rows): one accumulator per key, the 16 queries in the lanes. */
static inline __attribute__((always_inline)) void scores_block(const int rows, int64_t d, const float *qt,
                                                               const float *k, int64_t ldk, float *st) {
    __m512 acc[ATT_KEYS];
#pragma GCC unroll 12
    for (int r = 0; r < ATT_KEYS; r++)
        if (r < rows) acc[r] = _mm512_setzero_ps();
    for (int64_t dd = 0; dd < d; dd++) {
        const __m512 qv = _mm512_load_ps(qt + dd * 16);
#pragma GCC unroll 12
        for (int r = 0; r < ATT_KEYS; r++)
            if (r < rows) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(k[r * ldk + dd]), qv, acc[r]);
    }
#pragma GCC unroll 12
    for (int r = 0; r < ATT_KEYS; r++)
        if (r < rows) _mm512_store_ps(st + r * 16, acc[r]);
}

/* out[0:rows, 0 : 16 NZ] = p[0:rows, 0:kv_len] . v[0:kv_len, ...] with p(r, j) at pt[j * 16 + r]; lane masks m[z]
 * for the head's last columns. */
static inline __attribute__((always_inline)) void pv_block(const int rows, const int nz, int64_t kv_len,
                                                           const float *pt, const float *v, int64_t ldv,
                                                           const __mmask16 *m, float *out, int64_t ldout) {
    __m512 acc[12][4];
#pragma GCC unroll 12
    for (int r = 0; r < 12; r++)
#pragma GCC unroll 4
        for (int z = 0; z < 4; z++)
            if (r < rows && z < nz) acc[r][z] = _mm512_setzero_ps();
    for (int64_t j = 0; j < kv_len; j++) {
        __m512 vz[4];
#pragma GCC unroll 4
        for (int z = 0; z < 4; z++)
            if (z < nz) vz[z] = _mm512_maskz_loadu_ps(m[z], v + j * ldv + 16 * z);
#pragma GCC unroll 12
        for (int r = 0; r < 12; r++) {
            if (r < rows) {
                const __m512 pb = _mm512_set1_ps(pt[j * 16 + r]);
#pragma GCC unroll 4
                for (int z = 0; z < 4; z++)
                    if (z < nz) acc[r][z] = _mm512_fmadd_ps(pb, vz[z], acc[r][z]);
            }
        }
    }
#pragma GCC unroll 12
    for (int r = 0; r < 12; r++)
#pragma GCC unroll 4
        for (int z = 0; z < 4; z++)
            if (r < rows && z < nz) _mm512_mask_storeu_ps(out + r * ldout + 16 * z, m[z], acc[r][z]);
}

/* Items [0, count) in blocks of at most BLOCK (1..12), CALL(R) for a block of R starting at i0. */
#define BLOCKS(count, BLOCK, CALL)                                                                               \
    for (int64_t i0 = 0; i0 < (count); i0 += (BLOCK)) {                                                      \
        const int64_t left = (count) - i0;                                                                   \
        switch (left >= (BLOCK) ? (BLOCK) : (int)left) {                                                     \
        case 12: CALL(12); break;                                                                            \
        case 11: CALL(11); break;                                                                            \
        case 10: CALL(10); break;                                                                            \
        case 9: CALL(9); break;                                                                              \
        case 8: CALL(8); break;                                                                              \
        case 7: CALL(7); break;                                                                              \
        case 6: CALL(6); break;                                                                              \
        case 5: CALL(5); break;                                                                              \
        case 4: CALL(4); break;                                                                              \
        case 3: CALL(3); break;                                                                              \
        case 2: CALL(2); break;                                                                              \
        default: CALL(1); break;                                                                             \
        }                                                                                                    \
    }

/* Rows [0, rows) of one 16-query block: out = pt . v, up to 64 columns of the head at a time. */
static void pv_rows(int64_t rows, int64_t kv_len, int64_t d, const float *pt, const float *v, int64_t ldv,
                    float *out, int64_t ldout) {
    for (int64_t c0 = 0; c0 < d; c0 += 64) {
        const int64_t cn = d - c0 < 64 ? d - c0 : 64;
        const int nz = (int)((cn + 15) / 16);
        __mmask16 m[4];
        for (int z = 0; z < 4; z++) {
            const int64_t left = cn - 16 * z;
            m[z] = left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1u);
        }
        const float *vc = v + c0;
        float *oc = out + c0;
        /* rows per step: 24 accumulators at 3-4 vectors per row, 12 rows at 1-2 */
        switch (nz) {
#define PV(NZ, R) pv_block(R, NZ, kv_len, pt + i0, vc, ldv, m, oc + i0 * ldout, ldout)
#define PV1(R) PV(1, R)
#define PV2(R) PV(2, R)
#define PV3(R) PV(3, R)
#define PV4(R) PV(4, R)
        case 1: BLOCKS(rows, 12, PV1) break;
        case 2: BLOCKS(rows, 12, PV2) break;
        case 3: BLOCKS(rows, 8, PV3) break;
        default: BLOCKS(rows, 6, PV4) break;
#undef PV1
#undef PV2
#undef PV3
#undef PV4
#undef PV
        }
    }
}

void lffn_attention_head_f32_avx512(int64_t q_rows, int64_t kv_len, int64_t d, const float *q, int64_t ldq,
                                    const float *k, int64_t ldk, const float *v, int64_t ldv, float scale,
                                    const float *mask_add, float *p, float *out, int64_t ldout) {
    if (d > ATT_MAX_HEAD) {
        lffn_attention_head_f32_generic(q_rows, kv_len, d, q, ldq, k, ldk, v, ldv, scale, mask_add, p, out, ldout);
        return;
    }
    float qt[ATT_MAX_HEAD * 16] __attribute__((aligned(64)));
    float st_small[16 * 16] __attribute__((aligned(64)));
    /* the workspace holds q_rows x kv_len >= 16 x kv_len floats once kv_len >= 16 */
    float *st = kv_len >= 16 ? p : st_small;
    const __m512 vscale = _mm512_set1_ps(scale);
    for (int64_t b0 = 0; b0 < q_rows; b0 += 16) {
        const int64_t bn = q_rows - b0 < 16 ? q_rows - b0 : 16;
        /* 1. the block's queries transposed: qt[dd][i] = q[b0 + i][dd] (lanes past bn: 0) */
        for (int64_t c0 = 0; c0 < d; c0 += 16) {
            const int64_t cn = d - c0 < 16 ? d - c0 : 16;
            const __mmask16 cols = (__mmask16)((1u << cn) - 1u);
            __m512 r[16];
            for (int ii = 0; ii < 16; ii++)
                r[ii] = ii < bn ? _mm512_maskz_loadu_ps(cols, q + (b0 + ii) * ldq + c0) : _mm512_setzero_ps();
            lffn_transpose16_avx512(r);
            for (int64_t c = 0; c < cn; c++) _mm512_store_ps(qt + (c0 + c) * 16, r[c]);
        }
        /* 2. scores st[j][i] = q_i . k_j */
#define SCORES(R) scores_block(R, d, qt, k + i0 * ldk, ldk, st + i0 * 16)
        BLOCKS(kv_len, ATT_KEYS, SCORES)
#undef SCORES
        /* 3. softmax down the keys, lane by lane: s = score * scale + mask, e = exp(s - max), p = e / sum */
        __m512 mx = _mm512_set1_ps(-INFINITY);
        for (int64_t j = 0; j < kv_len; j++) {
            __m512 s = _mm512_mul_ps(_mm512_load_ps(st + j * 16), vscale);
            if (mask_add) s = _mm512_add_ps(s, _mm512_set1_ps(mask_add[j]));
            _mm512_store_ps(st + j * 16, s);
            mx = _mm512_max_ps(mx, s);
        }
        __m512 sum = _mm512_setzero_ps();
        for (int64_t j = 0; j < kv_len; j++) {
            const __m512 e = lffn_exp_avx512(_mm512_sub_ps(_mm512_load_ps(st + j * 16), mx));
            _mm512_store_ps(st + j * 16, e);
            sum = _mm512_add_ps(sum, e);
        }
        const __m512 inv = _mm512_div_ps(_mm512_set1_ps(1.0f), sum);
        for (int64_t j = 0; j < kv_len; j++) _mm512_store_ps(st + j * 16, _mm512_mul_ps(_mm512_load_ps(st + j * 16), inv));
        /* 4. the block's outputs */
        pv_rows(bn, kv_len, d, st, v, ldv, out + b0 * ldout, ldout);
    }
}
