/* oneDNN baseline wrapper (bench-only): see lffn_onednn.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

#include "lffn_onednn.h"

/* libgomp comes with libdnnl (its CPU runtime is OpenMP); declared here so no OpenMP flags are needed. */
extern void omp_set_num_threads(int n);

/* The liblookupffn status of a oneDNN status. */
static lffn_status_t status_of(dnnl_status_t s) {
    switch (s) {
    case dnnl_success: return LFFN_SUCCESS;
    case dnnl_out_of_memory: return LFFN_OUT_OF_MEMORY;
    case dnnl_invalid_arguments: return LFFN_INVALID_ARGUMENTS;
    case dnnl_unimplemented: return LFFN_UNSUPPORTED_ISA; /* no implementation for this CPU */
    default: return LFFN_RUNTIME_ERROR;
    }
}

#define TRY(call)                                                                                            \
    do {                                                                                                     \
        dnnl_status_t s_ = (call);                                                                           \
        if (s_ != dnnl_success) {                                                                            \
            status = status_of(s_);                                                                          \
            goto fail;                                                                                       \
        }                                                                                                    \
    } while (0)

typedef struct {
    int64_t m, n, k;
    int bf16;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_primitive_t matmul;
    dnnl_primitive_t src_reorder; /* bf16: f32 src -> bf16 scratch */
    dnnl_memory_t src_user;       /* f32 [m, k], handle set per execute */
    dnnl_memory_t src_bf16;       /* bf16 [m, k], owned */
    dnnl_memory_t weights;        /* oneDNN's layout, owned */
    dnnl_memory_t bias;           /* f32 [n], owned, or NULL */
    dnnl_memory_t dst;            /* f32 [m, n], handle set per execute */
} lffn_onednn_matmul;

const char *lffn_onednn_version(void) {
    static char text[32];
    if (!text[0]) {
        const dnnl_version_t *v = dnnl_version();
        snprintf(text, sizeof text, "%d.%d.%d", v->major, v->minor, v->patch);
    }
    return text;
}

lffn_status_t lffn_onednn_set_num_threads(int n) {
    if (n < 1) return LFFN_INVALID_ARGUMENTS;
    omp_set_num_threads(n);
    return LFFN_SUCCESS;
}

