package dev.lookupffn.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.LookupFfnException.FormatException;
import dev.lookupffn.LookupFfnException.ShapeException;
import dev.lookupffn.ffi.Isa;
import dev.lookupffn.ffi.Kernels;
import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.safetensors.SafetensorsFile;
import dev.lookupffn.safetensors.SafetensorsWriter;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.BiConsumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Compact LookupFFN tables end to end on the pre-norm encoder fixture: the file {@code convert --dtype int8|bf16}
 * writes (through {@link ModelSource#exportTensors}), what a model loaded from it holds, its accuracy against fp32,
 * and hostile variants of such a file (every one a {@link FormatException} naming the tensor, before any kernel runs).
 */
class CompactTablesTest {
    static final Path FIXTURE = PreNormFixtureTest.FIXTURE;
    /** The bound: the int8 (and bf16) encoder's sequence output against the fp32 one. */
    static final double MAX_REL_ERR = 1e-2;
    static final String T0 = "encoder.layer.0.FFN.tables", S0 = T0 + "_scale";

    @TempDir
    Path dir;

    @AfterEach
    void restoreIsa() {
        Kernels.setMaxIsa(Kernels.cpuIsa());
    }

    /** The fixture converted as convert does it, with the tables stored as {@code dtype}. */
    static Path convert(Path out, DType dtype) {
        try (ModelSource src = ModelSource.open(FIXTURE, null); Arena arena = Arena.ofConfined()) {
            SafetensorsWriter.write(out, src.exportTensors(dtype, arena), src.exportMetadata(dtype));
        }
        return out;
    }

    /** The fixture's batch through {@code enc}, as floats [tokens · hidden]. */
    static float[] run(TransformerEncoder enc) {
        try (SafetensorsFile st = SafetensorsFile.open(FIXTURE); WorkerPool pool = WorkerPool.create(2)) {
            int b = (int) st.entry("input_ids").shape()[0], t = (int) st.entry("input_ids").shape()[1];
            try (Tensor out = enc.forward(new Batch(b, t, st.ints("input_ids"), st.ints("attention_mask"),
                    st.ints("token_type_ids")), pool)) {
                return out.toFloatArray();
            }
        }
    }

    /** ‖got − want‖ / ‖want‖ over the tokens whose mask is 1. */
    static double relErr(float[] got, float[] want) {
        int[] mask;
        try (SafetensorsFile st = SafetensorsFile.open(FIXTURE)) {
            mask = st.ints("attention_mask");
        }
        int h = got.length / mask.length;
        double num = 0, den = 0;
        for (int r = 0; r < mask.length; r++) {
            if (mask[r] == 0) continue;
            for (int k = 0; k < h; k++) {
                double d = got[r * h + k] - want[r * h + k];
                num += d * d;
                den += (double) want[r * h + k] * want[r * h + k];
            }
        }
        return Math.sqrt(num / den);
    }

    // ------------------------------------------------------------------------------------------------ the file

    @Test
    void anInt8FileHoldsQuantizedTablesTheirScalesAndItsDtype() {
        Path file = convert(dir.resolve("int8.safetensors"), DType.I8);
        try (SafetensorsFile st = SafetensorsFile.open(file); SafetensorsFile f32 = SafetensorsFile.open(FIXTURE)) {
            assertEquals("int8", st.metadata().get("lookupffn_tables_dtype"));
            for (int layer = 0; layer < 2; layer++) {
                String name = "encoder.layer." + layer + ".FFN.tables";
                Tensor x = f32.tensor(name), q = st.tensor(name), s = st.tensor(name + "_scale");
                assertEquals(DType.I8, q.dtype());
                assertArrayEquals(new long[] {16, 64, 128}, q.shape());
                assertEquals(DType.F32, s.dtype());
                assertArrayEquals(new long[] {16, 64, 2}, s.shape()); // 128 columns: two chunks of 64
                // per (row, 64-column chunk): scale = max|x| / 127 and |q · scale − x| <= scale / 2
                for (long row = 0; row < 16 * 64; row++)
                    for (long chunk = 0; chunk < 2; chunk++) {
                        double max = 0;
                        for (long c = chunk * 64; c < chunk * 64 + 64; c++) max = Math.max(max, Math.abs(x.getFloat(row * 128 + c)));
                        float scale = s.getFloat(row * 2 + chunk);
                        assertEquals(max / 127, scale, 1e-6 * max / 127, name + " row " + row + " chunk " + chunk);
                        for (long c = chunk * 64; c < chunk * 64 + 64; c++) {
                            float v = x.getFloat(row * 128 + c);
                            byte qv = q.segment().get(ValueLayout.JAVA_BYTE, row * 128 + c);
                            assertTrue(qv >= -127, name + " holds -128");
                            assertTrue(Math.abs(qv * scale - v) <= scale * 0.5 * (1 + 1e-5), name + " [" + row + ", " + c + "]");
                        }
                    }
            }
            // everything else is written as it was
            assertEquals(DType.F32, st.tensor("encoder.layer.0.FFN.hash.projection.weight").dtype());
            assertArrayEquals(f32.tensor("encoder.layer.1.attention.query.weight").toFloatArray(),
                    st.tensor("encoder.layer.1.attention.query.weight").toFloatArray());
        }
    }

    @Test
    void aBf16FileHoldsTheTablesRoundedToBf16() {
        Path file = convert(dir.resolve("bf16.safetensors"), DType.BF16);
        try (SafetensorsFile st = SafetensorsFile.open(file); SafetensorsFile f32 = SafetensorsFile.open(FIXTURE)) {
            assertEquals("bf16", st.metadata().get("lookupffn_tables_dtype"));
            assertEquals(DType.BF16, st.tensor(T0).dtype());
            assertTrue(!st.contains(S0));
            Tensor x = f32.tensor(T0), y = st.tensor(T0);
            for (long i = 0; i < x.elementCount(); i++)
                assertEquals(x.getFloat(i), y.getFloat(i), Math.abs(x.getFloat(i)) / 256, "element " + i); // 8 bits
        }
    }

    // ------------------------------------------------------------------------------------------------ loading

    @ParameterizedTest
    @EnumSource(Isa.class)
    void theInt8EncoderIsWithinOnePercentOfFp32OnEveryIsa(Isa isa) {
        Assumptions.assumeTrue(isa.compareTo(Kernels.cpuIsa()) <= 0, "CPU lacks " + isa);
        Kernels.setMaxIsa(isa);
        Path int8 = convert(dir.resolve("int8.safetensors"), DType.I8);
        float[] fp32, fromFile, atLoad;
        try (TransformerEncoder enc = Encoder.fromSafetensors(FIXTURE, null)) {
            fp32 = run(enc);
        }
        try (TransformerEncoder enc = Encoder.fromSafetensors(int8, null)) {
            assertEquals(DType.I8, enc.lookupTableDType(0));
            assertEquals(DType.I8, enc.lookupTableDType(1));
            fromFile = run(enc);
        }
        try (ModelSource src = ModelSource.open(FIXTURE, null);
             TransformerEncoder enc = src.build(TransformerEncoder.Options.DEFAULT.withLookupTableDType(DType.I8))) {
            atLoad = run(enc);
        }
        double err = relErr(fromFile, fp32);
        System.out.printf("%s: int8 tables vs fp32, sequence output relative error %.2e%n", isa, err);
        assertTrue(err <= MAX_REL_ERR, isa + ": int8 relative error " + err);
        assertTrue(err > 0, "int8 tables should not give exactly the fp32 output");
        // quantized by convert or while loading: the same tables, the same bits
        assertArrayEquals(atLoad, fromFile);
    }

    @Test
    void int8TablesComputeExactlyWhatTheirDequantizedValuesDo() {
        // the int8 file converted back to f32 holds q · scale: the int8 gather must compute that model's output
        // (so the int8 encoder's whole error is the quantization's, none of it the kernels')
        Path int8 = convert(dir.resolve("int8.safetensors"), DType.I8), dequantized = dir.resolve("dequantized.safetensors");
        try (ModelSource src = ModelSource.open(int8, null); Arena arena = Arena.ofConfined()) {
            SafetensorsWriter.write(dequantized, src.exportTensors(DType.F32, arena), src.exportMetadata(DType.F32));
        }
        try (TransformerEncoder a = Encoder.fromSafetensors(int8, null); TransformerEncoder b = Encoder.fromSafetensors(dequantized, null)) {
            assertEquals(DType.I8, a.lookupTableDType(0));
            assertEquals(DType.F32, b.lookupTableDType(0));
            double err = relErr(run(a), run(b));
            assertTrue(err <= 1e-5, "int8 tables vs their dequantized fp32 values: relative error " + err);
        }
    }

    @Test
    void aBf16FileLoadsAsBf16TablesWithinOnePercent() {
        Path bf16 = convert(dir.resolve("bf16.safetensors"), DType.BF16);
        float[] fp32, fromFile, atLoad;
        try (TransformerEncoder enc = Encoder.fromSafetensors(FIXTURE, null)) {
            assertEquals(DType.F32, enc.lookupTableDType(0));
            fp32 = run(enc);
        }
        try (TransformerEncoder enc = Encoder.fromSafetensors(bf16, null)) {
            assertEquals(DType.BF16, enc.lookupTableDType(0));
            fromFile = run(enc);
        }
        try (ModelSource src = ModelSource.open(FIXTURE, null);
             TransformerEncoder enc = src.build(TransformerEncoder.Options.DEFAULT.withLookupTableDType(DType.BF16))) {
            atLoad = run(enc);
        }
        assertTrue(relErr(fromFile, fp32) <= MAX_REL_ERR, "bf16 relative error " + relErr(fromFile, fp32));
        assertArrayEquals(atLoad, fromFile);
    }

    @Test
    void aModelReportsItsResidentTableBytes() {
        Path int8 = convert(dir.resolve("int8.safetensors"), DType.I8), bf16 = convert(dir.resolve("bf16.safetensors"), DType.BF16);
        long f32Bytes, int8Bytes, bf16Bytes;
        try (TransformerEncoder enc = Encoder.fromSafetensors(FIXTURE, null)) {
            f32Bytes = enc.lookupTableBytes();
        }
        try (TransformerEncoder enc = Encoder.fromSafetensors(int8, null)) {
            int8Bytes = enc.lookupTableBytes();
        }
        try (TransformerEncoder enc = Encoder.fromSafetensors(bf16, null)) {
            bf16Bytes = enc.lookupTableBytes();
        }
        long values = 2L * 16 * 64 * 128; // 2 layers of 16 tables × 64 rows × 128 columns
        assertEquals(4 * values, f32Bytes);
        assertEquals(2 * values, bf16Bytes);
        assertEquals(values + 2L * 16 * 64 * 2 * 4, int8Bytes); // + one fp32 scale per row and 64 columns
    }

    @Test
    void thePapersLayerInInt8HoldsAtMostSeventeenMebibytesOfTables() {
        // bench's paper configuration: d 512, 128 tables × 256 rows, BH4 block 64 (one layer, random weights)
        int h = 512;
        long tables = 128, rows = 256;
        Map<String, Tensor> w = new LinkedHashMap<>();
        SplittableRandom rnd = new SplittableRandom(7);
        BiConsumer<String, long[]> put = (n, shape) -> {
            Tensor t = Tensor.allocate(DType.F32, shape);
            for (long i = 0; i < t.elementCount(); i++) t.setFloat(i, (float) rnd.nextGaussian() * 0.05f);
            w.put(n, t);
        };
        put.accept("embeddings.word_embeddings.weight", new long[] {10, h});
        put.accept("embeddings.position_embeddings.weight", new long[] {10, h});
        put.accept("embeddings.token_type_embeddings.weight", new long[] {1, h});
        for (String n : new String[] {"embeddings.LayerNorm", "encoder.LayerNorm", "encoder.layer.0.attention.LayerNorm",
                "encoder.layer.0.FFN.LayerNorm"}) {
            put.accept(n + ".weight", new long[] {h});
            put.accept(n + ".bias", new long[] {h});
        }
        for (String n : new String[] {"query", "key", "value", "dense"}) {
            put.accept("encoder.layer.0.attention." + n + ".weight", new long[] {h, h});
            put.accept("encoder.layer.0.attention." + n + ".bias", new long[] {h});
        }
        put.accept("encoder.layer.0.FFN.tables", new long[] {tables, rows, h});
        put.accept("encoder.layer.0.FFN.bias", new long[] {h});
        put.accept("encoder.layer.0.FFN.hash.projection.weight", new long[] {2, 4, h / 64, 64, 64}); // 1024 bits: R 2
        put.accept("encoder.layer.0.FFN.hash.projection.bias", new long[] {tables * 8});
        EncoderConfig cfg = new EncoderConfig(EncoderConfig.Norm.PRE, 10, h, 1, 8, 10, 1, 1, 2, 1e-5f,
                EncoderConfig.PRENORM_MASK_VALUE, "paper-layer");
        try (TransformerEncoder enc = TransformerEncoder.create(cfg, Weights.of("paper layer", w, java.util.Set.of()),
                TransformerEncoder.Options.DEFAULT.withLookupTableDType(DType.I8))) {
            long bytes = enc.lookupTableBytes();
            System.out.printf("the paper's layer with int8 tables: %d bytes (%.2f MiB) of tables and scales%n", bytes,
                    bytes / (double) (1 << 20));
            assertTrue(bytes <= 17L << 20, "int8 tables of the paper's layer: " + bytes + " bytes");
            assertTrue(bytes >= tables * rows * h, "at least one byte per table value: " + bytes);
            assertEquals(DType.I8, enc.lookupTableDType(0));
        } finally {
            w.values().forEach(Tensor::close);
        }
    }

    @Test
    void int8TablesDoNotBecomeBf16() {
        Path int8 = convert(dir.resolve("int8.safetensors"), DType.I8);
        try (ModelSource src = ModelSource.open(int8, null)) {
            ShapeException e = assertThrows(ShapeException.class,
                    () -> src.build(TransformerEncoder.Options.DEFAULT.withLookupTableDType(DType.BF16)).close());
            assertTrue(e.getMessage().contains(T0) && e.getMessage().contains("int8"), e.getMessage());
        }
    }

    @Test
    void aModelWithoutLookupFfnLayersHasNoTables() {
        try (Encoder minilm = Encoder.loadDefault()) {
            assertNull(minilm.model().lookupTableDType(0));
            assertEquals(0, minilm.model().lookupTableBytes());
        }
    }

    // ------------------------------------------------------------------------------------------------ hostile files

    /** What to do to a valid int8 file's tensors and metadata to make it lie. */
    interface Damage {
        void apply(Map<String, Tensor> tensors, Map<String, String> metadata, Arena arena);
    }

    static Tensor floats(Arena arena, float value, long... shape) {
        Tensor t = Tensor.allocate(arena, DType.F32, shape);
        for (long i = 0; i < t.elementCount(); i++) t.setFloat(i, value);
        return t;
    }

    static Stream<Arguments> hostileFiles() {
        return Stream.of(
                Arguments.of("scales one column too wide", S0, (Damage) (t, m, a) -> t.put(S0, floats(a, 0.01f, 16, 64, 3))),
                Arguments.of("scales for half the rows", S0, (Damage) (t, m, a) -> t.put(S0, floats(a, 0.01f, 16, 32, 2))),
                Arguments.of("scales as F16", S0, (Damage) (t, m, a) -> t.put(S0, Tensor.allocate(a, DType.F16, 16, 64, 2))),
                Arguments.of("no scales", S0, (Damage) (t, m, a) -> t.remove(S0)),
                Arguments.of("a NaN scale", S0, (Damage) (t, m, a) -> t.get(S0).setFloat(77, Float.NaN)),
                Arguments.of("an infinite scale", S0, (Damage) (t, m, a) -> t.get(S0).setFloat(0, Float.POSITIVE_INFINITY)),
                Arguments.of("a negative scale", S0, (Damage) (t, m, a) -> t.get(S0).setFloat(2047, -0.5f)),
                Arguments.of("int8 tables of rank 2", T0, (Damage) (t, m, a) -> t.put(T0, Tensor.allocate(a, DType.I8, 1024, 128))),
                Arguments.of("metadata says f32", T0, (Damage) (t, m, a) -> m.put("lookupffn_tables_dtype", "f32")),
                Arguments.of("metadata says bf16", T0, (Damage) (t, m, a) -> m.put("lookupffn_tables_dtype", "bf16")),
                Arguments.of("metadata names no dtype", "lookupffn_tables_dtype",
                        (Damage) (t, m, a) -> m.put("lookupffn_tables_dtype", "int4")),
                Arguments.of("fp32 tables beside scales", S0, (Damage) (t, m, a) -> {
                    t.put(T0, floats(a, 0.1f, 16, 64, 128));
                    m.remove("lookupffn_tables_dtype");
                }),
                Arguments.of("metadata says int8 of fp32 tables", T0, (Damage) (t, m, a) -> {
                    t.put(T0, floats(a, 0.1f, 16, 64, 128));
                    t.remove(S0);
                }),
                Arguments.of("tables as I32", T0, (Damage) (t, m, a) -> {
                    t.put(T0, Tensor.allocate(a, DType.I32, 16, 64, 128));
                    t.remove(S0);
                    m.remove("lookupffn_tables_dtype");
                }));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("hostileFiles")
    void aConvertedFileThatLiesIsAFormatErrorNamingTheTensor(String what, String named, Damage damage) {
        Path valid = convert(dir.resolve("int8.safetensors"), DType.I8), bad = dir.resolve("bad.safetensors");
        try (SafetensorsFile st = SafetensorsFile.open(valid); Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (String n : st.names()) {
                Tensor copy = Tensor.allocate(arena, st.tensor(n).dtype(), st.tensor(n).shape());
                copy.segment().copyFrom(st.tensor(n).segment());
                tensors.put(n, copy);
            }
            Map<String, String> meta = new LinkedHashMap<>(st.metadata());
            damage.apply(tensors, meta, arena);
            SafetensorsWriter.write(bad, tensors, meta);
        }
        FormatException e = assertThrows(FormatException.class, () -> Encoder.fromSafetensors(bad, null).close());
        assertTrue(e.getMessage().contains("'" + named + "'") || e.getMessage().contains(named + " "), what + ": " + e.getMessage());
        assertTrue(e.getMessage().contains(bad.toString()), e.getMessage());
    }

    @Test
    void theUnconvertedFixtureHasNoDtypeAndLoadsAsBefore() {
        try (SafetensorsFile st = SafetensorsFile.open(FIXTURE)) {
            assertNull(st.metadata().get("lookupffn_tables_dtype"));
        }
        Path f32 = convert(dir.resolve("f32.safetensors"), DType.F32);
        try (SafetensorsFile st = SafetensorsFile.open(f32)) {
            assertEquals("f32", st.metadata().get("lookupffn_tables_dtype"));
            assertEquals(DType.F32, st.tensor(T0).dtype());
        }
        try (TransformerEncoder a = Encoder.fromSafetensors(FIXTURE, null); TransformerEncoder b = Encoder.fromSafetensors(f32, null)) {
            assertArrayEquals(run(a), run(b));
        }
    }
}
