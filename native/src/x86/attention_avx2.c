/* Attention kernels, AVX2 + FMA: masked softmax over rows (vector exp as in the AVX-512 path, 2^n built in
 * the exponent bits) and element-wise add. Column tails run scalar. */
#include <immintrin.h>
#include <math.h>

#include "../attention_internal.h"

static inline __m256 exp256(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f)); /* keeps 2^n normal; exp(-87) ~ 1.6e-38 */
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500E-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507E-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073E-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894E-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459E-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201E-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

static inline float hmax256(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

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
        float m = hmax256(mx);
        for (int64_t c = main; c < cols; c++) {
            float s = xr[c] * scale + (mask_add ? mask_add[c] : 0.0f);
            yr[c] = s;
            if (s > m) m = s;
        }
        const __m256 vmax = _mm256_set1_ps(m);
        __m256 sum = _mm256_setzero_ps();
        for (int64_t c = 0; c < main; c += 8) {
            __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(yr + c), vmax));
            _mm256_storeu_ps(yr + c, e);
            sum = _mm256_add_ps(sum, e);
        }
        float total = hsum256(sum);
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
