package dev.lookupffn.ffi;

import org.junit.jupiter.api.Assumptions;

/** Skips (never fails) ISA paths this CPU does not have. */
public final class IsaSupport {
    private IsaSupport() {}

    public static void assumeSupported(Isa isa) {
        Assumptions.assumeTrue(isa.compareTo(Kernels.cpuIsa()) <= 0, "CPU lacks " + isa);
    }
}