lffn_status_t lffn_onednn_sgemm(char transa, char transb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                      int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    return status_of(dnnl_sgemm(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
}

void lffn_onednn_matmul_destroy(void *handle) {
    lffn_onednn_matmul *h = handle;
    if (!h) return;
    if (h->matmul) dnnl_primitive_destroy(h->matmul);
    if (h->src_reorder) dnnl_primitive_destroy(h->src_reorder);
    if (h->src_user) dnnl_memory_destroy(h->src_user);
    if (h->src_bf16) dnnl_memory_destroy(h->src_bf16);
    if (h->weights) dnnl_memory_destroy(h->weights);
    if (h->bias) dnnl_memory_destroy(h->bias);
    if (h->dst) dnnl_memory_destroy(h->dst);
    if (h->stream) dnnl_stream_destroy(h->stream);
    if (h->engine) dnnl_engine_destroy(h->engine);
    free(h);
}

lffn_status_t lffn_onednn_matmul_create(void **out, int64_t m, int64_t n, int64_t k, const float *weight_nk,
                              const float *bias, int gelu, int bf16) {
    if (!out) return LFFN_INVALID_ARGUMENTS;
    *out = NULL;
    if (m < 1 || n < 1 || k < 1 || !weight_nk) return LFFN_INVALID_ARGUMENTS;
    lffn_onednn_matmul *h = calloc(1, sizeof *h);
    if (!h) return LFFN_OUT_OF_MEMORY;
    h->m = m, h->n = n, h->k = k, h->bf16 = bf16 != 0;
    lffn_status_t status = LFFN_SUCCESS;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t post_ops = NULL;
    dnnl_primitive_desc_t pd = NULL, reorder_pd = NULL;
    dnnl_memory_t weights_user = NULL;
    dnnl_primitive_t weights_reorder = NULL;
    const dnnl_data_type_t in_type = h->bf16 ? dnnl_bf16 : dnnl_f32;

    TRY(dnnl_engine_create(&h->engine, dnnl_cpu, 0));
    TRY(dnnl_stream_create(&h->stream, h->engine, dnnl_stream_default_flags));

    dnnl_memory_desc_t src_f32_md, src_md, weights_any_md, weights_user_md, bias_md, dst_md;
    const dnnl_dims_t src_dims = {m, k}, weights_dims = {k, n}, bias_dims = {1, n}, dst_dims = {m, n};
    const dnnl_dims_t weights_user_strides = {1, k}; /* logical [k, n] over the [n, k] buffer */
    TRY(dnnl_memory_desc_init_by_tag(&src_f32_md, 2, src_dims, dnnl_f32, dnnl_ab));
    TRY(dnnl_memory_desc_init_by_tag(&src_md, 2, src_dims, in_type, dnnl_ab));
    TRY(dnnl_memory_desc_init_by_tag(&weights_any_md, 2, weights_dims, in_type, dnnl_format_tag_any));
    TRY(dnnl_memory_desc_init_by_strides(&weights_user_md, 2, weights_dims, dnnl_f32, weights_user_strides));
    TRY(dnnl_memory_desc_init_by_tag(&bias_md, 2, bias_dims, dnnl_f32, dnnl_ab));
    TRY(dnnl_memory_desc_init_by_tag(&dst_md, 2, dst_dims, dnnl_f32, dnnl_ab));

    TRY(dnnl_primitive_attr_create(&attr));
    if (gelu) {
        TRY(dnnl_post_ops_create(&post_ops));
        TRY(dnnl_post_ops_append_eltwise(post_ops, 1.0f, dnnl_eltwise_gelu_erf, 0.0f, 0.0f));
        TRY(dnnl_primitive_attr_set_post_ops(attr, post_ops));
    }
    dnnl_matmul_desc_t desc;
    TRY(dnnl_matmul_desc_init(&desc, &src_md, &weights_any_md, bias ? &bias_md : NULL, &dst_md));
    TRY(dnnl_primitive_desc_create(&pd, &desc, attr, h->engine, NULL));
    TRY(dnnl_primitive_create(&h->matmul, pd));

    /* weights: reorder once from the user's [n, k] f32 into the primitive's layout (and type) */
    const dnnl_memory_desc_t *weights_md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    TRY(dnnl_memory_create(&h->weights, weights_md, h->engine, DNNL_MEMORY_ALLOCATE));
    TRY(dnnl_memory_create(&weights_user, &weights_user_md, h->engine, (void *)weight_nk));
    TRY(dnnl_reorder_primitive_desc_create(&reorder_pd, &weights_user_md, h->engine, weights_md, h->engine, NULL));
    TRY(dnnl_primitive_create(&weights_reorder, reorder_pd));
    {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, weights_user}, {DNNL_ARG_TO, h->weights}};
        TRY(dnnl_primitive_execute(weights_reorder, h->stream, 2, args));
        TRY(dnnl_stream_wait(h->stream));
    }
    dnnl_primitive_desc_destroy(reorder_pd);
    reorder_pd = NULL;

    if (bias) {
        void *p = NULL;
        TRY(dnnl_memory_create(&h->bias, &bias_md, h->engine, DNNL_MEMORY_ALLOCATE));
        TRY(dnnl_memory_get_data_handle(h->bias, &p));
        memcpy(p, bias, (size_t)n * sizeof(float));
    }
    TRY(dnnl_memory_create(&h->src_user, &src_f32_md, h->engine, DNNL_MEMORY_NONE));
    TRY(dnnl_memory_create(&h->dst, &dst_md, h->engine, DNNL_MEMORY_NONE));
    if (h->bf16) {
        TRY(dnnl_memory_create(&h->src_bf16, &src_md, h->engine, DNNL_MEMORY_ALLOCATE));
        TRY(dnnl_reorder_primitive_desc_create(&reorder_pd, &src_f32_md, h->engine, &src_md, h->engine, NULL));
        TRY(dnnl_primitive_create(&h->src_reorder, reorder_pd));
    }
    *out = h;
fail:
    if (weights_reorder) dnnl_primitive_destroy(weights_reorder);
    if (weights_user) dnnl_memory_destroy(weights_user);
    if (reorder_pd) dnnl_primitive_desc_destroy(reorder_pd);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (post_ops) dnnl_post_ops_destroy(post_ops);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (status) lffn_onednn_matmul_destroy(h);
    return status;
}

lffn_status_t lffn_onednn_matmul_execute(void *handle, const float *src, float *dst) {
    lffn_onednn_matmul *h = handle;
    if (!h || !src || !dst) return LFFN_INVALID_ARGUMENTS;
    lffn_status_t status = LFFN_SUCCESS;
    TRY(dnnl_memory_set_data_handle(h->src_user, (void *)src));
    TRY(dnnl_memory_set_data_handle(h->dst, dst));
    if (h->bf16) {
        dnnl_exec_arg_t rargs[2] = {{DNNL_ARG_FROM, h->src_user}, {DNNL_ARG_TO, h->src_bf16}};
        TRY(dnnl_primitive_execute(h->src_reorder, h->stream, 2, rargs));
    }
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, h->bf16 ? h->src_bf16 : h->src_user},
                               {DNNL_ARG_WEIGHTS, h->weights},
                               {DNNL_ARG_DST, h->dst},
                               {DNNL_ARG_BIAS, h->bias}};
    TRY(dnnl_primitive_execute(h->matmul, h->stream, h->bias ? 4 : 3, args));
    TRY(dnnl_stream_wait(h->stream));
fail:
    return status;
}
