/* LayerNorm over rows, AVX2: two passes in fp32 lanes, scalar tail. */
#include <immintrin.h>
#include <math.h>

#include "../lffn_internal.h"
#include "simd_avx2.h"

void lffn_layernorm_f32_avx2(int64_t rows, int64_t cols, const float *x, int64_t ldx, const float *gamma,
                             const float *beta, float eps, float *y, int64_t ldy) {
    const int64_t main = cols & ~(int64_t)7;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * ldx;
        float *yr = y + r * ldy;
        __m256 acc = _mm256_setzero_ps();
        for (int64_t c = 0; c < main; c += 8) acc = _mm256_add_ps(acc, _mm256_loadu_ps(xr + c));
        float sum = lffn_hsum_avx2(acc);
        for (int64_t c = main; c < cols; c++) sum += xr[c];
        const float mean = sum / (float)cols;
        const __m256 vmean = _mm256_set1_ps(mean);
        __m256 sq = _mm256_setzero_ps();
        for (int64_t c = 0; c < main; c += 8) {
            __m256 d = _mm256_sub_ps(_mm256_loadu_ps(xr + c), vmean);
            sq = _mm256_fmadd_ps(d, d, sq);
        }
        float var = lffn_hsum_avx2(sq);
        for (int64_t c = main; c < cols; c++) var += (xr[c] - mean) * (xr[c] - mean);
        const float inv = 1.0f / sqrtf(var / (float)cols + eps);
        const __m256 vinv = _mm256_set1_ps(inv);
        for (int64_t c = 0; c < main; c += 8) {
            __m256 n = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + c), vmean), vinv);
            _mm256_storeu_ps(yr + c, _mm256_fmadd_ps(n, _mm256_loadu_ps(gamma + c), _mm256_loadu_ps(beta + c)));
        }
        for (int64_t c = main; c < cols; c++) yr[c] = (xr[c] - mean) * inv * gamma[c] + beta[c];
    }
}

void lffn_add_layernorm_f32_avx2(int64_t rows, int64_t cols, const float *a, int64_t lda, const float *b,
                                 int64_t ldb, const float *gamma, const float *beta, float eps, float *y,
                                 int64_t ldy) {
    const int64_t main = cols & ~(int64_t)7;
    for (int64_t r = 0; r < rows; r++) {
        const float *ar = a + r * lda, *br = b + r * ldb;
        float *yr = y + r * ldy;
        /* the sum goes to y (which may be a or b: each element is read before it is written), then the
         * LayerNorm runs in place on the row while it is in L1 */
        for (int64_t c = 0; c < main; c += 8)
            _mm256_storeu_ps(yr + c, _mm256_add_ps(_mm256_loadu_ps(ar + c), _mm256_loadu_ps(br + c)));
        for (int64_t c = main; c < cols; c++) yr[c] = ar[c] + br[c];
        lffn_layernorm_f32_avx2(1, cols, yr, ldy, gamma, beta, eps, yr, ldy);
    }
}
