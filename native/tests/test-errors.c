/* Errors and sizes: the per-thread last error names the function and the failed check (and another thread's
 * failure never shows in it); every size product that could overflow int64_t is refused, never wrapped;
 * packed GEMM operands must be 64-byte aligned; the kernel table follows lffn_set_max_isa. */
#include <pthread.h>
#include <string.h>

#include "dispatch.h"
#include "test_util.h"

static void *fail_in_other_thread(void *arg) {
    (void)arg;
    float x[8] = {0};
    /* a different failure on this thread */
    lffn_status_t st = lffn_layernorm_f32(1, 0, x, 8, x, x, 1e-5f, x, 8);
    return (void *)(intptr_t)(st == LFFN_INVALID_ARGUMENTS && strstr(lffn_last_error(), "lffn_layernorm_f32") != NULL);
}

int main(void) {
    float buf[64] __attribute__((aligned(64))) = {0};

    /* the message names the function and the check */
    TEST_EXPECT(lffn_last_error()[0] == '\0', "no error yet: \"%s\"", lffn_last_error());
    TEST_EXPECT(lffn_gemm_f32(2, 3, 4, buf, 3, buf, 3, 0, NULL, LFFN_EPILOGUE_NONE, buf, 3) == LFFN_INVALID_ARGUMENTS,
                "lda < k");
    TEST_EXPECT(strcmp(lffn_last_error(),
                       "lffn_gemm_f32: check failed: m >= 0 && n > 0 && k > 0 && lda >= k && ldc >= n") == 0,
                "message: \"%s\"", lffn_last_error());
    TEST_EXPECT(lffn_set_max_isa((lffn_isa_t)(LFFN_ISA_AVX512_BF16 + 1)) == LFFN_INVALID_ARGUMENTS, "no ISA level past the last");
    TEST_EXPECT(strstr(lffn_last_error(), "lffn_set_max_isa: check failed") == lffn_last_error(), "message: \"%s\"",
                lffn_last_error());
    /* per thread */
    pthread_t th;
    void *ok = NULL;
    pthread_create(&th, NULL, fail_in_other_thread, NULL);
    pthread_join(th, &ok);
    TEST_EXPECT(ok != NULL, "the other thread saw its own message");
    TEST_EXPECT(strstr(lffn_last_error(), "lffn_set_max_isa") != NULL, "this thread's message changed: \"%s\"",
                lffn_last_error());

    /* overflowing sizes */
    int64_t out;
    TEST_EXPECT(!lffn_mul_overflows(3, 5, &out) && out == 15, "3 * 5");
    TEST_EXPECT(lffn_mul_overflows(INT64_MAX / 2 + 1, 2, &out), "2^62 * 2 overflows");
    TEST_EXPECT(lffn_mul_overflows(-1, 2, &out), "negative factor");
    TEST_EXPECT(lffn_mul3_overflows((int64_t)1 << 21, (int64_t)1 << 21, (int64_t)1 << 21, &out), "2^63");
    TEST_EXPECT(lffn_gemm_pack_b_size_f32((int64_t)1 << 40, (int64_t)1 << 30) == -1, "pack size: (n/32*32) k 4 > 2^63");
    TEST_EXPECT(lffn_gemm_pack_b_size_f32(INT64_MAX - 3, 1) == -1, "pack size: n + 31 overflows");
    TEST_EXPECT(lffn_gemm_pack_b_size_f32(33, 5) == 64 * 5 * 4, "pack size of a small B");
    /* heads * head_size = 2^64 wraps to 0 in unchecked arithmetic, which every ld >= 0 would pass */
    void *aws = test_alloc(lffn_attention_workspace_size(2));
    TEST_EXPECT(lffn_attention_f32(2, (int64_t)1 << 32, (int64_t)1 << 32, buf, 8, buf, 8, buf, 8, 1.0f, NULL, aws, buf,
                                   8) == LFFN_INVALID_ARGUMENTS, "heads * head_size overflows");
    TEST_EXPECT(strstr(lffn_last_error(), "lffn_mul_overflows(heads, head_size") != NULL, "message: \"%s\"",
                lffn_last_error());
    free(aws);

    /* packed B: 64-byte alignment is checked */
    float *pb = test_alloc(lffn_gemm_pack_b_size_f32(4, 4) + 64);
    TEST_EXPECT(lffn_gemm_pack_b_f32(4, 4, buf, 4, 0, pb + 1) == LFFN_INVALID_ARGUMENTS, "misaligned pack output");
    TEST_EXPECT(lffn_gemm_pack_b_f32(4, 4, buf, 4, 0, pb) == LFFN_SUCCESS, "aligned pack output");
    TEST_EXPECT(lffn_gemm_packed_f32(2, 4, 4, buf, 4, pb + 1, NULL, LFFN_EPILOGUE_NONE, buf + 32, 4) ==
                    LFFN_INVALID_ARGUMENTS, "misaligned packed B");
    TEST_EXPECT(lffn_gemm_packed_f32(2, 4, 4, buf, 4, pb, NULL, LFFN_EPILOGUE_NONE, buf + 32, 4) == LFFN_SUCCESS,
                "aligned packed B");
    free(pb);

    /* the kernel table follows the cap, both ways */
    TEST_FOR_EACH_ISA(isa) {
        TEST_EXPECT(lffn_get_effective_isa() == isa && lffn_kernels() == lffn_kernels_for(isa), "table of %s",
                    test_isa_name(isa));
    }
    TEST_EXPECT(lffn_set_max_isa(LFFN_ISA_SCALAR) == LFFN_SUCCESS && lffn_kernels() == lffn_kernels_for(LFFN_ISA_SCALAR),
                "back to scalar");
    TEST_EXPECT(lffn_kernels_for(LFFN_ISA_SCALAR)->layernorm_f32 == lffn_layernorm_f32_ref, "scalar table: references");
    return test_finish("test-errors");
}
