/* LayerNorm over rows, and LayerNorm of a residual sum (the post-norm encoder's x = LN(x + f(x))): entry points,
 * checks, dispatch and the portable references. */
#include <math.h>

#include "dispatch.h"

void lffn_layernorm_f32_ref(int64_t rows, int64_t cols, const float *x, int64_t ldx, const float *gamma,
                            const float *beta, float eps, float *y, int64_t ldy) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * ldx;
        float *yr = y + r * ldy;
        /* two passes in double: the reference favours accuracy over speed */
        double mean = 0;
        for (int64_t c = 0; c < cols; c++) mean += xr[c];
        mean /= (double)cols;
        double var = 0;
        for (int64_t c = 0; c < cols; c++) var += ((double)xr[c] - mean) * ((double)xr[c] - mean);
        var /= (double)cols;
        float inv = (float)(1.0 / sqrt(var + (double)eps));
        float m = (float)mean;
        for (int64_t c = 0; c < cols; c++) yr[c] = (xr[c] - m) * inv * gamma[c] + beta[c];
    }
}

void lffn_add_layernorm_f32_ref(int64_t rows, int64_t cols, const float *a, int64_t lda, const float *b,
                                int64_t ldb, const float *gamma, const float *beta, float eps, float *y,
                                int64_t ldy) {
    for (int64_t r = 0; r < rows; r++) {
        float *yr = y + r * ldy;
        for (int64_t c = 0; c < cols; c++) yr[c] = a[r * lda + c] + b[r * ldb + c]; /* y may be a or b */
        lffn_layernorm_f32_ref(1, cols, yr, ldy, gamma, beta, eps, yr, ldy);
    }
}

lffn_status_t lffn_layernorm_f32(int64_t rows, int64_t cols, const float *x, int64_t ldx, const float *gamma,
                                 const float *beta, float eps, float *y, int64_t ldy) {
    LFFN_CHECK(rows >= 0 && cols > 0 && ldx >= cols && ldy >= cols && eps >= 0.0f);
    LFFN_CHECK(rows == 0 || (x && gamma && beta && y));
    lffn_kernels()->layernorm_f32(rows, cols, x, ldx, gamma, beta, eps, y, ldy);
    return LFFN_SUCCESS;
}

lffn_status_t lffn_add_layernorm_f32(int64_t rows, int64_t cols, const float *a, int64_t lda, const float *b,
                                     int64_t ldb, const float *gamma, const float *beta, float eps, float *y,
                                     int64_t ldy) {
    LFFN_CHECK(rows >= 0 && cols > 0 && lda >= cols && ldb >= cols && ldy >= cols && eps >= 0.0f);
    LFFN_CHECK(rows == 0 || (a && b && gamma && beta && y));
    lffn_kernels()->add_layernorm_f32(rows, cols, a, lda, b, ldb, gamma, beta, eps, y, ldy);
    return LFFN_SUCCESS;
}
