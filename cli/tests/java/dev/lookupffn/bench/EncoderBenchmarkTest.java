package dev.lookupffn.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lookupffn.ffi.OneDnn;
import dev.lookupffn.cli.Main;
import dev.lookupffn.ffi.Reference;
import dev.lookupffn.model.TransformerEncoder;
import dev.lookupffn.model.TransformerEncoder.Stage;
import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.tensor.Tensor;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** {@code bench --encoder} at a tiny configuration (seconds): its JSON, its option checks and its four encoders. */
class EncoderBenchmarkTest {
    /** batch 3 × 16 tokens, hidden 64, 4 heads, 2 layers, dense FFN 256, 8 tables × 16 rows, block 16, 2 threads. */
    static final String[] TINY = {"--batch", "3", "--seq-len", "16", "--layers", "2", "--hidden", "64", "--heads", "4",
            "--ffn", "256", "--tables", "8", "--table-rows", "16", "--block", "16", "--threads", "2"};

    static EncoderBenchmark.Config tiny(Set<String> only) {
        return new EncoderBenchmark.Config(3, 16, 2, 64, 4, 256, 8, 4, 16, 2, 3, 1, "all", 42, only);
    }

    @TempDir
    Path dir;

    record Run(int code, String out, String err) {}

    static Run run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Run(code, out.toString(), err.toString());
    }

    static String[] concat(String[] a, String... b) {
        String[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    @Test
    void writesEveryRowWithItsFieldsAsJsonAndAChart() throws Exception {
        Path json = dir.resolve("encoder.json"), chart = dir.resolve("encoder.png");
        Run r = run(concat(concat(new String[] {"bench", "--encoder"}, TINY), "--repetitions", "3", "--warmup", "1",
                "--dtype", "all", "--no-progress", "--json", json.toString(), "--chart", chart.toString()));
        assertEquals(0, r.code(), r.err());
        JsonNode root = new ObjectMapper().readTree(json.toFile());
        assertEquals("encoder", root.get("benchmark").asText());
        JsonNode config = root.get("config");
        assertEquals(48, config.get("tokens").asLong());
        assertEquals(16, config.get("table_rows").asLong());
        assertEquals(16, config.get("head_size").asLong());
        List<String> want = new ArrayList<>(List.of("encoder-dense-own", "encoder-dense-onednn", "encoder-lookupffn",
                "encoder-lookupffn-bf16", "encoder-lookupffn-int8"));
        if (!OneDnn.available()) want.remove("encoder-dense-onednn");
        List<String> names = new ArrayList<>();
        root.get("rows").forEach(row -> names.add(row.get("name").asText()));
        assertEquals(want, names);

        // the reference is the faster dense row; every speedup is its median over the row's
        double fastestDense = Double.MAX_VALUE;
        String fastestName = null;
        for (JsonNode row : root.get("rows"))
            if (row.get("name").asText().startsWith("encoder-dense") && row.get("median_s").asDouble() < fastestDense) {
                fastestDense = row.get("median_s").asDouble();
                fastestName = row.get("name").asText();
            }
        assertEquals(fastestName, root.get("dense_reference").asText());
        for (JsonNode row : root.get("rows")) {
            String name = row.get("name").asText();
            double median = row.get("median_s").asDouble();
            assertEquals(name.endsWith("-bf16") ? "bf16" : name.endsWith("-int8") ? "int8" : "f32", row.get("dtype").asText());
            // one layer's tables as the encoder holds them: 8 tables × 16 rows × 64 columns (int8: + a scale per row)
            JsonNode tableBytes = row.get("table_bytes_per_layer");
            long values = 8 * 16 * 64;
            switch (name) {
                case "encoder-lookupffn" -> assertEquals(4 * values, tableBytes.asLong());
                case "encoder-lookupffn-bf16" -> assertEquals(2 * values, tableBytes.asLong());
                case "encoder-lookupffn-int8" -> assertEquals(values + 8 * 16 * 4, tableBytes.asLong());
                default -> assertTrue(tableBytes.isNull(), name + ": " + tableBytes);
            }
            assertEquals(3, row.get("seconds").size(), name);
            assertTrue(row.get("min_s").asDouble() <= median && median <= row.get("max_s").asDouble(), name);
            assertEquals(48 / median, row.get("tokens_per_s").asDouble(), 1e-9 * 48 / median, name);
            assertEquals(fastestDense / median, row.get("speedup_vs_dense").asDouble(), 1e-12, name);
            double share = row.get("ffn_share").asDouble();
            assertTrue(share > 0 && share < 1, name + ": FFN share " + share);
            JsonNode stages = row.get("stages_s");
            Set<String> stageNames = new HashSet<>();
            stages.fieldNames().forEachRemaining(stageNames::add);
            assertEquals(Set.of("embeddings", "qkv", "attention", "attention_output", "ffn", "final_norm"), stageNames);
            for (JsonNode s : stages) assertTrue(s.asDouble() > 0, name + " " + stages);
            assertTrue(row.get("profiled_median_s").asDouble() > 0, name);
        }
        byte[] png = Files.readAllBytes(chart);
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, Arrays.copyOf(png, 4));
        assertTrue(r.out().contains("encoder-lookupffn-bf16") && r.out().contains("FFN share"), r.out());
        assertTrue(r.out().contains("encoder-lookupffn-int8") && r.out().contains("tables/layer")
                && r.out().contains(String.format("%.2f MiB", (8 * 16 * 64 + 8 * 16 * 4) / (double) (1 << 20))), r.out());
    }

    static Stream<Arguments> badOptions() {
        return Stream.of(
                Arguments.of(new String[] {"--batch", "0"}, "--batch"),
                Arguments.of(new String[] {"--batch", "10000"}, "--batch"), // 10000 × 128 tokens > 2^20
                Arguments.of(new String[] {"--seq-len", "0"}, "--seq-len"),
                Arguments.of(new String[] {"--seq-len", "9000"}, "--seq-len"),
                Arguments.of(new String[] {"--layers", "0"}, "--layers"),
                Arguments.of(new String[] {"--hidden", "0"}, "--hidden"),
                Arguments.of(new String[] {"--heads", "0"}, "--heads"),
                Arguments.of(new String[] {"--heads", "7"}, "--heads"),
                Arguments.of(new String[] {"--ffn", "0"}, "--ffn"),
                Arguments.of(new String[] {"--tables", "0"}, "--tables"),
                Arguments.of(new String[] {"--table-rows", "100"}, "--table-rows"),
                Arguments.of(new String[] {"--table-rows", "131072"}, "--table-rows"),
                Arguments.of(new String[] {"--block", "0"}, "--block"),
                Arguments.of(new String[] {"--block", "48"}, "--block"),
                Arguments.of(new String[] {"--threads", "0"}, "--threads"),
                Arguments.of(new String[] {"--repetitions", "0"}, "--repetitions"),
                Arguments.of(new String[] {"--warmup", "-1"}, "--warmup"),
                Arguments.of(new String[] {"--dtype", "f16"}, "--dtype"),
                Arguments.of(new String[] {"--only", "encoder-nope"}, "--only"),
                Arguments.of(new String[] {"--only", "encoder-lookupffn", "--dtype", "bf16"}, "--only"),
                Arguments.of(new String[] {"--tokens", "4096"}, "--tokens"),
                Arguments.of(new String[] {"--dim", "256"}, "--dim"),
                Arguments.of(new String[] {"--scaling"}, "--scaling"),
                Arguments.of(new String[] {"--kernels"}, "--kernels"),
                Arguments.of(new String[] {"--hidden", "40000", "--heads", "1", "--block", "64"}, "--hidden"),
                Arguments.of(new String[] {"--batch", "abc"}, "--batch"));
    }

    @ParameterizedTest(name = "{1}: {0}")
    @MethodSource("badOptions")
    void badOptionsExit2NamingTheOption(String[] args, String option) {
        Run r = run(concat(new String[] {"bench", "--encoder", "--no-progress"}, args));
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains(option), r.err());
    }

    @Test
    void onlyTakesShortNamesToo() throws Exception {
        Path json = dir.resolve("short.json");
        Run r = run(concat(concat(new String[] {"bench", "--encoder"}, TINY), "--repetitions", "1", "--warmup", "0",
                "--only", "lookupffn,encoder-dense-own", "--no-progress", "--json", json.toString()));
        assertEquals(0, r.code(), r.err());
        List<String> names = new ArrayList<>();
        new ObjectMapper().readTree(json.toFile()).get("rows").forEach(row -> names.add(row.get("name").asText()));
        assertEquals(List.of("encoder-dense-own", "encoder-lookupffn"), names);
    }

    @Test
    void encoderOptionsWithoutEncoderExit2() {
        for (String o : List.of("--batch", "--seq-len", "--layers", "--hidden", "--heads")) {
            Run r = run("bench", "--no-progress", o, "8");
            assertEquals(2, r.code(), r.err());
            assertTrue(r.err().contains(o) && r.err().contains("--encoder"), r.err());
        }
    }

    static float[] forward(TransformerEncoder enc, EncoderBenchmark.Encoders built, WorkerPool pool,
                           TransformerEncoder.StageTimer timer) {
        try (Tensor out = Tensor.allocate(dev.lookupffn.tensor.DType.F32, built.batch().rows(), enc.config().hidden())) {
            enc.forward(built.batch(), out, pool, timer);
            return out.toFloatArray();
        }
    }

    @Test
    void theOneDnnPlugInComputesTheEncodersOwnDenseFfn() {
        Assumptions.assumeTrue(OneDnn.available(), "oneDNN baseline not built");
        try (WorkerPool pool = WorkerPool.create(2);
             var built = EncoderBenchmark.Encoders.build(tiny(Set.of("encoder-dense-own", "encoder-dense-onednn")))) {
            var enc = built.encoders();
            assertEquals(TransformerEncoder.FfnKind.DENSE, enc.get("encoder-dense-own").ffnKind(1));
            assertEquals(TransformerEncoder.FfnKind.EXTERNAL, enc.get("encoder-dense-onednn").ffnKind(1));
            float[] own = forward(enc.get("encoder-dense-own"), built, pool, null);
            float[] dnn = forward(enc.get("encoder-dense-onednn"), built, pool, null);
            double err = Reference.relativeError(dnn, own);
            assertTrue(err <= 1e-4, "oneDNN vs own dense encoder: relative error " + err);
        }
    }

    @Test
    void everyVariantIsSaneAndTheLookupVariantsAgree() {
        try (WorkerPool pool = WorkerPool.create(2); var built = EncoderBenchmark.Encoders.build(tiny(Set.of()))) {
            Map<String, float[]> outs = new java.util.LinkedHashMap<>();
            built.encoders().forEach((name, e) -> outs.put(name, forward(e, built, pool, null)));
            for (var e : outs.entrySet()) {
                float[] y = e.getValue();
                for (float v : y) assertTrue(Float.isFinite(v), e.getKey());
                // after the final LayerNorm (weights near 1) every row has a spread of order 1
                double sq = 0;
                for (int k = 0; k < 64; k++) sq += y[k] * (double) y[k];
                assertTrue(sq / 64 > 0.1 && sq / 64 < 10, e.getKey() + ": mean square of row 0 " + sq / 64);
            }
            double bf16 = Reference.relativeError(outs.get("encoder-lookupffn-bf16"), outs.get("encoder-lookupffn"));
            assertTrue(bf16 > 0 && bf16 <= 1e-2, "bf16 vs fp32 tables: relative error " + bf16);
            double int8 = Reference.relativeError(outs.get("encoder-lookupffn-int8"), outs.get("encoder-lookupffn"));
            assertTrue(int8 > 0 && int8 <= 1e-2, "int8 vs fp32 tables: relative error " + int8);
            assertEquals(dev.lookupffn.tensor.DType.I8, built.encoders().get("encoder-lookupffn-int8").lookupTableDType(1));
            // the FFN matters: a LookupFFN encoder is not the dense one
            assertTrue(Reference.relativeError(outs.get("encoder-lookupffn"), outs.get("encoder-dense-own")) > 0.05);
        }
    }

    @Test
    void eachCandidateGetsTheSameWeightsWhicheverOthersRun() {
        try (WorkerPool pool = WorkerPool.create(2);
             var all = EncoderBenchmark.Encoders.build(tiny(Set.of()));
             var lookupOnly = EncoderBenchmark.Encoders.build(tiny(Set.of("encoder-lookupffn")));
             var denseOnly = EncoderBenchmark.Encoders.build(tiny(Set.of("encoder-dense-own")))) {
            assertEquals(Set.of("encoder-lookupffn"), lookupOnly.encoders().keySet());
            assertArrayEquals(forward(all.encoders().get("encoder-lookupffn"), all, pool, null),
                    forward(lookupOnly.encoders().get("encoder-lookupffn"), lookupOnly, pool, null));
            assertArrayEquals(forward(all.encoders().get("encoder-dense-own"), all, pool, null),
                    forward(denseOnly.encoders().get("encoder-dense-own"), denseOnly, pool, null));
            assertArrayEquals(all.batch().inputIds(), lookupOnly.batch().inputIds());
        }
    }

    @Test
    void aProfiledCallComputesTheSameOutputAndReportsEveryStage() {
        try (WorkerPool pool = WorkerPool.create(2); var built = EncoderBenchmark.Encoders.build(tiny(Set.of()))) {
            for (var e : built.encoders().entrySet()) {
                long[] count = new long[Stage.values().length], nanos = new long[Stage.values().length];
                float[] plain = forward(e.getValue(), built, pool, null);
                float[] profiled = forward(e.getValue(), built, pool, (stage, ns) -> {
                    count[stage.ordinal()]++;
                    nanos[stage.ordinal()] += ns;
                });
                assertArrayEquals(plain, profiled, e.getKey());
                assertArrayEquals(new long[] {1, 2, 2, 2, 2, 1}, count, e.getKey());
                for (long ns : nanos) assertTrue(ns > 0, e.getKey() + ": " + Arrays.toString(nanos));
            }
        }
    }

    @Test
    void resultRowsFromTheLibraryApi() {
        var c = tiny(Set.of("encoder-lookupffn", "encoder-dense-own"));
        int[] steps = {0};
        var result = EncoderBenchmark.run(c, s -> steps[0] += s);
        assertEquals(EncoderBenchmark.steps(c), steps[0]);
        assertEquals((1 + 3) * 2 * 2, steps[0]);
        assertEquals("encoder-dense-own", result.denseReference());
        assertEquals(1.0, result.row("encoder-dense-own").speedupVsDense(), 0);
        assertNotEquals(null, result.row("encoder-lookupffn"));
        assertFalse(result.rows().stream().anyMatch(r -> r.name().equals("encoder-lookupffn-bf16")));
    }

    @Test
    void dtypeInt8AddsOnlyTheInt8LookupRow() {
        var c = new EncoderBenchmark.Config(3, 16, 2, 64, 4, 256, 8, 4, 16, 2, 1, 0, "int8", 42, Set.of());
        List<String> want = new ArrayList<>(List.of("encoder-dense-own", "encoder-dense-onednn", "encoder-lookupffn-int8"));
        if (!OneDnn.available()) want.remove("encoder-dense-onednn");
        assertEquals(want, EncoderBenchmark.candidates(c));
        var result = EncoderBenchmark.run(c, s -> {});
        assertEquals("int8", result.row("encoder-lookupffn-int8").dtype());
        assertEquals(8 * 16 * 64 + 8 * 16 * 4, result.row("encoder-lookupffn-int8").tableBytesPerLayer());
        assertEquals(0, result.row("encoder-dense-own").tableBytesPerLayer());
    }
}
