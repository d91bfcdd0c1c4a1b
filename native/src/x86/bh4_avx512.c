/* BH4 hash projection, AVX-512.
 *
 * A tile of LFFN_BH4_TILE (32) rows is transposed into feature-major form: feature k of the tile is 32
 * contiguous floats (two zmm), one lane per row. Then
 *  - the block multiply of block n is the small GEMM D[o, :] = sum_i W[n, o, i] * S[i, :]: W[n, o, i] is
 *    broadcast (the [out, in] layout is read row by row, no repacking) and multiplies the two zmm of S[i];
 *    OG outputs x 2 zmm are register accumulators, so each broadcast feeds two FMAs and each S row is
 *    reused OG times from L1;
 *  - the Walsh-Hadamard butterflies pair whole features, so every stride is plain vector add/sub; three
 *    stages are fused per pass (radix 8, 16 zmm live).
 * Workspace: three [P, 32] tiles (u_pad, and a ping-pong pair for the stages). */
#include <immintrin.h>
#include <string.h>

#include "../lookup_internal.h"
#include "simd_avx512.h"

#define TT LFFN_BH4_TILE

#define BFLY(a, b)                                                                                           \
    do {                                                                                                     \
        const __m512 t_ = _mm512_add_ps(a, b);                                                               \
        b = _mm512_sub_ps(a, b);                                                                             \
        a = t_;                                                                                              \
    } while (0)

#define DEFINE_BLOCK_KERNEL(OG, FUSE) DEFINE_BLOCK_KERNEL_NAMED(block_kernel_##OG, OG, FUSE)
#define DEFINE_BLOCK_KERNEL_NAMED(NAME, OG, FUSE)                                                           \
    static inline __attribute__((always_inline)) void NAME(int64_t b, const float *wn,                       \
                                                                         const float *S, float *D) {         \
        __m512 a0[OG], a1[OG];                                                                               \
        for (int q = 0; q < OG; q++) a0[q] = a1[q] = _mm512_setzero_ps();                                    \
        for (int64_t i = 0; i < b; i++) {                                                                    \
            const __m512 s0 = _mm512_load_ps(S + i * TT), s1 = _mm512_load_ps(S + i * TT + 16);              \
            for (int q = 0; q < OG; q++) {                                                                   \
                const __m512 w = _mm512_set1_ps(wn[q * b + i]);                                              \
                a0[q] = _mm512_fmadd_ps(w, s0, a0[q]);                                                       \
                a1[q] = _mm512_fmadd_ps(w, s1, a1[q]);                                                       \
            }                                                                                                \
        }                                                                                                    \
        if (FUSE) /* Hadamard strides 1, 2, 4 on the 8 outputs while they are in registers */                \
            for (int s_ = 1; s_ < OG; s_ *= 2)                                                               \
                for (int q = 0; q < OG; q++)                                                                 \
                    if (!(q & s_)) {                                                                         \
                        BFLY(a0[q], a0[q + s_]);                                                             \
                        BFLY(a1[q], a1[q + s_]);                                                             \
                    }                                                                                        \
        for (int q = 0; q < OG; q++) {                                                                       \
            _mm512_store_ps(D + q * TT, a0[q]);                                                              \
            _mm512_store_ps(D + q * TT + 16, a1[q]);                                                         \
        }                                                                                                    \
    }
DEFINE_BLOCK_KERNEL(8, 1)
DEFINE_BLOCK_KERNEL_NAMED(block_kernel_8_plain, 8, 0)
DEFINE_BLOCK_KERNEL(4, 0)
DEFINE_BLOCK_KERNEL(2, 0)
DEFINE_BLOCK_KERNEL(1, 0)

/* Hadamard stages of strides h0, 2 h0, ..., P/2 over the P features of a [P, TT] tile, in place (h0 = 1:
 * the whole unnormalised natural-order FWHT). */
static void fwht_stages(int64_t P, int64_t h0, float *x) {
    int64_t h = h0;
    for (; h * 8 <= P; h *= 8) {
        for (int64_t base = 0; base < P; base += 8 * h)
            for (int64_t k = base; k < base + h; k++) {
                __m512 v0[8], v1[8];
                for (int m = 0; m < 8; m++) {
                    v0[m] = _mm512_load_ps(x + (k + m * h) * TT);
                    v1[m] = _mm512_load_ps(x + (k + m * h) * TT + 16);
                }
                for (int s = 1; s < 8; s *= 2)
                    for (int m = 0; m < 8; m++)
                        if (!(m & s)) {
                            BFLY(v0[m], v0[m + s]);
                            BFLY(v1[m], v1[m + s]);
                        }
                for (int m = 0; m < 8; m++) {
                    _mm512_store_ps(x + (k + m * h) * TT, v0[m]);
                    _mm512_store_ps(x + (k + m * h) * TT + 16, v1[m]);
                }
            }
    }
    for (; h < P; h *= 2) {
        for (int64_t base = 0; base < P; base += 2 * h)
            for (int64_t k = base; k < base + h; k++) {
                __m512 a0 = _mm512_load_ps(x + k * TT), a1 = _mm512_load_ps(x + k * TT + 16);
                __m512 b0 = _mm512_load_ps(x + (k + h) * TT), b1 = _mm512_load_ps(x + (k + h) * TT + 16);
                BFLY(a0, b0);
                BFLY(a1, b1);
                _mm512_store_ps(x + k * TT, a0);
                _mm512_store_ps(x + k * TT + 16, a1);
                _mm512_store_ps(x + (k + h) * TT, b0);
                _mm512_store_ps(x + (k + h) * TT + 16, b1);
            }
    }
}

