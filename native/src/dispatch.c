/* The kernel tables, one per ISA level, and the choice of the current one.
 *
 * The table pointer is resolved once (on first use) from min(CPU level, cap) and replaced whenever
 * lffn_set_max_isa moves the cap, so an entry point costs one atomic load and one indirect call, with no
 * per-call switch. An ISA level reuses the kernels of the level below where it has none of its own. */
#include <stdatomic.h>
#include <threads.h>

#include "dispatch.h"

static const lffn_kernels_t scalar_kernels = {
    .isa = LFFN_ISA_SCALAR,
    .layernorm_f32 = lffn_layernorm_f32_ref,
    .add_layernorm_f32 = lffn_add_layernorm_f32_ref,
    .convert_f32_to_bf16 = lffn_convert_f32_to_bf16_ref,
    .bh4_project_f32 = lffn_bh4_project_f32_ref,
    .hash_code_score_f32 = lffn_hash_code_score_f32_ref,
    .gather_packed = {lffn_gather_packed_f32_ref, lffn_gather_packed_bf16_ref, lffn_gather_packed_i8_ref},
    .gemm_macro_f32 = lffn_gemm_macro_f32_scalar,
    .gemm_macro_bf16 = lffn_gemm_macro_bf16_ref,
    .softmax_rows_f32 = lffn_softmax_rows_f32_ref,
    .add_f32 = lffn_add_f32_ref,
    .attention_head_f32 = lffn_attention_head_f32_generic,
    .reduce_sum_f32 = lffn_reduce_sum_f32_ref,
    .bh4_rows_f32 = lffn_bh4_rows_f32_ref,
};

#if defined(__x86_64__)
/* The entries every vector level has, each under the level's suffix. */
#define VECTOR_KERNELS(SFX)                                                                                  \
    .layernorm_f32 = lffn_layernorm_f32_##SFX, .add_layernorm_f32 = lffn_add_layernorm_f32_##SFX,                \
    .convert_f32_to_bf16 = lffn_convert_f32_to_bf16_##SFX,        \
    .bh4_project_f32 = lffn_bh4_project_f32_##SFX, .hash_code_score_f32 = lffn_hash_code_score_f32_##SFX,    \
    .gather_packed = {lffn_gather_packed_f32_##SFX, lffn_gather_packed_bf16_##SFX,                            \
                      lffn_gather_packed_i8_##SFX},                                                          \
    .gemm_macro_f32 = lffn_gemm_macro_f32_##SFX, .softmax_rows_f32 = lffn_softmax_rows_f32_##SFX,            \
    .add_f32 = lffn_add_f32_##SFX

static const lffn_kernels_t avx2_kernels = {
    .isa = LFFN_ISA_AVX2,
    VECTOR_KERNELS(avx2),
    .reduce_sum_f32 = lffn_reduce_sum_f32_ref, /* no AVX2 kernel of its own */
    .attention_head_f32 = lffn_attention_head_f32_generic,
    .bh4_rows_f32 = lffn_bh4_rows_f32_avx2,
    .gemm_macro_bf16 = lffn_gemm_macro_bf16_avx2,
};

static const lffn_kernels_t avx512_kernels = {
    .isa = LFFN_ISA_AVX512,
    VECTOR_KERNELS(avx512),
    .reduce_sum_f32 = lffn_reduce_sum_f32_avx512,
    .attention_head_f32 = lffn_attention_head_f32_avx512,
    .bh4_tile_f32 = lffn_bh4_tile_f32_avx512,
    .hash_tile_f32 = lffn_hash_tile_f32_avx512,
    .gemm_macro_bf16 = lffn_gemm_macro_bf16_avx512,
};

/* AVX512_BF16: the AVX-512 table with the vdpbf16ps GEMM, copied once so it never misses an AVX-512 entry. */
static lffn_kernels_t avx512bf16_kernels;
static once_flag avx512bf16_once = ONCE_FLAG_INIT;
static void init_avx512bf16(void) {
    avx512bf16_kernels = avx512_kernels;
    avx512bf16_kernels.isa = LFFN_ISA_AVX512_BF16;
    avx512bf16_kernels.gemm_macro_bf16 = lffn_gemm_macro_bf16_avx512bf16;
}
#endif

const lffn_kernels_t *lffn_kernels_for(lffn_isa_t isa) {
    switch (isa) {
#if defined(__x86_64__)
    case LFFN_ISA_AVX512_BF16:
        call_once(&avx512bf16_once, init_avx512bf16);
        return &avx512bf16_kernels;
    case LFFN_ISA_AVX512: return &avx512_kernels;
    case LFFN_ISA_AVX2: return &avx2_kernels;
#endif
    default: return &scalar_kernels;
    }
}

/* The cap and the table chosen for it change together, under cap_lock (lffn_set_max_isa is rare). */
static atomic_int isa_cap = LFFN_ISA_AVX512_BF16;
static atomic_flag cap_lock = ATOMIC_FLAG_INIT;
static _Atomic(const lffn_kernels_t *) current; /* NULL until first use */

static lffn_isa_t cpu_isa_cached(void) {
    static atomic_int cpu = -1; /* CPUID does not change */
    int c = atomic_load_explicit(&cpu, memory_order_relaxed);
    if (c < 0) {
        c = (int)lffn_cpu_isa();
        atomic_store_explicit(&cpu, c, memory_order_relaxed);
    }
    return (lffn_isa_t)c;
}

static const lffn_kernels_t *table_for_cap(int cap) {
    const int cpu = (int)cpu_isa_cached();
    return lffn_kernels_for((lffn_isa_t)(cpu < cap ? cpu : cap));
}

lffn_status_t lffn_set_max_isa(lffn_isa_t isa) {
    LFFN_CHECK((int)isa >= LFFN_ISA_SCALAR && (int)isa <= LFFN_ISA_AVX512_BF16);
    if (isa > cpu_isa_cached()) return LFFN_UNSUPPORTED_ISA;
    while (atomic_flag_test_and_set_explicit(&cap_lock, memory_order_acquire)) {
    }
    atomic_store(&isa_cap, (int)isa);
    atomic_store_explicit(&current, table_for_cap((int)isa), memory_order_release);
    atomic_flag_clear_explicit(&cap_lock, memory_order_release);
    return LFFN_SUCCESS;
}

const lffn_kernels_t *lffn_kernels(void) {
    const lffn_kernels_t *k = atomic_load_explicit(&current, memory_order_acquire);
    if (k) return k;
    /* first use: install the table of the current cap unless lffn_set_max_isa installed one meanwhile */
    const lffn_kernels_t *expected = NULL, *fresh = table_for_cap(atomic_load(&isa_cap));
    if (atomic_compare_exchange_strong(&current, &expected, fresh)) return fresh;
    return expected;
}

lffn_isa_t lffn_get_effective_isa(void) { return lffn_kernels()->isa; }
