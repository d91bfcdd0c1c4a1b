/* LayerNorm over rows: entry point, checks, dispatch and the portable reference. */
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

lffn_status_t lffn_layernorm_f32(int64_t rows, int64_t cols, const float *x, int64_t ldx, const float *gamma,
                                 const float *beta, float eps, float *y, int64_t ldy) {
    LFFN_CHECK(rows >= 0 && cols > 0 && ldx >= cols && ldy >= cols && eps >= 0.0f);
    LFFN_CHECK(rows == 0 || (x && gamma && beta && y));
    lffn_kernels()->layernorm_f32(rows, cols, x, ldx, gamma, beta, eps, y, ldy);
    return LFFN_SUCCESS;
}
