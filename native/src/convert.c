/* fp32 -> bf16 conversion: entry point, checks, dispatch and the portable reference.
 * Round to nearest, ties to even; a NaN becomes a quiet NaN with the same sign and top payload bits
 * (bits >> 16 | 0x0040); infinities stay infinities; subnormals are rounded, never flushed (so the
 * AVX512_BF16 instruction VCVTNEPS2BF16, which flushes them, is not used: no kernel needs AVX512_BF16). */
#include "dispatch.h"

void lffn_convert_f32_to_bf16_ref(int64_t n, const float *src, uint16_t *dst) {
    for (int64_t i = 0; i < n; i++) dst[i] = lffn_f32_to_bf16_bits(src[i]);
}

lffn_status_t lffn_convert_f32_to_bf16(int64_t n, const float *src, uint16_t *dst) {
    LFFN_CHECK(n >= 0);
    if (n == 0) return LFFN_SUCCESS;
    LFFN_CHECK(src && dst);
    lffn_kernels()->convert_f32_to_bf16(n, src, dst);
    return LFFN_SUCCESS;
}
