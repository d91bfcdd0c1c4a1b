package dev.lookupffn.layer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.LookupFfnException.NativeException;
import dev.lookupffn.LookupFfnException.ShapeException;
import dev.lookupffn.ffi.Isa;
import dev.lookupffn.ffi.IsaSupport;
import dev.lookupffn.ffi.Kernels;
import dev.lookupffn.ffi.Reference;
import dev.lookupffn.safetensors.SafetensorsFile;
import dev.lookupffn.safetensors.SafetensorsWriter;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * int8 tables (issue 16): the layer within 1e-2 relative error of fp32 with identical codes, on the fixtures and on
 * random layers, on every ISA; the kernels against a pure-Java float64 oracle of the dequantized gather; loading
 * compact checkpoints (I8 + scales, BF16) and what each combination of file and options does.
 */
class Int8TablesTest {
    static final double MAX_INT8_REL_ERR = 1e-2;
    static final Path FIXTURES = Path.of("tests/resources/fixtures");
    static final LookupFfn.Options I8 = LookupFfn.Options.DEFAULT.withTableDType(DType.I8);

    @AfterEach
    void restoreIsa() {
        Kernels.setMaxIsa(Kernels.cpuIsa());
    }

    // ---- the float64 oracle ----

    /** Quantized tables as lffn_tables_quantize_i8 writes them: q [rows, o], scale [rows, ceil(o/64)]. */
    record Quantized(byte[] q, float[] scale, int rows, int o) {
        int chunks() {
            return (o + 63) / 64;
        }

        double value(int row, int col) {
            return (double) q[row * o + col] * scale[row * chunks() + col / 64];
        }
    }

