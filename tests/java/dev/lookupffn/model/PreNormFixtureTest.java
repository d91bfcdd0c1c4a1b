package dev.lookupffn.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.LookupFfnException.ShapeException;
import dev.lookupffn.ffi.Isa;
import dev.lookupffn.ffi.Kernels;
import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.safetensors.SafetensorsFile;
import dev.lookupffn.tensor.Tensor;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The paper's pre-norm LookupFFN encoder against the float64-generated fixture, on every ISA path. */
class PreNormFixtureTest {
    static final Path FIXTURE = Path.of("tests/resources/fixtures/prenorm-lookup-encoder-small.safetensors");
    static final double MAX_REL_ERR = 1e-5;

    @AfterEach
    void restoreIsa() {
        Kernels.setMaxIsa(Kernels.cpuIsa());
    }

    @ParameterizedTest
    @EnumSource(Isa.class)
    void sequenceOutputMatchesTheFixture(Isa isa) {
        Assumptions.assumeTrue(isa.compareTo(Kernels.cpuIsa()) <= 0, "CPU lacks " + isa);
        Kernels.setMaxIsa(isa);
        try (SafetensorsFile st = SafetensorsFile.open(FIXTURE);
             TransformerEncoder enc = Encoder.fromSafetensors(FIXTURE, null);
             WorkerPool pool = WorkerPool.create(2)) {
            EncoderConfig c = enc.config();
            assertEquals(EncoderConfig.Norm.PRE, c.norm());
            assertEquals(2, c.layers());
            assertEquals(4, c.heads());
            assertEquals(2, c.positionOffset());
            assertEquals(TransformerEncoder.FfnKind.LOOKUP, enc.ffnKind(0));
            assertFalse(enc.hasLmHead());
            int[] ids = st.ints("input_ids"), mask = st.ints("attention_mask"), types = st.ints("token_type_ids");
            int b = (int) st.entry("input_ids").shape()[0], t = (int) st.entry("input_ids").shape()[1];
            float[] want = st.floats("sequence_output");
            try (Tensor out = enc.forward(new Batch(b, t, ids, mask, types), pool)) {
                float[] got = out.toFloatArray();
                double num = 0, den = 0;
                int h = c.hidden();
                for (int r = 0; r < b * t; r++) {
                    if (mask[r] == 0) continue;
                    for (int k = 0; k < h; k++) {
                        double d = got[r * h + k] - want[r * h + k];
                        num += d * d;
                        den += (double) want[r * h + k] * want[r * h + k];
                    }
                }
                double err = Math.sqrt(num / den);
                assertTrue(err <= MAX_REL_ERR, isa + ": relative error " + err);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = Isa.class, names = "SCALAR")
    void badIdsAreTypedErrors(Isa ignored) {
        try (TransformerEncoder enc = Encoder.fromSafetensors(FIXTURE, null)) {
            assertThrows(ShapeException.class, () -> enc.forward(Batch.single(0, 300)));           // vocab 300
            assertThrows(ShapeException.class, () -> enc.forward(Batch.of(java.util.List.of(new int[] {5}),
                    java.util.List.of(new int[] {1}), 1)));                                         // 1 token type
            assertThrows(ShapeException.class, () -> enc.forward(Batch.single(new int[65])));        // 64 positions
        }
    }
}
