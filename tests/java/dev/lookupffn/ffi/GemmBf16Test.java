package dev.lookupffn.ffi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.LookupFfnException.ShapeException;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** lffn_gemm_packed_bf16 through FFM, every ISA, against float64 over the bf16-rounded weights; the facade's checks. */
class GemmBf16Test {
    /** A and B bf16-exact: only the fp32 summation differs from float64. */
    static final double MAX_REL_ERR = 1e-5;
    /** A not bf16-exact: the vdpbf16ps path rounds it to bf16 (relative error 2^-9 per element). */
    static final double MAX_REL_ERR_ROUNDED_A = 1e-2;

    @AfterEach
    void restoreIsa() {
        Kernels.setMaxIsa(Kernels.cpuIsa());
    }

    static float bf16(float x) {
        int bits = Float.floatToRawIntBits(x);
        bits = (bits + 0x7FFF + ((bits >>> 16) & 1)) & 0xFFFF0000;
        return Float.intBitsToFloat(bits);
    }

    static float[] bf16(float[] x) {
        float[] y = new float[x.length];
        for (int i = 0; i < x.length; i++) y[i] = bf16(x[i]);
        return y;
    }

    @ParameterizedTest
    @EnumSource(Isa.class)
    void matchesFloat64OnEveryIsa(Isa isa) {
        IsaSupport.assumeSupported(isa);
        Kernels.setMaxIsa(isa);
        Random rnd = new Random(15);
        for (int[] s : new int[][] {{1, 1, 1}, {7, 33, 17}, {27, 1152, 384}, {30, 45, 1537}}) {
            int m = s[0], n = s[1], k = s[2];
            for (boolean exactA : new boolean[] {true, false}) {
                try (Tensor a0 = Reference.gaussian(rnd, 1, 0, m, k); Tensor b = Reference.gaussian(rnd, 1, 0, n, k);
                     Tensor bias = Reference.gaussian(rnd, 1, 0, n); Tensor c = Tensor.allocate(DType.F32, m, n);
                     Tensor a = Tensor.ofFloats(exactA ? bf16(a0.toFloatArray()) : a0.toFloatArray(), m, k);
                     Arena arena = Arena.ofConfined()) {
                    double[] want = GemmTest.reference(a.toFloatArray(), bf16(b.toFloatArray()), bias.toFloatArray(), m, n, k, true);
                    MemorySegment packed = arena.allocate(Kernels.gemmPackBSizeBf16(n, k), 64);
                    Kernels.gemmPackBBf16(n, k, b.segment(), k, true, packed);
                    Kernels.gemmPackedBf16(m, n, k, a.segment(), k, packed, bias.segment(), Kernels.Epilogue.NONE, c.segment(), n);
                    double err = Reference.relativeError(c.toFloatArray(), want);
                    double limit = exactA || isa != Isa.AVX512_BF16 ? MAX_REL_ERR : MAX_REL_ERR_ROUNDED_A;
                    assertTrue(err <= limit, isa + " " + m + "x" + n + "x" + k + " exact A " + exactA + ": " + err);
                }
            }
        }
    }

    @Test
    void columnRangeFromAPanelBoundaryIsASliceOfThePackedWeights() {
        int m = 5, n = 100, k = 77, from = 64;
        Random rnd = new Random(16);
        try (Tensor a = Reference.gaussian(rnd, 1, 0, m, k); Tensor b = Reference.gaussian(rnd, 1, 0, n, k);
             Tensor whole = Tensor.allocate(DType.F32, m, n); Tensor part = Tensor.allocate(DType.F32, m, n - from);
             Arena arena = Arena.ofConfined()) {
            MemorySegment packed = arena.allocate(Kernels.gemmPackBSizeBf16(n, k), 64);
            Kernels.gemmPackBBf16(n, k, b.segment(), k, true, packed);
            Kernels.gemmPackedBf16(m, n, k, a.segment(), k, packed, null, Kernels.Epilogue.GELU, whole.segment(), n);
            long offset = from / 32 * Kernels.gemmPackBSizeBf16(32, k);
            Kernels.gemmPackedBf16(m, n - from, k, a.segment(), k, packed.asSlice(offset), null, Kernels.Epilogue.GELU,
                    part.segment(), n - from);
            float[] w = whole.toFloatArray(), p = part.toFloatArray();
            for (int i = 0; i < m; i++)
                assertArrayEquals(java.util.Arrays.copyOfRange(w, i * n + from, (i + 1) * n),
                        java.util.Arrays.copyOfRange(p, i * (n - from), (i + 1) * (n - from)), "row " + i);
        }
    }

    @Test
    void wrongSizesAreShapeExceptionsBeforeTheDowncall() {
        try (Arena arena = Arena.ofConfined(); Tensor b = Tensor.allocate(DType.F32, 64, 64);
             Tensor a = Tensor.allocate(DType.F32, 4, 64); Tensor c = Tensor.allocate(DType.F32, 4, 64)) {
            MemorySegment small = arena.allocate(Kernels.gemmPackBSizeBf16(64, 64) - 2, 64);
            assertThrows(ShapeException.class, () -> Kernels.gemmPackBBf16(64, 64, b.segment(), 64, true, small));
            MemorySegment packed = arena.allocate(Kernels.gemmPackBSizeBf16(64, 64) + 64, 64);
            Kernels.gemmPackBBf16(64, 64, b.segment(), 64, true, packed);
            // packed weights for fewer columns, a too short A or C, an unaligned packed B, k 0
            assertThrows(ShapeException.class, () -> Kernels.gemmPackedBf16(4, 64, 64, a.segment(), 64,
                    packed.asSlice(0, Kernels.gemmPackBSizeBf16(32, 64)), null, Kernels.Epilogue.NONE, c.segment(), 64));
            assertThrows(ShapeException.class, () -> Kernels.gemmPackedBf16(5, 64, 64, a.segment(), 64, packed, null,
                    Kernels.Epilogue.NONE, c.segment(), 64));
            assertThrows(ShapeException.class, () -> Kernels.gemmPackedBf16(4, 64, 64, a.segment(), 64, packed.asSlice(2),
                    null, Kernels.Epilogue.NONE, c.segment(), 64));
            assertThrows(ShapeException.class, () -> Kernels.gemmPackBSizeBf16(64, 0));
            assertThrows(ShapeException.class, () -> Kernels.gemmPackedBf16(4, 64, 64, a.segment(), 64, packed,
                    MemorySegment.ofArray(new float[64]), Kernels.Epilogue.NONE, c.segment(), 64));
        }
    }
}
