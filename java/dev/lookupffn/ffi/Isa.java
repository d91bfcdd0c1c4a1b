package dev.lookupffn.ffi;

/** Instruction-set levels of {@code lffn_isa_t}, ordered: each includes the previous one. */
public enum Isa {
    SCALAR,
    AVX2,
    AVX512,
    /** AVX-512 with AVX512_BF16 ({@code vdpbf16ps}): only the GEMM with bf16 weights differs from AVX512. */
    AVX512_BF16;

    static Isa of(int code) {
        Isa[] all = values();
        if (code < 0 || code >= all.length) throw new IllegalStateException("unknown lffn_isa_t " + code);
        return all[code];
    }
}
