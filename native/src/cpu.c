/* CPU feature detection, library queries and the per-thread last error. (The ISA cap and the kernel table
 * it selects are in dispatch.c.) */
#include <stdio.h>

#include "lffn_internal.h"

lffn_isa_t lffn_cpu_isa(void) {
#if defined(__x86_64__)
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

/* One buffer per thread: a failed check on one thread never shows in another's message. */
static _Thread_local char last_error[256];

lffn_status_t lffn_fail(const char *function, const char *condition) {
    snprintf(last_error, sizeof last_error, "%s: check failed: %s", function, condition);
    return LFFN_INVALID_ARGUMENTS;
}

const char *lffn_last_error(void) { return last_error; }
