package dev.lookupffn.baseline;

import dev.lookupffn.ffi.OneDnn;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.ffi.Isa;
import dev.lookupffn.ffi.IsaSupport;
import dev.lookupffn.ffi.Kernels;
import dev.lookupffn.ffi.Reference;
import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The dense FFN on our GEMM and on oneDNN against a float64 reference, and against each other. */
class DenseFfnTest {
    static final double MAX_REL_ERR = 1e-5;
    static final int D = 96, F = 200, O = 72, B = 37;

    @AfterEach
    void restoreIsa() {
        Kernels.setMaxIsa(Kernels.cpuIsa());
    }

    static DenseFfn.Weights weights(Random rnd) {
        return new DenseFfn.Weights(Reference.gaussian(rnd, 1, 0, D), Reference.gaussian(rnd, 0.1, 0, D), Reference.gaussian(rnd, 1 / Math.sqrt(D), 0, F, D),
                Reference.gaussian(rnd, 0.1, 0, F), Reference.gaussian(rnd, 1 / Math.sqrt(F), 0, O, F), Reference.gaussian(rnd, 0.1, 0, O));
    }

    /** LayerNorm → x·W1ᵀ+b1 → GELU(erf) → ·W2ᵀ+b2 in float64. */
    static double[] reference(DenseFfn.Weights w, float[] x) {
        float[] g = w.lnWeight().toFloatArray(), be = w.lnBias().toFloatArray(), w1 = w.w1().toFloatArray(),
                b1 = w.b1().toFloatArray(), w2 = w.w2().toFloatArray(), b2 = w.b2().toFloatArray();
        double[] ln = Reference.layerNorm(x, B, D, g, be, 1e-5);
        double[] out = new double[B * O];
        for (int r = 0; r < B; r++) {
            double[] h = new double[F];
            for (int j = 0; j < F; j++) {
                double s = b1[j];
                for (int i = 0; i < D; i++) s += ln[r * D + i] * w1[j * D + i];
                h[j] = Reference.gelu(s);
            }
            for (int j = 0; j < O; j++) {
                double s = b2[j];
                for (int i = 0; i < F; i++) s += h[i] * w2[j * F + i];
                out[r * O + j] = s;
            }
        }
        return out;
    }

    @ParameterizedTest
    @EnumSource(Isa.class)
    void ownGemmMatchesTheReference(Isa isa) {
        IsaSupport.assumeSupported(isa);
        Kernels.setMaxIsa(isa);
        Random rnd = new Random(11);
        DenseFfn.Weights w = weights(rnd);
        try (Tensor x = Reference.gaussian(rnd, 2, 0, B, D); Tensor out = Tensor.allocate(DType.F32, B, O);
             DenseFfn ffn = DenseFfn.own(w, 1e-5f); WorkerPool pool = WorkerPool.create(2)) {
            ffn.forward(x, out, pool);
            double err = Reference.relativeError(out.toFloatArray(), reference(w, x.toFloatArray()));
            assertTrue(err <= MAX_REL_ERR, isa + ": relative error " + err);
        }
    }

    @Test
    void oneDnnMatchesTheReferenceAndOurGemm() {
        Assumptions.assumeTrue(OneDnn.available(), "oneDNN baseline not built");
        Random rnd = new Random(12);
        DenseFfn.Weights w = weights(rnd);
        try (Tensor x = Reference.gaussian(rnd, 2, 0, B, D); Tensor a = Tensor.allocate(DType.F32, B, O);
             Tensor b = Tensor.allocate(DType.F32, B, O); Tensor c = Tensor.allocate(DType.F32, B, O);
             DenseFfn own = DenseFfn.own(w, 1e-5f); DenseFfn dnn = DenseFfn.oneDnn(w, 1e-5f, B, false, 2);
             DenseFfn dnnBf16 = DenseFfn.oneDnn(w, 1e-5f, B, true, 2); WorkerPool pool = WorkerPool.create(2)) {
            own.forward(x, a, pool);
            dnn.forward(x, b, pool);
            dnnBf16.forward(x, c, pool);
            double[] ref = reference(w, x.toFloatArray());
            double err = Reference.relativeError(b.toFloatArray(), ref);
            assertTrue(err <= MAX_REL_ERR, "oneDNN: relative error " + err);
            double between = Reference.relativeError(a.toFloatArray(), b.toFloatArray());
            assertTrue(between <= MAX_REL_ERR, "ours vs oneDNN: relative difference " + between);
            double bf16 = Reference.relativeError(c.toFloatArray(), ref);
            assertTrue(bf16 <= 2e-2, "oneDNN bf16: relative error " + bf16);
        }
    }
}
