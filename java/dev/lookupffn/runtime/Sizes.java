package dev.lookupffn.runtime;

import dev.lookupffn.LookupFfnException.ShapeException;

/** Size arithmetic that cannot wrap: a product that does not fit a long is a {@link ShapeException}. */
public final class Sizes {
    private Sizes() {}

    /** a × b for sizes ≥ 0; {@code what} names the quantity in the message (a constant: no string is built unless it fails). */
    public static long multiply(String what, long a, long b) {
        if (a < 0 || b < 0) throw new ShapeException(what + ": negative size " + a + " × " + b);
        long hi = Math.multiplyHigh(a, b), lo = a * b;
        if (hi != 0 || lo < 0) throw new ShapeException("size of " + what + " overflows: " + a + " × " + b + " does not fit in 64 bits");
        return lo;
    }

    /** a × b × c for sizes ≥ 0. */
    public static long multiply(String what, long a, long b, long c) {
        return multiply(what, multiply(what, a, b), c);
    }

    /** a + b for sizes ≥ 0. */
    public static long add(String what, long a, long b) {
        if (a < 0 || b < 0) throw new ShapeException(what + ": negative size " + a + " + " + b);
        long s = a + b;
        if (s < 0) throw new ShapeException("size of " + what + " overflows: " + a + " + " + b + " does not fit in 64 bits");
        return s;
    }
}
