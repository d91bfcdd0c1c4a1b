package dev.lookupffn.layer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.ffi.Kernels;
import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * NaN and ±Inf inputs (documented in README "Numerics"): a non-finite value makes its row's LayerNorm NaN, so
 * every hash value of the row is NaN; a NaN hash value counts as bit 0 (comparisons with NaN are false, checked
 * on the hash kernel below), so the codes stay in range and no table read goes out of bounds; the scores are NaN,
 * so the row's output (the fused forward's, as served) is all NaN. Other rows are untouched.
 */
class NonFiniteInputTest {
    @Test
    void nonFiniteRowsBecomeNaNAndLeaveOtherRowsAlone() {
        Random rnd = new Random(8);
        for (boolean dense : new boolean[] {false, true}) {
            LookupFfnTest.Case c = new LookupFfnTest.Case("nan", 64, 40, 12, 5, 16, dense, 4);
            Map<String, Tensor> params = LookupFfnTest.randomParams(rnd, c);
            try (LookupFfn layer = LookupFfn.fromTensors(params::get, "nan", LookupFfn.Options.DEFAULT);
                 Tensor x = LookupFfnTest.randomInput(rnd, c.batch(), c.d());
                 Tensor clean = Tensor.allocate(DType.F32, c.batch(), c.o());
                 Tensor dirty = Tensor.allocate(DType.F32, c.batch(), c.o());
                 WorkerPool pool = WorkerPool.create(1)) {
                layer.forward(x, clean, pool);
                x.setFloat(1L * c.d() + 3, Float.NaN);
                x.setFloat(2L * c.d() + 7, Float.POSITIVE_INFINITY);
                x.setFloat(3L * c.d() + 0, Float.NEGATIVE_INFINITY);
                layer.forward(x, dirty, pool);
                float[] a = clean.toFloatArray(), b = dirty.toFloatArray();
                for (int r = 1; r < 4; r++)
                    for (int j = 0; j < c.o(); j++)
                        assertTrue(Float.isNaN(b[r * c.o() + j]), (dense ? "dense" : "BH4") + " row " + r + " col " + j + " = " + b[r * c.o() + j]);
                float[] row0a = java.util.Arrays.copyOf(a, c.o()), row0b = java.util.Arrays.copyOf(b, c.o());
                assertArrayEquals(row0a, row0b, "a clean row must not change");
            } finally {
                params.values().forEach(Tensor::close);
            }
        }
    }

    @Test
    void hashOfNaNAndInfinityIsDefined() {
        // τ = 2: [NaN, +1] → 0b01, [+Inf, -Inf] → 0b10 (+Inf > 0), score of an infinity is Inf or NaN, never garbage
        try (Tensor z = Tensor.ofFloats(new float[] {Float.NaN, 1f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}, 1, 4);
             Tensor code = Tensor.allocate(DType.I32, 1, 2); Tensor score = Tensor.allocate(DType.F32, 1, 2)) {
            Kernels.hashCodeScore(1, 2, 2, z.segment(), 4, code.segment(), 2, score.segment(), 2);
            assertEquals(1, code.getInt(0));
            assertEquals(2, code.getInt(1));
            assertTrue(Float.isNaN(score.getFloat(0)));
            assertTrue(Float.isNaN(score.getFloat(1)) || Float.isInfinite(score.getFloat(1)));
        }
    }
}
