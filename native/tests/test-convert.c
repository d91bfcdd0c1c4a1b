/* lffn_convert_f32_to_bf16: every ISA path bit-identical to the reference on random values, lengths with
 * tails, and edge cases (+-0, +-inf, quiet and signalling NaNs, exact halfway cases both ways, subnormals,
 * values that round up to infinity); the reference itself against hand-computed bits. */
#include <string.h>

#include "lookup_internal.h"
#include "test_util.h"

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

int main(void) {
    /* the reference on hand-computed cases */
    const uint32_t in[] = {0x00000000u, 0x80000000u, 0x7F800000u, 0xFF800000u, 0x3F808000u, 0x3F818000u,
                           0x3F808001u, 0x3F807FFFu, 0x7F7FFFFFu, 0x00008000u, 0x00018000u, 0x7F800001u,
                           0xFFC00000u, 0x7FA12345u};
    const uint16_t want[] = {0x0000, 0x8000, 0x7F80, 0xFF80, 0x3F80, 0x3F82, 0x3F81, 0x3F80, 0x7F80, 0x0000,
                             0x0002, 0x7FC0, 0xFFC0, 0x7FE1};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        const uint16_t got = lffn_f32_to_bf16_bits(from_bits(in[i]));
        TEST_EXPECT(got == want[i], "ref(0x%08x) = 0x%04x, want 0x%04x", in[i], got, want[i]);
    }

    const int64_t n = 4099;
    uint32_t *bits = test_alloc(n * 4);
    test_seed(3);
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        float f = test_uniform();
        memcpy(&u, &f, 4);
        u ^= (uint32_t)(test_uniform() * 1e9f) << 7; /* scramble exponents and mantissas */
        if (i % 3 == 0) u = (u & 0xFFFF0000u) | 0x8000u;     /* exact halfway */
        if (i % 11 == 0) u = (u & 0x807FFFFFu);              /* subnormal or zero */
        if (i % 13 == 0) u = (u & 0x807FFFFFu) | 0x7F800000u; /* inf or NaN */
        bits[i] = u;
    }
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) bits[i] = in[i];
    const float *src = (const float *)bits;
    uint16_t *ref = test_alloc(n * 2), *got = test_alloc(n * 2 + 2);
    lffn_convert_f32_to_bf16_ref(n, src, ref);
    /* the reference against the rule written out: round to nearest even on the 16 dropped bits (ties to the
     * even kept value), NaN -> top bits | quiet bit */
    int64_t ref_bad = 0;
    for (int64_t i = 0; i < n; i++) {
        const uint32_t u = bits[i], keep = u >> 16, drop = u & 0xFFFFu;
        uint32_t want = keep;
        if ((u & 0x7FFFFFFFu) > 0x7F800000u) want = keep | 0x40u;
        else if (drop > 0x8000u || (drop == 0x8000u && (keep & 1u))) want = keep + 1;
        ref_bad += ref[i] != (uint16_t)want;
    }
    TEST_EXPECT(ref_bad == 0, "reference: %ld conversions break round-to-nearest-even", (long)ref_bad);
    const int64_t lens[] = {1, 7, 15, 16, 17, 33, 100, n};
    TEST_FOR_EACH_VECTOR_ISA(isa) {
        for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
            memset(got, 0xA5, (size_t)(n * 2 + 2));
            TEST_EXPECT(lffn_convert_f32_to_bf16(lens[l], src, got) == LFFN_SUCCESS, "status");
            int64_t bad = 0;
            for (int64_t i = 0; i < lens[l]; i++)
                if (got[i] != ref[i] && bad++ < 3)
                    TEST_EXPECT(0, "%s n %ld at %ld: 0x%08x -> 0x%04x, want 0x%04x", test_isa_name(isa), (long)lens[l],
                                (long)i, bits[i], got[i], ref[i]);
            TEST_EXPECT(got[lens[l]] == 0xA5A5, "%s n %ld: wrote past n", test_isa_name(isa), (long)lens[l]);
        }
    }
    TEST_EXPECT(lffn_convert_f32_to_bf16(-1, src, got) == LFFN_INVALID_ARGUMENTS, "n < 0");
    TEST_EXPECT(lffn_convert_f32_to_bf16(4, NULL, got) == LFFN_INVALID_ARGUMENTS, "NULL src");
    TEST_EXPECT(lffn_convert_f32_to_bf16(4, src, NULL) == LFFN_INVALID_ARGUMENTS, "NULL dst");
    TEST_EXPECT(lffn_convert_f32_to_bf16(0, NULL, NULL) == LFFN_SUCCESS, "n 0");
    free(bits); free(ref); free(got);
    return test_finish("test-convert");
}
