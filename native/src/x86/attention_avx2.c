/* Attention kernels, AVX2 + FMA: masked softmax over rows (vector exp as in the AVX-512 path, 2^n built in
 * the exponent bits) and element-wise add. Column tails run scalar. */
#include <immintrin.h>
#include <math.h>

#include "../attention_internal.h"
#include "simd_avx2.h"

void lffn_softmax_rows_f32_avx2(int64_t rows, int64_t cols, const float *x, int64_t ldx, float scale,
                                const float *mask_add, float *y, int64_t ldy) {
    const int64_t main = cols & ~(int64_t)7;
    const __m256 vs = _mm256_set1_ps(scale);
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * ldx;
        float *yr = y + r * ldy;
        __m256 mx = _mm256_set1_ps(-INFINITY);
        for (int64_t c = 0; c < main; c += 8) {
            __m256 s = _mm256_mul_ps(_mm256_loadu_ps(xr + c), vs);
            if (mask_add) s = _mm256_add_ps(s, _mm256_loadu_ps(mask_add + c));
            _mm256_storeu_ps(yr + c, s);
            mx = _mm256_max_ps(mx, s);
        }
        float m = lffn_hmax_avx2(mx);
        for (int64_t c = main; c < cols; c++) {
            float s = xr[c] * scale + (mask_add ? mask_add[c] : 0.0f);
            yr[c] = s;
            if (s > m) m = s;
        }
        const __m256 vmax = _mm256_set1_ps(m);
        __m256 sum = _mm256_setzero_ps();
        for (int64_t c = 0; c < main; c += 8) {
            __m256 e = lffn_exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(yr + c), vmax));
            _mm256_storeu_ps(yr + c, e);
            sum = _mm256_add_ps(sum, e);
        }
        float total = lffn_hsum_avx2(sum);
        for (int64_t c = main; c < cols; c++) total += (yr[c] = expf(yr[c] - m));
        const float inv = 1.0f / total;
        const __m256 vinv = _mm256_set1_ps(inv);
        for (int64_t c = 0; c < main; c += 8) _mm256_storeu_ps(yr + c, _mm256_mul_ps(_mm256_loadu_ps(yr + c), vinv));
        for (int64_t c = main; c < cols; c++) yr[c] *= inv;
    }
}

void lffn_add_f32_avx2(int64_t rows, int64_t cols, const float *a, int64_t lda, const float *b, int64_t ldb,
                       float *y, int64_t ldy) {
    const int64_t main = cols & ~(int64_t)7;
    for (int64_t r = 0; r < rows; r++) {
        const float *ar = a + r * lda, *br = b + r * ldb;
        float *yr = y + r * ldy;
        for (int64_t c = 0; c < main; c += 8)
            _mm256_storeu_ps(yr + c, _mm256_add_ps(_mm256_loadu_ps(ar + c), _mm256_loadu_ps(br + c)));
        for (int64_t c = main; c < cols; c++) yr[c] = ar[c] + br[c];
    }
}
