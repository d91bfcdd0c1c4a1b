/* LayerNorm over rows, AVX-512: two passes (mean, then centred variance) in fp32 lanes. */
#include <immintrin.h>
#include <math.h>

#include "../lffn_internal.h"

void lffn_layernorm_f32_avx512(int64_t rows, int64_t cols, const float *x, int64_t ldx, const float *gamma,
                               const float *beta, float eps, float *y, int64_t ldy) {
    const int64_t main = cols & ~(int64_t)15;
    const __mmask16 tail = (__mmask16)((1u << (cols - main)) - 1u);
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * ldx;
        float *yr = y + r * ldy;
        __m512 acc = _mm512_setzero_ps();
        for (int64_t c = 0; c < main; c += 16) acc = _mm512_add_ps(acc, _mm512_loadu_ps(xr + c));
        acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(tail, xr + main));
        const float mean = _mm512_reduce_add_ps(acc) / (float)cols;
        const __m512 vmean = _mm512_set1_ps(mean);
        __m512 sq = _mm512_setzero_ps();
        for (int64_t c = 0; c < main; c += 16) {
            __m512 d = _mm512_sub_ps(_mm512_loadu_ps(xr + c), vmean);
            sq = _mm512_fmadd_ps(d, d, sq);
        }
        __m512 dt = _mm512_maskz_sub_ps(tail, _mm512_maskz_loadu_ps(tail, xr + main), vmean);
        sq = _mm512_fmadd_ps(dt, dt, sq);
        const float inv = 1.0f / sqrtf(_mm512_reduce_add_ps(sq) / (float)cols + eps);
        const __m512 vinv = _mm512_set1_ps(inv);
        for (int64_t c = 0; c < main; c += 16) {
            __m512 n = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(xr + c), vmean), vinv);
            _mm512_storeu_ps(yr + c, _mm512_fmadd_ps(n, _mm512_loadu_ps(gamma + c), _mm512_loadu_ps(beta + c)));
        }
        if (tail) {
            __m512 n = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, xr + main), vmean), vinv);
            __m512 o = _mm512_fmadd_ps(n, _mm512_maskz_loadu_ps(tail, gamma + main),
                                       _mm512_maskz_loadu_ps(tail, beta + main));
            _mm512_mask_storeu_ps(yr + main, tail, o);
        }
    }
}

void lffn_add_layernorm_f32_avx512(int64_t rows, int64_t cols, const float *a, int64_t lda, const float *b,
                                   int64_t ldb, const float *gamma, const float *beta, float eps, float *y,
                                   int64_t ldy) {
    const int64_t main = cols & ~(int64_t)15;
    const __mmask16 tail = (__mmask16)((1u << (cols - main)) - 1u);
    for (int64_t r = 0; r < rows; r++) {
        const float *ar = a + r * lda, *br = b + r * ldb;
        float *yr = y + r * ldy;
        /* the sum goes to y (which may be a or b: each element is read before it is written), then the
         * LayerNorm runs in place on the row while it is in L1 */
        for (int64_t c = 0; c < main; c += 16)
            _mm512_storeu_ps(yr + c, _mm512_add_ps(_mm512_loadu_ps(ar + c), _mm512_loadu_ps(br + c)));
        if (tail)
            _mm512_mask_storeu_ps(yr + main, tail, _mm512_add_ps(_mm512_maskz_loadu_ps(tail, ar + main),
                                                                 _mm512_maskz_loadu_ps(tail, br + main)));
        lffn_layernorm_f32_avx512(1, cols, yr, ldy, gamma, beta, eps, yr, ldy);
    }
}