/* dst = H . blockdiag(W) . src over a [P, TT] tile; W is [P/b, b, b] ([out, in] blocks). The Hadamard
 * stages of stride < b are done per block while it is hot (strides 1, 2, 4 in registers when b >= 8), the
 * rest over the whole tile. */
static void block_multiply_fwht(int64_t P, int64_t b, const float *w, const float *src, float *dst) {
    for (int64_t n = 0; n < P; n += b) {
        const float *wn = w + n * b, *S = src + n * TT;
        float *D = dst + n * TT;
        if (b >= 8) {
            for (int64_t o = 0; o < b; o += 8) block_kernel_8(b, wn + o * b, S, D + o * TT);
            fwht_stages(b, 8, D);
        } else {
            int64_t o = 0;
            for (; o + 4 <= b; o += 4) block_kernel_4(b, wn + o * b, S, D + o * TT);
            for (; o + 2 <= b; o += 2) block_kernel_2(b, wn + o * b, S, D + o * TT);
            for (; o < b; o++) block_kernel_1(b, wn + o * b, S, D + o * TT);
            fwht_stages(b, 1, D);
        }
    }
    fwht_stages(P, b, dst);
}

/* U[k, t] = u[t, k] for t < nt, k < dim; zero elsewhere (rows nt..TT and features dim..P). */
static void load_tile(int64_t nt, int64_t dim, int64_t P, const float *u, int64_t ldu, float *U) {
    int64_t k0 = 0;
    if (nt == TT) {
        for (; k0 + 16 <= dim; k0 += 16)
            for (int64_t t0 = 0; t0 < TT; t0 += 16) {
                __m512 r[16];
                for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(u + (t0 + i) * ldu + k0);
                lffn_transpose16_avx512(r);
                for (int j = 0; j < 16; j++) _mm512_store_ps(U + (k0 + j) * TT + t0, r[j]);
            }
    }
    if (k0 < P) memset(U + k0 * TT, 0, (size_t)((P - k0) * TT) * sizeof(float));
    for (int64_t t = 0; t < nt; t++)
        for (int64_t k = k0; k < dim; k++) U[k * TT + t] = u[t * ldu + k];
}

/* z[t, k] = 0.7 Y[k, t] + 0.3 U[k, t] + bias[k] for t < nt, k < kmax. */
static void store_tile(int64_t nt, int64_t kmax, const float *Y, const float *U, const float *bias, float *z,
                       int64_t ldz) {
    const __m512 c7 = _mm512_set1_ps(0.7f), c3 = _mm512_set1_ps(0.3f);
    int64_t k0 = 0;
    if (nt == TT) {
        for (; k0 + 16 <= kmax; k0 += 16) {
            const __m512 bk = bias ? _mm512_loadu_ps(bias + k0) : _mm512_setzero_ps();
            for (int64_t t0 = 0; t0 < TT; t0 += 16) {
                __m512 r[16];
                for (int j = 0; j < 16; j++)
                    r[j] = _mm512_add_ps(_mm512_mul_ps(c7, _mm512_load_ps(Y + (k0 + j) * TT + t0)),
                                         _mm512_mul_ps(c3, _mm512_load_ps(U + (k0 + j) * TT + t0)));
                lffn_transpose16_avx512(r);
                for (int i = 0; i < 16; i++) _mm512_storeu_ps(z + (t0 + i) * ldz + k0, _mm512_add_ps(r[i], bk));
            }
        }
    }
    for (int64_t t = 0; t < nt; t++)
        for (int64_t k = k0; k < kmax; k++) {
            const float v = 0.7f * Y[k * TT + t] + 0.3f * U[k * TT + t];
            z[t * ldz + k] = bias ? v + bias[k] : v;
        }
}