    static Quantized quantize(Tensor tables) {
        int rows = (int) (tables.dim(0) * tables.dim(1)), o = (int) tables.dim(2), chunks = (o + 63) / 64;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment q = a.allocate((long) rows * o, 64), s = a.allocate((long) rows * chunks * 4, 64);
            Kernels.tablesQuantizeI8(tables.dim(0), Long.numberOfTrailingZeros(tables.dim(1)), o, tables.segment(), q, s);
            return new Quantized(q.toArray(ValueLayout.JAVA_BYTE), s.toArray(ValueLayout.JAVA_FLOAT), rows, o);
        }
    }

    /** out[r, :] = Σ_k score[r, k] · scale · q of row (k, code[r, k]) + bias, in float64. */
    static double[] gatherF64(Quantized t, int tau, int[] code, float[] score, float[] bias, int batch, int h) {
        double[] out = new double[batch * t.o()];
        for (int r = 0; r < batch; r++)
            for (int c = 0; c < t.o(); c++) {
                double acc = bias[c];
                for (int k = 0; k < h; k++) acc += (double) score[r * h + k] * t.value((k << tau) + code[r * h + k], c);
                out[r * t.o() + c] = acc;
            }
        return out;
    }

    @Test
    void quantizationFollowsTheRulesInFloat64() {
        Random rnd = new Random(11);
        try (Tensor tables = Reference.gaussian(rnd, 1, 0, 3, 16, 150)) {
            tables.setFloat(5 * 150 + 70, 1e6f); // one outlier: its chunk's scale, no other chunk's
            for (int c = 0; c < 64; c++) tables.setFloat(7 * 150 + c, 0f); // an all-zero chunk
            Quantized t = quantize(tables);
            float[] x = tables.toFloatArray();
            for (int row = 0; row < t.rows(); row++)
                for (int ch = 0; ch < t.chunks(); ch++) {
                    double max = 0;
                    for (int c = ch * 64; c < Math.min(t.o(), ch * 64 + 64); c++) max = Math.max(max, Math.abs(x[row * 150 + c]));
                    double scale = t.scale()[row * t.chunks() + ch];
                    assertEquals(max / 127, scale, 1e-6 * max / 127, "scale of row " + row + " chunk " + ch);
                    for (int c = ch * 64; c < Math.min(t.o(), ch * 64 + 64); c++) {
                        int q = t.q()[row * 150 + c];
                        assertTrue(q >= -127 && q <= 127);
                        if (scale == 0) assertEquals(0, q);
                        else assertTrue(Math.abs(x[row * 150 + c] / scale - q) <= 0.5 + 1e-5,
                                "q of (" + row + ", " + c + "): " + q + " for " + x[row * 150 + c] / scale);
                    }
                }
            assertEquals(0f, t.scale()[7 * t.chunks()]);
        }
    }

    @Test
    void nonFiniteTablesAreRejectedWhenQuantized() {
        Random rnd = new Random(12);
        Case c = new Case("nan", 64, 32, 4, 3, 16, false, 1);
        Map<String, Tensor> params = LookupFfnTest.randomParams(rnd, asTestCase(c));
        try {
            params.get("tables").setFloat(17, Float.NaN);
            var e = assertThrows(NativeException.class, () -> LookupFfn.fromTensors(params::get, "nan", I8));
            assertTrue(e.getMessage().contains("finite"), e.getMessage());
            // f32 and bf16 keep the NaN (the layer propagates it, as before)
            LookupFfn.fromTensors(params::get, "nan", LookupFfn.Options.DEFAULT).close();
        } finally {
            params.values().forEach(Tensor::close);
        }
    }

    // ---- layers ----

    record Case(String name, int d, int o, int h, int tau, int block, boolean dense, int batch) {
        @Override
        public String toString() {
            return name;
        }
    }

    static LookupFfnTest.Case asTestCase(Case c) {
        return new LookupFfnTest.Case(c.name(), c.d(), c.o(), c.h(), c.tau(), c.block(), c.dense(), c.batch());
    }

    /** d 200–1024, τ 1–12, h 1–256 (BH4 and dense projections, column tails, one and many rows). */
    static Stream<Case> cases() {
        return Stream.of(
                new Case("d200 o200 h256 tau1 b8 B33", 200, 200, 256, 1, 8, false, 33),
                new Case("d1024 o130 h1 tau12 b64 B65", 1024, 130, 1, 12, 64, false, 65),
                new Case("d512 o512 h128 tau8 b64 B40 (paper layer)", 512, 512, 128, 8, 64, false, 40),
                new Case("d300 o77 h37 tau5 b32 B1", 300, 77, 37, 5, 32, false, 1),
                new Case("d640 o640 h200 tau4 b128 B9 (R=2)", 640, 640, 200, 4, 128, false, 9),
                new Case("dense d256 o100 h64 tau6 B17", 256, 100, 64, 6, 0, true, 17));
    }

    static Stream<Arguments> casesOnEveryIsa() {
        return cases().flatMap(c -> Stream.of(Isa.values()).map(isa -> Arguments.of(c, isa)));
    }

    /**
     * int8 against fp32 (≤ 1e-2 relative, same codes: the projection stays fp32), and against the float64 oracle of
     * the dequantized gather at the codes and scores the traced layer used (≤ 1e-5: only fp32 rounding remains; the
     * C tests judge the fused kernel's int8 gather against float64 too).
     */
    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("casesOnEveryIsa")
    void int8LayerStaysWithinOnePercentOfF32WithTheSameCodes(Case c, Isa isa) {
        IsaSupport.assumeSupported(isa);
        Kernels.setMaxIsa(isa);
        Random rnd = new Random(c.name().hashCode());
        Map<String, Tensor> params = LookupFfnTest.randomParams(rnd, asTestCase(c));
        try (LookupFfn f32 = LookupFfn.fromTensors(params::get, "f32", LookupFfn.Options.DEFAULT);
             LookupFfn i8 = LookupFfn.fromTensors(params::get, "i8", I8);
             Tensor x = LookupFfnTest.randomInput(rnd, c.batch(), c.d());
             Tensor a = f32.forward(x); Tensor b = i8.forward(x);
             LookupFfn.Trace ta = f32.trace(x); LookupFfn.Trace tb = i8.trace(x)) {
            assertEquals(DType.I8, i8.config().tableDType());
            assertArrayEquals(LookupFfnTest.ints(ta.code()), LookupFfnTest.ints(tb.code()), "codes");
            double err = Reference.relativeError(b.toFloatArray(), a.toFloatArray());
            assertTrue(err <= MAX_INT8_REL_ERR && err > 0, c + " on " + isa + ": int8 vs f32 relative error " + err);
            double[] want = gatherF64(quantize(params.get("tables")), c.tau(), LookupFfnTest.ints(tb.code()),
                    tb.score().toFloatArray(), params.get("bias").toFloatArray(), c.batch(), c.h());
            double oracle = Reference.relativeError(tb.out().toFloatArray(), want);
            assertTrue(oracle <= 1e-5, c + " on " + isa + ": traced int8 gather vs float64 oracle " + oracle);
        } finally {
            params.values().forEach(Tensor::close);
        }
    }

    static Stream<Arguments> fixturesOnEveryIsa() {
        return Stream.of("lookupffn-bh4-small.safetensors", "lookupffn-dense-small.safetensors")
                .flatMap(f -> Stream.of(Isa.values()).map(isa -> Arguments.of(f, isa)));
    }

    @ParameterizedTest
    @MethodSource("fixturesOnEveryIsa")
    void int8FixturesStayWithinOnePercentWithTheFixtureCodes(String fixture, Isa isa) {
        IsaSupport.assumeSupported(isa);
        Kernels.setMaxIsa(isa);
        try (SafetensorsFile f = SafetensorsFile.open(FIXTURES.resolve(fixture));
             LookupFfn layer = LookupFfn.load(f, "", I8);
             LookupFfn.Trace t = layer.trace(f.tensor("input"));
             Tensor out = layer.forward(f.tensor("input"))) {
            assertArrayEquals(f.ints("code"), LookupFfnTest.ints(t.code()), "codes");
            double err = Reference.relativeError(out.toFloatArray(), f.floats("output"));
            assertTrue(err <= MAX_INT8_REL_ERR && err > 0, fixture + " on " + isa + ": int8 vs fixture output " + err);
            assertTrue(Reference.relativeError(t.out().toFloatArray(), f.floats("output")) <= MAX_INT8_REL_ERR);
        }
    }

    @Test
    void int8TablesOfThePaperLayerTakeSeventeenMiB() {
        Random rnd = new Random(13);
        Case c = new Case("paper", 512, 512, 128, 8, 64, false, 1);
        Map<String, Tensor> params = LookupFfnTest.randomParams(rnd, asTestCase(c));
        try (LookupFfn f32 = LookupFfn.fromTensors(params::get, "f32", LookupFfn.Options.DEFAULT);
             LookupFfn bf16 = LookupFfn.fromTensors(params::get, "bf16", LookupFfn.Options.DEFAULT.withTableDType(DType.BF16));
             LookupFfn i8 = LookupFfn.fromTensors(params::get, "i8", I8)) {
            assertEquals(64L << 20, f32.tableBytes());
            assertEquals(32L << 20, bf16.tableBytes());
            assertEquals(17L << 20, i8.tableBytes()); // 16 MiB of int8 + 1 MiB of fp32 scales
        } finally {
            params.values().forEach(Tensor::close);
        }
    }

    @Test
    void concurrentCallsOnAnInt8LayerGiveTheSameRows() throws Exception {
        Random rnd = new Random(14);
        Case c = new Case("threads", 256, 192, 32, 8, 32, false, 97);
        Map<String, Tensor> params = LookupFfnTest.randomParams(rnd, asTestCase(c));
        try (LookupFfn layer = LookupFfn.fromTensors(params::get, "i8", I8);
             Tensor x = LookupFfnTest.randomInput(rnd, c.batch(), c.d()); Tensor want = layer.forward(x);
             ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            float[] w = want.toFloatArray();
            List<Future<float[]>> results = new ArrayList<>();
            for (int i = 0; i < 32; i++)
                results.add(pool.submit(() -> {
                    try (Tensor y = layer.forward(x)) {
                        return y.toFloatArray();
                    }
                }));
            for (Future<float[]> r : results) assertArrayEquals(w, r.get());
        } finally {
            params.values().forEach(Tensor::close);
        }
    }

    // ---- compact checkpoints ----

    /** The random layer's parameters with its tables stored compact: I8 + tables_scale, or BF16. */
    static Map<String, Tensor> compact(Map<String, Tensor> params, DType dtype, boolean flatScale) {
        Map<String, Tensor> m = new HashMap<>(params);
        Tensor tab = params.get("tables");
        long h = tab.dim(0), rows = tab.dim(1), o = tab.dim(2);
        if (dtype == DType.I8) {
            Quantized q = quantize(tab);
            Tensor qt = Tensor.allocate(DType.I8, h, rows, o);
            MemorySegment.copy(q.q(), 0, qt.segment(), ValueLayout.JAVA_BYTE, 0, q.q().length);
            Tensor st = flatScale ? Tensor.allocate(DType.F32, h * rows, q.chunks()) : Tensor.allocate(DType.F32, h, rows, q.chunks());
            MemorySegment.copy(q.scale(), 0, st.segment(), ValueLayout.JAVA_FLOAT, 0, q.scale().length);
            m.put("tables", qt);
            m.put("tables_scale", st);
        } else {
            Tensor bt = Tensor.allocate(DType.BF16, h, rows, o);
            try (Arena a = Arena.ofConfined()) {
                MemorySegment bits = a.allocate(tab.elementCount() * 2, 64);
                Kernels.convertF32ToBf16(tab.elementCount(), tab.segment(), bits);
                MemorySegment.copy(bits, 0, bt.segment(), 0, bits.byteSize());
            }
            m.put("tables", bt);
        }
        return m;
    }

    @Test
    void compactCheckpointsLoadWithoutConversionAndMatchTheLayerQuantizedAtLoad(@TempDir Path dir) throws IOException {
        Random rnd = new Random(15);
        Case c = new Case("compact", 256, 200, 24, 6, 32, false, 21);
        Map<String, Tensor> params = LookupFfnTest.randomParams(rnd, asTestCase(c));
        Map<String, Tensor> i8 = compact(params, DType.I8, false), i8flat = compact(params, DType.I8, true);
        Map<String, Tensor> bf16 = compact(params, DType.BF16, false);
        Path i8File = dir.resolve("i8.safetensors"), bf16File = dir.resolve("bf16.safetensors");
        SafetensorsWriter.write(i8File, i8, Map.of());
        SafetensorsWriter.write(bf16File, bf16, Map.of());
        try (Tensor x = LookupFfnTest.randomInput(rnd, c.batch(), c.d());
             LookupFfn atLoad = LookupFfn.fromTensors(params::get, "quantized at load", I8);
             LookupFfn fromFlat = LookupFfn.fromTensors(i8flat::get, "flat scales", I8);
             LookupFfn bf16AtLoad = LookupFfn.fromTensors(params::get, "bf16 at load", LookupFfn.Options.DEFAULT.withTableDType(DType.BF16));
             SafetensorsFile fi = SafetensorsFile.open(i8File); SafetensorsFile fb = SafetensorsFile.open(bf16File);
             LookupFfn fromI8 = LookupFfn.load(fi, "", I8);
             LookupFfn fromBf16 = LookupFfn.load(fb, "", LookupFfn.Options.DEFAULT.withTableDType(DType.BF16));
             LookupFfn bf16AsF32 = LookupFfn.load(fb, "", LookupFfn.Options.DEFAULT);
             LookupFfn bf16AsI8 = LookupFfn.load(fb, "", I8);
             Tensor want = atLoad.forward(x); Tensor wantBf16 = bf16AtLoad.forward(x)) {
            assertArrayEquals(want.toFloatArray(), fromI8.forward(x).toFloatArray(), "I8 file");
            assertArrayEquals(want.toFloatArray(), fromFlat.forward(x).toFloatArray(), "I8 with [h·2^τ, chunks] scales");
            assertArrayEquals(wantBf16.toFloatArray(), fromBf16.forward(x).toFloatArray(), "BF16 file");
            assertEquals(atLoad.tableBytes(), fromI8.tableBytes());
            assertEquals(DType.F32, bf16AsF32.config().tableDType()); // exact widening: the bf16 values as f32
            assertTrue(Reference.relativeError(bf16AsF32.forward(x).toFloatArray(), wantBf16.toFloatArray()) <= 1e-5);
            assertEquals(DType.I8, bf16AsI8.config().tableDType()); // quantized at load from the bf16 values
            assertTrue(Reference.relativeError(bf16AsI8.forward(x).toFloatArray(), want.toFloatArray()) <= MAX_INT8_REL_ERR);
        } finally {
            params.values().forEach(Tensor::close);
            i8.get("tables").close();
            i8.get("tables_scale").close();
            i8flat.get("tables").close();
            i8flat.get("tables_scale").close();
            bf16.get("tables").close();
        }
    }

    @Test
    void int8TablesAskedForAsAnotherTypeOrWithoutScalesAreClearErrors() {
        Random rnd = new Random(16);
        Case c = new Case("errors", 64, 70, 4, 3, 16, false, 1);
        Map<String, Tensor> params = LookupFfnTest.randomParams(rnd, asTestCase(c));
        Map<String, Tensor> i8 = compact(params, DType.I8, false);
        try {
            for (DType other : List.of(DType.F32, DType.BF16)) {
                var e = assertThrows(ShapeException.class,
                        () -> LookupFfn.fromTensors(i8::get, "i8", LookupFfn.Options.DEFAULT.withTableDType(other)));
                assertTrue(e.getMessage().contains("int8") && e.getMessage().contains("I8"), e.getMessage());
            }
            Map<String, Tensor> noScale = new HashMap<>(i8);
            noScale.remove("tables_scale");
            var e = assertThrows(ShapeException.class, () -> LookupFfn.fromTensors(noScale::get, "no scale", I8));
            assertTrue(e.getMessage().contains("tables_scale"), e.getMessage());
            Map<String, Tensor> badScale = new HashMap<>(i8);
            try (Tensor wrong = Tensor.allocate(DType.F32, 4, 8, 1)) { // 70 columns need 2 scale columns
                badScale.put("tables_scale", wrong);
                e = assertThrows(ShapeException.class, () -> LookupFfn.fromTensors(badScale::get, "bad scale", I8));
                assertTrue(e.getMessage().contains("tables_scale") && e.getMessage().contains("[4, 8, 2]"), e.getMessage());
                Map<String, Tensor> strayScale = new HashMap<>(params);
                strayScale.put("tables_scale", wrong);
                e = assertThrows(ShapeException.class, () -> LookupFfn.fromTensors(strayScale::get, "stray", I8));
                assertTrue(e.getMessage().contains("only meaningful beside I8 tables"), e.getMessage());
            }
            try (Tensor negative = Tensor.allocate(DType.F32, 4, 8, 2)) {
                negative.setFloat(3, -1f);
                Map<String, Tensor> neg = new HashMap<>(i8);
                neg.put("tables_scale", negative);
                assertThrows(NativeException.class, () -> LookupFfn.fromTensors(neg::get, "negative scale", I8));
            }
        } finally {
            params.values().forEach(Tensor::close);
            i8.get("tables").close();
            i8.get("tables_scale").close();
        }
    }

    /** A compact file rewritten (emptied) after loading: the layer holds its own copy and keeps working. */
    @Test
    void anInt8LayerDoesNotDependOnItsFileAfterLoading(@TempDir Path dir) throws IOException {
        Random rnd = new Random(17);
        Case c = new Case("rewritten", 128, 64, 8, 4, 16, false, 5);
        Map<String, Tensor> params = LookupFfnTest.randomParams(rnd, asTestCase(c));
        Map<String, Tensor> i8 = compact(params, DType.I8, false);
        Path file = dir.resolve("i8.safetensors");
        SafetensorsWriter.write(file, i8, Map.of());
        try (Tensor x = LookupFfnTest.randomInput(rnd, c.batch(), c.d());
             SafetensorsFile f = SafetensorsFile.open(file, SafetensorsFile.OpenMode.MAP);
             LookupFfn layer = LookupFfn.load(f, "", I8); Tensor before = layer.forward(x)) {
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
                ch.truncate(0);
            }
            assertEquals(0, Files.size(file));
            try (Tensor after = layer.forward(x)) {
                assertArrayEquals(before.toFloatArray(), after.toFloatArray());
            }
        } finally {
            params.values().forEach(Tensor::close);
            i8.get("tables").close();
            i8.get("tables_scale").close();
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F16", "F64", "I32", "U8", "BOOL"})
    void onlyF32Bf16AndI8AreTableStorageTypes(DType d) {
        var e = assertThrows(ShapeException.class, () -> I8.withTableDType(d));
        assertTrue(e.getMessage().contains("F32, BF16 or I8"), e.getMessage());
    }
}
