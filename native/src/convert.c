/* fp32 -> bf16 conversion: entry point, checks, dispatch and the portable reference.
 * Round to nearest, ties to even; a NaN becomes a quiet NaN with the same sign and top payload bits
 * (bits >> 16 | 0x0040); infinities stay infinities; subnormals are rounded, never flushed (so the
 * AVX512_BF16 instruction VCVTNEPS2BF16, which flushes them, is not used). */
#include "lookup_internal.h"

void lffn_convert_f32_to_bf16_ref(int64_t n, const float *src, uint16_t *dst) {
    for (int64_t i = 0; i < n; i++) dst[i] = lffn_f32_to_bf16_bits(src[i]);
}

lffn_status_t lffn_convert_f32_to_bf16(int64_t n, const float *src, uint16_t *dst) {
    LFFN_CHECK(n >= 0);
    if (n == 0) return LFFN_SUCCESS;
    LFFN_CHECK(src && dst);
    switch (lffn_isa_now()) {
    case LFFN_ISA_AVX512_BF16:
    case LFFN_ISA_AVX512: lffn_convert_f32_to_bf16_avx512(n, src, dst); break;
    case LFFN_ISA_AVX2: lffn_convert_f32_to_bf16_avx2(n, src, dst); break;
    default: lffn_convert_f32_to_bf16_ref(n, src, dst); break;
    }
    return LFFN_SUCCESS;
}