void lffn_bh4_project_f32_avx512(int64_t rows, int64_t dim, int64_t padded_dim, int64_t block,
                                 int64_t repeats, int64_t out_dim, const float *u, int64_t ldu,
                                 const float *weight, const float *bias, float *workspace, float *z,
                                 int64_t ldz) {
    const int64_t P = padded_dim, b = block;
    float *U = workspace, *A = workspace + P * TT, *B = workspace + 2 * P * TT;
    for (int64_t r0 = 0; r0 < rows; r0 += TT) {
        const int64_t nt = rows - r0 < TT ? rows - r0 : TT;
        load_tile(nt, dim, P, u + r0 * ldu, ldu, U);
        for (int64_t r = 0; r < repeats && r * P < out_dim; r++) {
            const float *w = weight + r * 4 * P * b;
            block_multiply_fwht(P, b, w, U, A);
            block_multiply_fwht(P, b, w + P * b, A, B);
            block_multiply_fwht(P, b, w + 2 * P * b, B, A);
            block_multiply_fwht(P, b, w + 3 * P * b, A, B);
            const int64_t kmax = out_dim - r * P < P ? out_dim - r * P : P;
            store_tile(nt, kmax, B, U, bias ? bias + r * P : NULL, z + r0 * ldz + r * P, ldz);
        }
    }
}

/* dst = H . blockdiag(W') . src where W' = (I (x) H_b) W was folded at load time (lffn_bh4_fold_hadamard):
 * only the Hadamard stages of stride >= b (across blocks) remain. */
static void block_multiply_folded(int64_t P, int64_t b, const float *w, const float *src, float *dst) {
    for (int64_t n = 0; n < P; n += b) {
        const float *wn = w + n * b, *S = src + n * TT;
        float *D = dst + n * TT;
        int64_t o = 0;
        for (; o + 8 <= b; o += 8) block_kernel_8_plain(b, wn + o * b, S, D + o * TT);
        for (; o + 4 <= b; o += 4) block_kernel_4(b, wn + o * b, S, D + o * TT);
        for (; o + 2 <= b; o += 2) block_kernel_2(b, wn + o * b, S, D + o * TT);
        for (; o < b; o++) block_kernel_1(b, wn + o * b, S, D + o * TT);
    }
    fwht_stages(P, b, dst);
}

/* One tile of nt <= LFFN_BH4_TILE rows through the R repeats of 4 stages, each stage done by `stage` (plain
 * block multiply + full Hadamard, or folded weights + the cross-block Hadamard stages): Z[k, t] = z[t, k]
 * (feature-major, TT floats per feature) for k < out_dim, no transpose back. workspace: three [P, TT] tiles. */
typedef void (*bh4_stage_fn)(int64_t P, int64_t b, const float *w, const float *src, float *dst);

static void bh4_tile(int64_t nt, int64_t dim, int64_t padded_dim, int64_t block, int64_t repeats, int64_t out_dim,
                     const float *u, int64_t ldu, const float *weight, const float *bias, float *workspace, float *Z,
                     bh4_stage_fn stage) {
    const int64_t P = padded_dim, b = block;
    float *U = workspace, *A = workspace + P * TT, *B = workspace + 2 * P * TT;
    const __m512 c7 = _mm512_set1_ps(0.7f), c3 = _mm512_set1_ps(0.3f);
    load_tile(nt, dim, P, u, ldu, U);
    for (int64_t r = 0; r < repeats && r * P < out_dim; r++) {
        const float *w = weight + r * 4 * P * b;
        stage(P, b, w, U, A);
        stage(P, b, w + P * b, A, B);
        stage(P, b, w + 2 * P * b, B, A);
        stage(P, b, w + 3 * P * b, A, B);
        const int64_t kmax = out_dim - r * P < P ? out_dim - r * P : P;
        float *Zr = Z + r * P * TT;
        for (int64_t k = 0; k < kmax; k++) {
            const __m512 bk = _mm512_set1_ps(bias ? bias[r * P + k] : 0.0f);
            for (int h = 0; h < TT; h += 16)
                _mm512_store_ps(Zr + k * TT + h,
                                _mm512_add_ps(_mm512_fmadd_ps(c7, _mm512_load_ps(B + k * TT + h),
                                                              _mm512_mul_ps(c3, _mm512_load_ps(U + k * TT + h))),
                                              bk));
        }
    }
}

/* The fused layer's BH4 step on one tile (see bh4_tile): weights folded at load (h0 == b > 1) or as given. */
void lffn_bh4_tile_f32_avx512(int64_t nt, int64_t dim, int64_t padded_dim, int64_t block, int64_t repeats,
                              int64_t out_dim, const float *LFFN_RESTRICT u, int64_t ldu,
                              const float *LFFN_RESTRICT weight, const float *LFFN_RESTRICT bias,
                              float *LFFN_RESTRICT workspace, float *LFFN_RESTRICT Z, int64_t h0) {
    bh4_tile(nt, dim, padded_dim, block, repeats, out_dim, u, ldu, weight, bias, workspace, Z,
             h0 > 1 ? block_multiply_folded : block_multiply_fwht);
}
