package dev.lookupffn.ffi;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The first kernel end to end: LayerNorm through FFM on every ISA path against a float64 Java reference. */
class LayerNormTest {
    static final double MAX_REL_ERR = 1e-6;

    @AfterEach
    void restoreIsa() {
        Kernels.setMaxIsa(Kernels.cpuIsa());
    }

    @ParameterizedTest
    @EnumSource(Isa.class)
    void matchesFloat64Reference(Isa isa) {
        IsaSupport.assumeSupported(isa);
        Kernels.setMaxIsa(isa);
        Random rnd = new Random(7);
        for (int[] shape : new int[][] {{1, 1}, {3, 7}, {17, 200}, {64, 384}, {5, 1000}}) {
            int rows = shape[0], cols = shape[1];
            try (Tensor x = Tensor.allocate(DType.F32, rows, cols); Tensor g = Tensor.allocate(DType.F32, cols);
                 Tensor b = Tensor.allocate(DType.F32, cols); Tensor y = Tensor.allocate(DType.F32, rows, cols)) {
                for (long i = 0; i < x.elementCount(); i++) x.setFloat(i, (float) (rnd.nextGaussian() * 3 + 1));
                for (long i = 0; i < cols; i++) {
                    g.setFloat(i, (float) rnd.nextGaussian());
                    b.setFloat(i, (float) rnd.nextGaussian());
                }
                Kernels.layerNorm(rows, cols, x.segment(), cols, g.segment(), b.segment(), 1e-5f, y.segment(), cols);
                double[] want = Reference.layerNorm(x.toFloatArray(), rows, cols, g.toFloatArray(), b.toFloatArray(), 1e-5);
                double err = Reference.relativeError(y.toFloatArray(), want);
                assertTrue(err <= MAX_REL_ERR, isa + " " + rows + "x" + cols + ": relative error " + err);
            }
        }
    }
}
