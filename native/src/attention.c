/* Attention kernels: masked softmax over rows, element-wise add, and the fused attention of one sequence's
 * heads, one head at a time through the kernel table (AVX-512: fused in x86/attention_avx512.c; otherwise
 * Q.K^T with lffn_gemm_f32, masked softmax, P.V with lffn_gemm_f32). Entry points, checks, dispatch and the
 * portable references. */
#include <math.h>
#include <stdint.h>

#include "dispatch.h"

/* ---- references ---- */

void lffn_softmax_rows_f32_ref(int64_t rows, int64_t cols, const float *x, int64_t ldx, float scale,
                               const float *mask_add, float *y, int64_t ldy) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * ldx;
        float *yr = y + r * ldy;
        double mx = -INFINITY;
        for (int64_t c = 0; c < cols; c++) {
            double s = (double)xr[c] * scale + (mask_add ? mask_add[c] : 0.0f);
            if (s > mx) mx = s;
        }
        double sum = 0;
        for (int64_t c = 0; c < cols; c++) sum += exp((double)xr[c] * scale + (mask_add ? mask_add[c] : 0.0f) - mx);
        for (int64_t c = 0; c < cols; c++)
            yr[c] = (float)(exp((double)xr[c] * scale + (mask_add ? mask_add[c] : 0.0f) - mx) / sum);
    }
}

void lffn_add_f32_ref(int64_t rows, int64_t cols, const float *a, int64_t lda, const float *b, int64_t ldb,
                      float *y, int64_t ldy) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) y[r * ldy + c] = a[r * lda + c] + b[r * ldb + c];
}

void lffn_attention_f32_ref(int64_t q_rows, int64_t kv_len, int64_t heads, int64_t head_size, const float *q,
                            int64_t ldq, const float *k, int64_t ldk, const float *v, int64_t ldv, float scale,
                            const float *mask_add, double *p, float *out, int64_t ldout) {
    for (int64_t h = 0; h < heads; h++) {
        const int64_t off = h * head_size;
        for (int64_t i = 0; i < q_rows; i++) {
            double mx = -INFINITY;
            for (int64_t j = 0; j < kv_len; j++) {
                double s = 0;
                for (int64_t d = 0; d < head_size; d++) s += (double)q[i * ldq + off + d] * k[j * ldk + off + d];
                p[j] = s * scale + (mask_add ? mask_add[j] : 0.0f);
                if (p[j] > mx) mx = p[j];
            }
            double sum = 0;
            for (int64_t j = 0; j < kv_len; j++) sum += (p[j] = exp(p[j] - mx));
            for (int64_t d = 0; d < head_size; d++) {
                double o = 0;
                for (int64_t j = 0; j < kv_len; j++) o += p[j] * v[j * ldv + off + d];
                out[i * ldout + off + d] = (float)(o / sum);
            }
        }
    }
}

/* ---- entry points ---- */

lffn_status_t lffn_softmax_rows_f32(int64_t rows, int64_t cols, const float *x, int64_t ldx, float scale,
                                    const float *mask_add, float *y, int64_t ldy) {
    LFFN_CHECK(rows >= 0 && cols > 0 && ldx >= cols && ldy >= cols && isfinite(scale));
    LFFN_CHECK(rows == 0 || (x && y));
    lffn_kernels()->softmax_rows_f32(rows, cols, x, ldx, scale, mask_add, y, ldy);
    return LFFN_SUCCESS;
}

lffn_status_t lffn_add_f32(int64_t rows, int64_t cols, const float *a, int64_t lda, const float *b, int64_t ldb,
                           float *y, int64_t ldy) {
    LFFN_CHECK(rows >= 0 && cols > 0 && lda >= cols && ldb >= cols && ldy >= cols);
    LFFN_CHECK(rows == 0 || (a && b && y));
    lffn_kernels()->add_f32(rows, cols, a, lda, b, ldb, y, ldy);
    return LFFN_SUCCESS;
}

int64_t lffn_attention_workspace_size(int64_t seq_len) {
    if (seq_len <= 0 || seq_len > (int64_t)1 << 20) return -1;
    return (seq_len * seq_len * (int64_t)sizeof(float) + 63) / 64 * 64;
}

/* Generic head: the dispatched GEMM and softmax (their arguments were checked by the caller). */
void lffn_attention_head_f32_generic(int64_t q_rows, int64_t kv_len, int64_t head_size, const float *q, int64_t ldq,
                                     const float *k, int64_t ldk, const float *v, int64_t ldv, float scale,
                                     const float *mask_add, float *p, float *out, int64_t ldout) {
    const lffn_kernels_t *kt = lffn_kernels();
    (void)lffn_gemm_f32(q_rows, kv_len, head_size, q, ldq, k, ldk, 1, NULL, LFFN_EPILOGUE_NONE, p, kv_len);
    kt->softmax_rows_f32(q_rows, kv_len, p, kv_len, scale, mask_add, p, kv_len);
    (void)lffn_gemm_f32(q_rows, head_size, kv_len, p, kv_len, v, ldv, 0, NULL, LFFN_EPILOGUE_NONE, out, ldout);
}

lffn_status_t lffn_attention_rows_f32(int64_t q_rows, int64_t kv_len, int64_t heads, int64_t head_size,
                                      const float *q, int64_t ldq, const float *k, int64_t ldk, const float *v,
                                      int64_t ldv, float scale, const float *mask_add, void *workspace, float *out,
                                      int64_t ldout) {
    LFFN_CHECK(kv_len > 0 && kv_len <= (int64_t)1 << 20 && q_rows > 0 && q_rows <= kv_len && heads > 0 &&
               head_size > 0);
    int64_t width; /* heads * head_size */
    LFFN_CHECK(!lffn_mul_overflows(heads, head_size, &width));
    LFFN_CHECK(ldq >= width && ldk >= width && ldv >= width && ldout >= width && isfinite(scale));
    LFFN_CHECK(q && k && v && workspace && out);
    LFFN_CHECK(((uintptr_t)workspace & 63) == 0);
    const lffn_attention_head_fn head = lffn_kernels()->attention_head_f32;
    for (int64_t h = 0; h < heads; h++) {
        const int64_t off = h * head_size;
        head(q_rows, kv_len, head_size, q + off, ldq, k + off, ldk, v + off, ldv, scale, mask_add, (float *)workspace,
             out + off, ldout);
    }
    return LFFN_SUCCESS;
}

lffn_status_t lffn_attention_f32(int64_t seq_len, int64_t heads, int64_t head_size, const float *q, int64_t ldq,
                                 const float *k, int64_t ldk, const float *v, int64_t ldv, float scale,
                                 const float *mask_add, void *workspace, float *out, int64_t ldout) {
    return lffn_attention_rows_f32(seq_len, seq_len, heads, head_size, q, ldq, k, ldk, v, ldv, scale, mask_add,
                                   workspace, out, ldout);
}
