/* Hash code and score (SPEC.md step 3): entry point, checks, dispatch and the portable reference.
 *
 * For table k of a row, with v = z[k*tau .. k*tau+tau-1]:
 *   code  = sum_j [v[j] > 0] 2^(tau-1-j)   (MSB first; +0, -0 and NaN give bit 0: comparisons with NaN
 *                                           are false),
 *   score = sum_j |v[j]| / prod_j (1 + exp(-2 |v[j]|))   (a NaN in v makes the score NaN).
 * The reference works in double (exp from libm) and rounds the score once. */
#include <math.h>

#include "dispatch.h"

void lffn_hash_code_score_f32_ref(int64_t rows, int64_t tables, int64_t tau, const float *z, int64_t ldz,
                                  int32_t *code, int64_t ldcode, float *score, int64_t ldscore) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t k = 0; k < tables; k++) {
            const float *v = z + r * ldz + k * tau;
            int32_t c = 0;
            double sum = 0.0, prod = 1.0;
            for (int64_t j = 0; j < tau; j++) {
                c = (c << 1) | (v[j] > 0.0f);
                const double a = fabs((double)v[j]);
                sum += a;
                prod *= 1.0 + exp(-2.0 * a);
            }
            code[r * ldcode + k] = c;
            score[r * ldscore + k] = (float)(sum / prod);
        }
}

lffn_status_t lffn_hash_code_score_f32(int64_t rows, int64_t tables, int64_t tau, const float *z, int64_t ldz,
                                       int32_t *code, int64_t ldcode, float *score, int64_t ldscore) {
    LFFN_CHECK(rows >= 0 && tables >= 1 && tables <= ((int64_t)1 << 40) && tau >= 1 && tau <= 16);
    LFFN_CHECK(ldz >= tables * tau && ldcode >= tables && ldscore >= tables);
    if (rows == 0) return LFFN_SUCCESS;
    LFFN_CHECK(z && code && score);
    lffn_kernels()->hash_code_score_f32(rows, tables, tau, z, ldz, code, ldcode, score, ldscore);
    return LFFN_SUCCESS;
}
