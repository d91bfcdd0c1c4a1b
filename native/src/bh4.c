/* BH4 hash projection (SPEC.md step 2): entry point, checks, dispatch and the portable reference.
 *
 * For each repeat r: y = u_pad; for j = 0..3: y <- H . blockdiag(W[r, j]) . y, where block n of W[r, j] is
 * indexed [out, in] and H is the unnormalised natural-order Walsh-Hadamard matrix; the repeat's result is
 * 0.7 y + 0.3 u_pad. The concatenation of the repeats is cut to out_dim and the bias is added. */
#include <stdint.h>

#include "dispatch.h"

static int is_pow2(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

/* Largest padded width accepted: keeps every index product far from int64 overflow. */
#define LFFN_BH4_MAX_PADDED_DIM ((int64_t)1 << 24)

int64_t lffn_bh4_workspace_size(int64_t rows, int64_t padded_dim) {
    if (rows < 0 || !is_pow2(padded_dim) || padded_dim > LFFN_BH4_MAX_PADDED_DIM) return -1;
    if (rows == 0) return 0;
    /* three [padded_dim, TILE] fp32 tiles; independent of the ISA and of the row count */
    return 3 * padded_dim * LFFN_BH4_TILE * (int64_t)sizeof(float);
}

/* In-place unnormalised fast Walsh-Hadamard transform of x[0..n), natural order, from stride h0 (h0 = 1:
 * the whole transform). */
static void fwht_ref(float *x, int64_t n, int64_t h0) {
    for (int64_t h = h0; h < n; h *= 2)
        for (int64_t i = 0; i < n; i += 2 * h)
            for (int64_t k = i; k < i + h; k++) {
                const float a = x[k], b = x[k + h];
                x[k] = a + b;
                x[k + h] = a - b;
            }
}

void lffn_bh4_rows_f32_ref(LFFN_BH4_ARGS, int64_t h0) {
    const int64_t P = padded_dim, b = block;
    float *up = workspace, *y = workspace + P, *t = workspace + 2 * P;
    for (int64_t row = 0; row < rows; row++) {
        const float *ur = u + row * ldu;
        float *zr = z + row * ldz;
        for (int64_t k = 0; k < P; k++) up[k] = k < dim ? ur[k] : 0.0f;
        for (int64_t r = 0; r < repeats && r * P < out_dim; r++) {
            for (int64_t k = 0; k < P; k++) y[k] = up[k];
            for (int64_t j = 0; j < 4; j++) {
                const float *w = weight + (r * 4 + j) * P * b;
                for (int64_t n = 0; n < P / b; n++) {
                    const float *wn = w + n * b * b;
                    for (int64_t o = 0; o < b; o++) {
                        float acc = 0.0f;
                        for (int64_t i = 0; i < b; i++) acc += wn[o * b + i] * y[n * b + i];
                        t[n * b + o] = acc;
                    }
                }
                fwht_ref(t, P, h0);
                for (int64_t k = 0; k < P; k++) y[k] = t[k];
            }
            const int64_t kmax = out_dim - r * P < P ? out_dim - r * P : P;
            for (int64_t k = 0; k < kmax; k++) {
                const float v = 0.7f * y[k] + 0.3f * up[k];
                zr[r * P + k] = bias ? v + bias[r * P + k] : v;
            }
        }
    }
}

void lffn_bh4_project_f32_ref(LFFN_BH4_ARGS) {
    lffn_bh4_rows_f32_ref(rows, dim, padded_dim, block, repeats, out_dim, u, ldu, weight, bias, workspace, z, ldz, 1);
}

/* wf = (I_{P/b} (x) H_b) . W for nmat [P/b, b, b] block-diagonal matrices: each block's output index
 * goes through the unnormalised order-b Hadamard transform. Since H_P = H_{P/b} (x) H_b (block index in the
 * high bits), H_P . blockdiag(W) = (H_{P/b} (x) I_b) . blockdiag(H_b W_n): the stages of stride < b move
 * into the weights. (Regrouping the folded blocks as [o / 8][i][8] for adjacent broadcasts was measured
 * slower on Zen 5.) */
void lffn_bh4_fold_hadamard(int64_t P, int64_t b, int64_t nmat, const float *w, float *wf) {
    for (int64_t m = 0; m < nmat * P * b; m++) wf[m] = w[m];
    for (int64_t n = 0; n < nmat * (P / b); n++) {
        float *blk = wf + n * b * b; /* [out o][in i] */
        for (int64_t h = 1; h < b; h *= 2)
            for (int64_t o0 = 0; o0 < b; o0 += 2 * h)
                for (int64_t o = o0; o < o0 + h; o++)
                    for (int64_t i = 0; i < b; i++) {
                        const float a = blk[o * b + i], c = blk[(o + h) * b + i];
                        blk[o * b + i] = a + c;
                        blk[(o + h) * b + i] = a - c;
                    }
    }
}

static int bh4_sizes_ok(int64_t dim, int64_t padded_dim, int64_t block, int64_t repeats, int64_t out_dim) {
    return dim >= 1 && is_pow2(padded_dim) && padded_dim <= LFFN_BH4_MAX_PADDED_DIM && padded_dim >= dim &&
           padded_dim / 2 < dim && is_pow2(block) && block <= padded_dim && repeats >= 1 &&
           repeats <= LFFN_BH4_MAX_PADDED_DIM && out_dim >= 1 && repeats * padded_dim >= out_dim;
}

lffn_status_t lffn_bh4_project_f32(int64_t rows, int64_t dim, int64_t padded_dim, int64_t block,
                                   int64_t repeats, int64_t out_dim, const float *u, int64_t ldu,
                                   const float *weight, const float *bias, void *workspace, float *z,
                                   int64_t ldz) {
    LFFN_CHECK(rows >= 0 && bh4_sizes_ok(dim, padded_dim, block, repeats, out_dim));
    LFFN_CHECK(ldu >= dim && ldz >= out_dim);
    if (rows == 0) return LFFN_SUCCESS;
    LFFN_CHECK(u && weight && workspace && z);
    LFFN_CHECK(((uintptr_t)workspace & 63) == 0);
    lffn_kernels()->bh4_project_f32(rows, dim, padded_dim, block, repeats, out_dim, u, ldu, weight, bias,
                                    (float *)workspace, z, ldz);
    return LFFN_SUCCESS;
}

/* ---- load-time packing for the fused layer ---- */

int64_t lffn_bh4_h0(int64_t block) { return block <= LFFN_BH4_FOLD_MAX_B ? block : 1; }

int64_t lffn_bh4_pack_size_f32(int64_t dim, int64_t padded_dim, int64_t block, int64_t repeats, int64_t out_dim) {
    if (!bh4_sizes_ok(dim, padded_dim, block, repeats, out_dim)) return -1;
    const int64_t used = (out_dim + padded_dim - 1) / padded_dim; /* repeats that reach out_dim */
    int64_t bytes;
    if (lffn_mul3_overflows(used * 4, padded_dim, block, &bytes) || lffn_mul_overflows(bytes, 4, &bytes)) return -1;
    return bytes;
}

lffn_status_t lffn_bh4_pack_f32(int64_t dim, int64_t padded_dim, int64_t block, int64_t repeats, int64_t out_dim,
                                const float *weight, void *packed) {
    const int64_t bytes = lffn_bh4_pack_size_f32(dim, padded_dim, block, repeats, out_dim);
    LFFN_CHECK(bytes > 0);
    LFFN_CHECK(weight && packed && ((uintptr_t)packed & 63) == 0);
    const int64_t nmat = bytes / 4 / (padded_dim * block), floats = bytes / 4;
    if (lffn_bh4_h0(block) > 1) {
        lffn_bh4_fold_hadamard(padded_dim, block, nmat, weight, (float *)packed);
    } else {
        float *dst = packed;
        for (int64_t i = 0; i < floats; i++) dst[i] = weight[i];
    }
    return LFFN_SUCCESS;
}
