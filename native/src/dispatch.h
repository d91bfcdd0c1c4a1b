/* The per-ISA kernel table (dispatch.c): every kernel an entry point may call, resolved once for the effective
 * ISA. Not part of the ABI. */
#ifndef LFFN_DISPATCH_H
#define LFFN_DISPATCH_H

#include "attention_internal.h"
#include "gemm_bf16_internal.h"
#include "gemm_internal.h"
#include "lookup_internal.h"

typedef float (*lffn_reduce_fn)(int64_t n, const float *x);
LFFN_HIDDEN float lffn_reduce_sum_f32_ref(int64_t n, const float *x);
LFFN_HIDDEN float lffn_reduce_sum_f32_avx512(int64_t n, const float *x);

struct lffn_kernels {
    lffn_isa_t isa;
    lffn_layernorm_fn layernorm_f32;
    lffn_add_layernorm_fn add_layernorm_f32;
    lffn_convert_fn convert_f32_to_bf16;
    lffn_bh4_project_fn bh4_project_f32; /* public projection, weights as given */
    lffn_hash_fn hash_code_score_f32;
    lffn_pgather_fn gather_packed[3];    /* [lffn_table_dtype_t] */
    lffn_gemm_macro_fn gemm_macro_f32;
    lffn_gemm_macro_bf16_fn gemm_macro_bf16;
    lffn_softmax_fn softmax_rows_f32;
    lffn_add_fn add_f32;
    lffn_attention_head_fn attention_head_f32;
    lffn_reduce_fn reduce_sum_f32;
    /* The fused layer: either feature-major tiles (bh4_tile_f32 and hash_tile_f32 set; codes and scores
     * table-major) or the row-major kernels (bh4_rows_f32 and hash_code_score_f32; codes row-major). */
    lffn_bh4_tile_fn bh4_tile_f32;
    lffn_hash_tile_fn hash_tile_f32;
    lffn_bh4_rows_fn bh4_rows_f32;
};

#endif
