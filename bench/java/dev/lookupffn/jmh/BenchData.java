package dev.lookupffn.jmh;

import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/** Seeded random tensors for the benchmarks. */
final class BenchData {
    private BenchData() {}

    static Tensor random(SplittableRandom rnd, double scale, long... shape) {
        Tensor t = Tensor.allocate(DType.F32, shape);
        for (long i = 0, n = t.elementCount(); i < n; i++)
            t.segment().setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) ((rnd.nextDouble() * 2 - 1) * scale));
        return t;
    }

    static long[] dims(String spec) {
        String[] p = spec.split("x");
        long[] d = new long[p.length];
        for (int i = 0; i < p.length; i++) d[i] = Long.parseLong(p[i]);
        return d;
    }
}
