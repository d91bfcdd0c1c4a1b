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
