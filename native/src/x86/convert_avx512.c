/* fp32 -> bf16, AVX-512: integer round-to-nearest-even (bits + 0x7FFF + lsb) >> 16, NaN lanes replaced
 * by (bits >> 16) | 0x0040; narrowed with vpmovdw. Bit-identical to lffn_f32_to_bf16_bits. */
#include <immintrin.h>

#include "../lookup_internal.h"

static inline __m256i cvt16(__m512i u) {
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    const __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7FFF)), lsb), 16);
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7FFFFFFF)),
                                                  _mm512_set1_epi32(0x7F800000));
    const __m512i quiet = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x0040));
    return _mm512_cvtepi32_epi16(_mm512_mask_mov_epi32(rounded, nan, quiet));
}

void lffn_convert_f32_to_bf16_avx512(int64_t n, const float *src, uint16_t *dst) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i), cvt16(_mm512_loadu_si512((const void *)(src + i))));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        _mm256_mask_storeu_epi16(dst + i, m, cvt16(_mm512_maskz_loadu_epi32(m, src + i)));
    }
}
