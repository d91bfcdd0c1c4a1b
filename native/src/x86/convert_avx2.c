/* fp32 -> bf16, AVX2: the integer rounding of the AVX-512 path on 8 lanes, packed with packus after the
 * shift (values fit 16 bits); scalar tail. Bit-identical to lffn_f32_to_bf16_bits. */
#include <immintrin.h>

#include "../lookup_internal.h"

static inline __m256i cvt8(__m256i u) { /* 8 results in the low 16 bits of each lane */
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7FFF)), lsb), 16);
    const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7FFFFFFF)),
                                           _mm256_set1_epi32(0x7F800000)); /* signed compare is fine: < 2^31 */
    const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x0040));
    return _mm256_blendv_epi8(rounded, quiet, nan);
}

void lffn_convert_f32_to_bf16_avx2(int64_t n, const float *src, uint16_t *dst) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256i a = cvt8(_mm256_loadu_si256((const __m256i *)(src + i)));
        const __m256i b = cvt8(_mm256_loadu_si256((const __m256i *)(src + i + 8)));
        /* packus works per 128-bit lane: fix the order with a 64-bit permute */
        const __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xD8);
        _mm256_storeu_si256((__m256i *)(dst + i), p);
    }
    for (; i < n; i++) dst[i] = lffn_f32_to_bf16_bits(src[i]);
}
