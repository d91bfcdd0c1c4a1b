/* BH4 hash projection, AVX2: the AVX-512 scheme (feature-major tiles of LFFN_BH4_TILE rows, broadcast W
 * [out, in] entries against row vectors, vector butterflies) with 8-lane vectors, half a tile at a time in
 * the block multiply, radix-2 Hadamard passes and scalar transposes. */
#include <immintrin.h>
#include <string.h>

#include "../lookup_internal.h"

#define TT LFFN_BH4_TILE

#define DEFINE_BLOCK_KERNEL(OG)                                                                              \
    static inline __attribute__((always_inline)) void block_kernel_##OG(int64_t b, const float *wn,          \
                                                                         const float *S, float *D) {         \
        for (int h = 0; h < TT; h += 16) {                                                                   \
            __m256 a0[OG], a1[OG];                                                                           \
            for (int q = 0; q < OG; q++) a0[q] = a1[q] = _mm256_setzero_ps();                                \
            for (int64_t i = 0; i < b; i++) {                                                                \
                const __m256 s0 = _mm256_load_ps(S + i * TT + h), s1 = _mm256_load_ps(S + i * TT + h + 8);   \
                for (int q = 0; q < OG; q++) {                                                               \
                    const __m256 w = _mm256_broadcast_ss(wn + q * b + i);                                    \
                    a0[q] = _mm256_fmadd_ps(w, s0, a0[q]);                                                   \
                    a1[q] = _mm256_fmadd_ps(w, s1, a1[q]);                                                   \
                }                                                                                            \
            }                                                                                                \
            for (int q = 0; q < OG; q++) {                                                                   \
                _mm256_store_ps(D + q * TT + h, a0[q]);                                                      \
                _mm256_store_ps(D + q * TT + h + 8, a1[q]);                                                  \
            }                                                                                                \
        }                                                                                                    \
    }
DEFINE_BLOCK_KERNEL(6)
DEFINE_BLOCK_KERNEL(2)
DEFINE_BLOCK_KERNEL(1)

static void block_multiply(int64_t P, int64_t b, const float *w, const float *src, float *dst) {
    for (int64_t n = 0; n < P; n += b) {
        const float *wn = w + n * b, *S = src + n * TT;
        float *D = dst + n * TT;
        int64_t o = 0;
        for (; o + 6 <= b; o += 6) block_kernel_6(b, wn + o * b, S, D + o * TT);
        for (; o + 2 <= b; o += 2) block_kernel_2(b, wn + o * b, S, D + o * TT);
        for (; o < b; o++) block_kernel_1(b, wn + o * b, S, D + o * TT);
    }
}

static void fwht_tile(int64_t P, int64_t h0, float *x) {
    for (int64_t h = h0; h < P; h *= 2)
        for (int64_t base = 0; base < P; base += 2 * h)
            for (int64_t k = base; k < base + h; k++)
                for (int v = 0; v < TT; v += 8) {
                    const __m256 a = _mm256_load_ps(x + k * TT + v), b = _mm256_load_ps(x + (k + h) * TT + v);
                    _mm256_store_ps(x + k * TT + v, _mm256_add_ps(a, b));
                    _mm256_store_ps(x + (k + h) * TT + v, _mm256_sub_ps(a, b));
                }
}

/* h0 > 1: the weights hold the Hadamard stages of stride < h0 (folded at load), so they are skipped. */
void lffn_bh4_rows_f32_avx2(LFFN_BH4_ARGS, int64_t h0) {
    const int64_t P = padded_dim, b = block;
    float *U = workspace, *A = workspace + P * TT, *B = workspace + 2 * P * TT;
    const __m256 c7 = _mm256_set1_ps(0.7f), c3 = _mm256_set1_ps(0.3f);
    for (int64_t r0 = 0; r0 < rows; r0 += TT) {
        const int64_t nt = rows - r0 < TT ? rows - r0 : TT;
        memset(U, 0, (size_t)(P * TT) * sizeof(float));
        for (int64_t t = 0; t < nt; t++)
            for (int64_t k = 0; k < dim; k++) U[k * TT + t] = u[(r0 + t) * ldu + k];
        for (int64_t r = 0; r < repeats && r * P < out_dim; r++) {
            const float *w = weight + r * 4 * P * b;
            block_multiply(P, b, w, U, A);
            fwht_tile(P, h0, A);
            block_multiply(P, b, w + P * b, A, B);
            fwht_tile(P, h0, B);
            block_multiply(P, b, w + 2 * P * b, B, A);
            fwht_tile(P, h0, A);
            block_multiply(P, b, w + 3 * P * b, A, B);
            fwht_tile(P, h0, B);
            const int64_t kmax = out_dim - r * P < P ? out_dim - r * P : P;
            for (int64_t k = 0; k < kmax; k++) {
                const __m256 bk = _mm256_set1_ps(bias ? bias[r * P + k] : 0.0f);
                for (int v = 0; v < TT; v += 8) {
                    __m256 y = _mm256_add_ps(_mm256_mul_ps(c7, _mm256_load_ps(B + k * TT + v)),
                                             _mm256_mul_ps(c3, _mm256_load_ps(U + k * TT + v)));
                    _mm256_store_ps(B + k * TT + v, _mm256_add_ps(y, bk));
                }
            }
            for (int64_t t = 0; t < nt; t++)
                for (int64_t k = 0; k < kmax; k++) z[(r0 + t) * ldz + r * P + k] = B[k * TT + t];
        }
    }
}

void lffn_bh4_project_f32_avx2(LFFN_BH4_ARGS) {
    lffn_bh4_rows_f32_avx2(rows, dim, padded_dim, block, repeats, out_dim, u, ldu, weight, bias, workspace, z, ldz, 1);
}
