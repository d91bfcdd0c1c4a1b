/* CPU feature detection and the process-wide ISA cap: the only global state of the library. */
#include <stdatomic.h>

#include "lffn_internal.h"

static atomic_int isa_cap = LFFN_ISA_AVX512_BF16;

lffn_isa_t lffn_cpu_isa(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    /* __builtin_cpu_supports checks the OS saves the registers (XCR0) as well as CPUID. */
    if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) return LFFN_ISA_SCALAR;
    if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")))
        return LFFN_ISA_AVX2;
    if (!__builtin_cpu_supports("avx512bf16")) return LFFN_ISA_AVX512;
    return LFFN_ISA_AVX512_BF16;
#else
    return LFFN_ISA_SCALAR;
#endif
}

lffn_status_t lffn_set_max_isa(lffn_isa_t isa) {
    if ((int)isa < LFFN_ISA_SCALAR || (int)isa > LFFN_ISA_AVX512_BF16) return LFFN_INVALID_ARGUMENTS;
    if (isa > lffn_cpu_isa()) return LFFN_UNSUPPORTED_ISA;
    atomic_store(&isa_cap, (int)isa);
    return LFFN_SUCCESS;
}

lffn_isa_t lffn_get_effective_isa(void) { return lffn_isa_now(); }

lffn_isa_t lffn_isa_now(void) {
    static atomic_int cpu = -1; /* cached: CPUID does not change */
    int c = atomic_load_explicit(&cpu, memory_order_relaxed);
    if (c < 0) {
        c = (int)lffn_cpu_isa();
        atomic_store_explicit(&cpu, c, memory_order_relaxed);
    }
    int cap = atomic_load_explicit(&isa_cap, memory_order_relaxed);
    return (lffn_isa_t)(c < cap ? c : cap);
}

const char *lffn_version(void) { return LFFN_VERSION_STRING; }

const char *lffn_status_str(lffn_status_t status) {
    switch (status) {
    case LFFN_SUCCESS: return "success";
    case LFFN_INVALID_ARGUMENTS: return "invalid arguments";
    case LFFN_UNSUPPORTED_ISA: return "unsupported instruction set";
    case LFFN_OUT_OF_MEMORY: return "out of memory";
    case LFFN_RUNTIME_ERROR: return "runtime error";
    }
    return "unknown status";
}

lffn_status_t lffn_noop(void) { return LFFN_SUCCESS; }
