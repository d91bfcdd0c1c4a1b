package dev.lookupffn.ffi;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.LookupFfnException.ShapeException;
import dev.lookupffn.ffi.OneDnn;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** lffn_gemm_f32 and the packed variant through FFM, every ISA, against float64; and against dnnl_sgemm. */
class GemmTest {
    static final double MAX_REL_ERR = 1e-5;

    @AfterEach
    void restoreIsa() {
        Kernels.setMaxIsa(Kernels.cpuIsa());
    }

    static double[] reference(float[] a, float[] b, float[] bias, int m, int n, int k, boolean transB) {
        double[] c = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double s = bias == null ? 0 : bias[j];
                for (int p = 0; p < k; p++) s += (double) a[i * k + p] * (transB ? b[j * k + p] : b[p * n + j]);
                c[i * n + j] = s;
            }
        return c;
    }

    @ParameterizedTest
    @EnumSource(Isa.class)
    void matchesFloat64OnEveryIsa(Isa isa) {
        IsaSupport.assumeSupported(isa);
        Kernels.setMaxIsa(isa);
        Random rnd = new Random(5);
        for (int[] s : new int[][] {{1, 1, 1}, {7, 33, 17}, {65, 100, 129}, {130, 47, 300}}) {
            int m = s[0], n = s[1], k = s[2];
            for (boolean transB : new boolean[] {false, true}) {
                try (Tensor a = Reference.gaussian(rnd, 1, 0, m, k); Tensor b = Reference.gaussian(rnd, 1, 0, transB ? n : k, transB ? k : n);
                     Tensor bias = Reference.gaussian(rnd, 1, 0, n); Tensor c = Tensor.allocate(DType.F32, m, n);
                     Arena arena = Arena.ofConfined()) {
                    double[] want = reference(a.toFloatArray(), b.toFloatArray(), bias.toFloatArray(), m, n, k, transB);
                    Kernels.gemm(m, n, k, a.segment(), k, b.segment(), transB ? k : n, transB, bias.segment(),
                            Kernels.Epilogue.NONE, c.segment(), n);
                    double err = Reference.relativeError(c.toFloatArray(), want);
                    assertTrue(err <= MAX_REL_ERR, isa + " " + m + "x" + n + "x" + k + " transB " + transB + ": " + err);
                    MemorySegment packed = arena.allocate(Kernels.gemmPackBSize(n, k), 64);
                    Kernels.gemmPackB(n, k, b.segment(), transB ? k : n, transB, packed);
                    Kernels.gemmPacked(m, n, k, a.segment(), k, packed, bias.segment(), Kernels.Epilogue.NONE, c.segment(), n);
                    err = Reference.relativeError(c.toFloatArray(), want);
                    assertTrue(err <= MAX_REL_ERR, isa + " packed " + m + "x" + n + "x" + k + ": " + err);
                }
            }
        }
    }

    @Test
    void agreesWithOneDnnSgemm() {
        Assumptions.assumeTrue(OneDnn.available(), "oneDNN baseline not built");
        Random rnd = new Random(6);
        int m = 123, n = 256, k = 200;
        try (Tensor a = Reference.gaussian(rnd, 1, 0, m, k); Tensor b = Reference.gaussian(rnd, 1, 0, n, k); Tensor c1 = Tensor.allocate(DType.F32, m, n);
             Tensor c2 = Tensor.allocate(DType.F32, m, n)) {
            Kernels.gemm(m, n, k, a.segment(), k, b.segment(), k, true, null, Kernels.Epilogue.NONE, c1.segment(), n);
            OneDnn.get().sgemm(false, true, m, n, k, 1f, a.segment(), k, b.segment(), k, 0f, c2.segment(), n);
            double err = Reference.relativeError(c1.toFloatArray(), c2.toFloatArray());
            assertTrue(err <= MAX_REL_ERR, "ours vs dnnl_sgemm: " + err);
        }
    }

    @Test
    void packedBufferTooSmallIsRejected() {
        try (Arena arena = Arena.ofConfined(); Tensor b = Tensor.allocate(DType.F32, 64, 64)) {
            MemorySegment small = arena.allocate(Kernels.gemmPackBSize(64, 64) - 4, 64);
            assertThrows(ShapeException.class, () -> Kernels.gemmPackB(64, 64, b.segment(), 64, true, small));
        }
    }
}
