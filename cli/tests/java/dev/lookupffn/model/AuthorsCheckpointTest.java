package dev.lookupffn.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.LookupFfnException.FormatException;
import dev.lookupffn.cli.Main;
import dev.lookupffn.pytorch.TorchCheckpoint;
import dev.lookupffn.safetensors.SafetensorsFile;
import dev.lookupffn.tensor.Tensor;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Checkpoints written by the authors' own training code (tests/resources/fixtures/authors-checkpoints: BH4 with two
 * repeats, and a dense projection with three layers) run through {@code forward} and match the authors' model's
 * float64 sequence_output and mlm_logits through every way in: .ckpt with config.json beside it, a folder with
 * config.json + pytorch_model.bin, .ckpt with --config the training file, and the file convert wrote.
 */
class AuthorsCheckpointTest {
    static final Path ROOT = Path.of("tests/resources/fixtures/authors-checkpoints");
    /** Worst per-token relative error at positions whose mask is 1 (the acceptance bound). */
    static final double MAX_TOKEN_REL_ERR = 1e-5;

    static Stream<Arguments> waysIn() {
        List<Arguments> out = new ArrayList<>();
        for (String model : List.of("pub-bh4r2", "pub-dense"))
            for (String way : List.of("ckpt+config.json", "folder", "ckpt+training-config", "converted"))
                out.add(Arguments.of(model, way));
        return out.stream();
    }

    static String[] cli(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new String[] {String.valueOf(code), out.toString(), err.toString()};
    }

    @ParameterizedTest(name = "{0} via {1}")
    @MethodSource("waysIn")
    void forwardMatchesTheTrainingCodesFloat64Outputs(String model, String way, @TempDir Path tmp) throws Exception {
        Path dir = ROOT.resolve(model), expected = dir.resolve("expected.safetensors"), out = tmp.resolve("out.safetensors");
        List<String> args = new ArrayList<>(List.of("forward", "--input", expected.toString(), "--output", out.toString(),
                "--threads", "2"));
        switch (way) {
            case "ckpt+config.json" -> args.addAll(List.of("--model", dir.resolve("last.ckpt").toString()));
            case "folder" -> args.addAll(List.of("--model", dir.toString()));
            case "ckpt+training-config" -> {
                Path alone = Files.copy(dir.resolve("last.ckpt"), tmp.resolve("last.ckpt")); // no config.json beside it
                args.addAll(List.of("--model", alone.toString(), "--config", dir.resolve("training-config.py").toString()));
            }
            case "converted" -> {
                Path alone = Files.copy(dir.resolve("last.ckpt"), tmp.resolve("last.ckpt"));
                Path converted = Files.createDirectory(tmp.resolve("sub")).resolve("model.safetensors"); // no config.json beside it
                String[] r = cli("convert", "--model", alone.toString(), "--config", dir.resolve("training-config.py").toString(),
                        "--output", converted.toString());
                assertEquals("0", r[0], r[2]);
                args.addAll(List.of("--model", converted.toString()));
            }
            default -> throw new IllegalArgumentException(way);
        }
        String[] r = cli(args.toArray(String[]::new));
        assertEquals("0", r[0], r[2]);
        try (SafetensorsFile want = SafetensorsFile.open(expected); SafetensorsFile got = SafetensorsFile.open(out)) {
            int[] mask = want.ints("attention_mask");
            for (String name : List.of("sequence_output", "mlm_logits")) {
                assertEquals(List.of(want.entry(name).shape()[0], want.entry(name).shape()[1], want.entry(name).shape()[2]),
                        List.of(got.entry(name).shape()[0], got.entry(name).shape()[1], got.entry(name).shape()[2]), name);
                double err = worstTokenError(got.tensor(name), want.tensor(name), mask);
                System.out.printf("%s via %s: %s worst token relative error %.2e%n", model, way, name, err);
                assertTrue(err <= MAX_TOKEN_REL_ERR, model + " via " + way + ": " + name + " worst token relative error " + err);
            }
        }
    }

    /** max over tokens with mask 1 of ‖got − want‖ / ‖want‖ over the token's row. */
    static double worstTokenError(Tensor got, Tensor want, int[] mask) {
        int width = (int) want.dim(-1);
        double worst = 0;
        for (int r = 0; r < mask.length; r++) {
            if (mask[r] == 0) continue;
            double num = 0, den = 0;
            for (int k = 0; k < width; k++) {
                long i = (long) r * width + k;
                double w = want.segment().getAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, i);
                double d = got.getFloat(i) - w;
                num += d * d;
                den += w * w;
            }
            worst = Math.max(worst, Math.sqrt(num / den));
        }
        return worst;
    }

    @Test
    void theApiLoadsACheckpointAndExposesTheMaskedLmHead() {
        Path dir = ROOT.resolve("pub-bh4r2");
        try (Encoder enc = Encoder.load(dir.resolve("last.ckpt"), Encoder.Options.DEFAULT.withThreads(2));
             SafetensorsFile want = SafetensorsFile.open(dir.resolve("expected.safetensors"))) {
            EncoderConfig c = enc.model().config();
            assertEquals(EncoderConfig.Norm.PRE, c.norm());
            assertEquals(64, c.hidden());
            assertEquals(2, c.heads());
            assertEquals(66, c.maxPositions());
            assertTrue(enc.hasMaskedLmHead());
            assertEquals(TransformerEncoder.FfnKind.LOOKUP, enc.model().ffnKind(1));
            int[] ids = want.ints("input_ids"), mask = want.ints("attention_mask"), types = want.ints("token_type_ids");
            try (Tensor seq = enc.forward(new Batch(2, 20, ids, mask, types)); Tensor logits = enc.maskedLmLogits(seq)) {
                assertTrue(worstTokenError(logits.reshape(2, 20, 200), want.tensor("mlm_logits"), mask) <= MAX_TOKEN_REL_ERR);
            }
        }
    }

    @Test
    void manyThreadsShareOneLoadedCheckpointModel() throws Exception {
        Path dir = ROOT.resolve("pub-bh4r2");
        try (Encoder enc = Encoder.load(dir.resolve("last.ckpt"), Encoder.Options.DEFAULT.withThreads(2));
             SafetensorsFile in = SafetensorsFile.open(dir.resolve("expected.safetensors"))) {
            Batch batch = new Batch(2, 20, in.ints("input_ids"), in.ints("attention_mask"), in.ints("token_type_ids"));
            float[] want;
            try (Tensor seq = enc.forward(batch); Tensor logits = enc.maskedLmLogits(seq)) {
                want = logits.toFloatArray();
            }
            List<java.util.concurrent.Future<float[]>> results = new ArrayList<>();
            try (var threads = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
                for (int i = 0; i < 32; i++)
                    results.add(threads.submit(() -> {
                        try (Tensor seq = enc.forward(batch); Tensor logits = enc.maskedLmLogits(seq)) {
                            return logits.toFloatArray();
                        }
                    }));
            }
            for (var r : results) org.junit.jupiter.api.Assertions.assertArrayEquals(want, r.get(), "same bits on every thread");
        }
    }

    @Test
    void aLightningCheckpointKeepsItsOptimizerStateUnread() {
        try (TorchCheckpoint ckpt = TorchCheckpoint.open(ROOT.resolve("pub-bh4r2/last.ckpt"))) {
            assertTrue(ckpt.isLightning());
            assertEquals("archive", ckpt.root());
            assertTrue(ckpt.topLevelKeys().contains("optimizer_states"));
            assertTrue(ckpt.contains("model.roberta.encoder.layer.1.FFN.tables"));
            assertFalse(ckpt.names().stream().anyMatch(n -> n.contains("exp_avg")), "only state_dict tensors are resolved");
            // lm_head.decoder.bias and lm_head.bias share one storage: one memory, not two copies
            assertEquals(ckpt.tensor("model.lm_head.bias").segment().address(),
                    ckpt.tensor("model.lm_head.decoder.bias").segment().address());
        }
        try (TorchCheckpoint bin = TorchCheckpoint.open(ROOT.resolve("pub-dense/pytorch_model.bin"))) {
            assertFalse(bin.isLightning());
            assertEquals("pytorch_model", bin.root());
            assertEquals(List.of(48L, 64L), List.of(bin.tensor("roberta.encoder.layer.2.FFN.hash.projection.weight").shape()[0],
                    bin.tensor("roberta.encoder.layer.2.FFN.hash.projection.weight").shape()[1]));
        }
    }

    @Test
    void withoutAnyConfigurationTheErrorListsTheMissingKeys(@TempDir Path tmp) throws Exception {
        Path alone = Files.copy(ROOT.resolve("pub-bh4r2/last.ckpt"), tmp.resolve("last.ckpt"));
        FormatException e = assertThrows(FormatException.class, () -> Encoder.load(alone));
        for (String key : List.of("num_attention_heads", "hidden_size", "ffn_num_table", "ffn_table_size", "projection_type"))
            assertTrue(e.getMessage().contains(key), e.getMessage());
        // a training file without the head count: named, never guessed
        Path partial = tmp.resolve("partial.py");
        Files.writeString(partial, Files.readString(ROOT.resolve("pub-bh4r2/training-config.py"))
                .replaceAll("(?m)^model\\.num_attention_heads.*$", "")
                .replaceAll("(?m)^model\\.attention_head_size.*$", ""));
        FormatException heads = assertThrows(FormatException.class,
                () -> Encoder.load(alone, Encoder.Options.DEFAULT.withConfig(partial)));
        assertTrue(heads.getMessage().contains("lacks num_attention_heads"), heads.getMessage());
        assertTrue(heads.getMessage().contains(partial.toString()), heads.getMessage());
    }

    @Test
    void aShapeThatDisagreesWithTheConfigurationNamesTheTensor(@TempDir Path tmp) throws Exception {
        Path alone = Files.copy(ROOT.resolve("pub-bh4r2/last.ckpt"), tmp.resolve("last.ckpt"));
        // the dense model's configuration for the BH4 model's weights: tables are 24 × 32, not 12 × 16
        FormatException e = assertThrows(FormatException.class,
                () -> Encoder.load(alone, Encoder.Options.DEFAULT.withConfig(ROOT.resolve("pub-dense/config.json"))));
        assertTrue(e.getMessage().contains("model.roberta.embeddings.position_embeddings.weight")
                || e.getMessage().contains("model.roberta.encoder.layer.0.FFN.tables"), e.getMessage());
        // older files say hash_linear_type instead of projection_type
        Path older = tmp.resolve("older.json");
        Files.writeString(older, Files.readString(ROOT.resolve("pub-bh4r2/config.json")).replace("\"projection_type\"", "\"hash_linear_type\""));
        try (Encoder enc = Encoder.load(alone, Encoder.Options.DEFAULT.withConfig(older))) {
            assertEquals(2, enc.model().config().layers());
        }
    }

    @Test
    void forwardTakesI32IdsAndDefaultsTheMaskAndTypes(@TempDir Path tmp) throws Exception {
        Path dir = ROOT.resolve("pub-dense"), in = tmp.resolve("in.safetensors"), out = tmp.resolve("out.safetensors");
        int[] ids = {0, 17, 42, 99, 2, 0, 5, 6, 7, 2};
        try (Tensor t = Tensor.allocate(dev.lookupffn.tensor.DType.I32, 2, 5)) {
            for (int i = 0; i < ids.length; i++) t.segment().setAtIndex(ValueLayout.JAVA_INT, i, ids[i]);
            dev.lookupffn.safetensors.SafetensorsWriter.write(in, java.util.Map.of("input_ids", t), java.util.Map.of());
        }
        String[] r = cli("forward", "--model", dir.toString(), "--input", in.toString(), "--output", out.toString());
        assertEquals("0", r[0], r[2]);
        try (SafetensorsFile got = SafetensorsFile.open(out); Encoder enc = Encoder.load(dir);
             Tensor seq = enc.forward(new Batch(2, 5, ids, new int[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, new int[10]))) {
            assertEquals(List.of(2L, 5L, 64L), java.util.Arrays.stream(got.entry("sequence_output").shape()).boxed().toList());
            assertEquals(List.of(2L, 5L, 250L), java.util.Arrays.stream(got.entry("mlm_logits").shape()).boxed().toList());
            org.junit.jupiter.api.Assertions.assertArrayEquals(seq.toFloatArray(), got.floats("sequence_output"));
        }
        // --dtype bf16: the Java API's bf16 encoder, bit for bit; a bad --dtype is a usage error
        Path outBf16 = tmp.resolve("bf16.safetensors");
        r = cli("forward", "--model", dir.toString(), "--input", in.toString(), "--output", outBf16.toString(), "--dtype", "bf16");
        assertEquals("0", r[0], r[2]);
        try (SafetensorsFile got = SafetensorsFile.open(outBf16);
             Encoder enc = Encoder.load(dir, Encoder.Options.DEFAULT.withDType(dev.lookupffn.tensor.DType.BF16));
             Tensor seq = enc.forward(new Batch(2, 5, ids, new int[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, new int[10]))) {
            org.junit.jupiter.api.Assertions.assertArrayEquals(seq.toFloatArray(), got.floats("sequence_output"));
        }
        r = cli("forward", "--model", dir.toString(), "--input", in.toString(), "--output", outBf16.toString(), "--dtype", "half");
        assertEquals("2", r[0], r[2]);
        assertTrue(r[2].contains("--dtype must be f32, bf16 or int8, got half"), r[2]);
        // an id outside the vocabulary is one clear line, exit 1
        try (Tensor t = Tensor.allocate(dev.lookupffn.tensor.DType.I64, 1, 2)) {
            t.segment().setAtIndex(ValueLayout.JAVA_LONG, 1, 250);
            dev.lookupffn.safetensors.SafetensorsWriter.write(in, java.util.Map.of("input_ids", t), java.util.Map.of());
        }
        r = cli("forward", "--model", dir.toString(), "--input", in.toString(), "--output", out.toString());
        assertEquals("1", r[0]);
        assertTrue(r[2].contains("token id 250"), r[2]);
    }

    @Test
    void convertNeverOverwritesItsInput(@TempDir Path tmp) throws Exception {
        Path folder = tmp.resolve("m");
        Files.createDirectories(folder);
        Files.copy(ROOT.resolve("pub-dense/pytorch_model.bin"), folder.resolve("pytorch_model.bin"));
        Files.copy(ROOT.resolve("pub-dense/config.json"), folder.resolve("config.json"));
        byte[] before = Files.readAllBytes(folder.resolve("pytorch_model.bin"));
        String[] r = cli("convert", "--model", folder.toString(), "--output", folder.resolve("pytorch_model.bin").toString());
        assertEquals("1", r[0]);
        assertTrue(r[2].contains("never overwrites"), r[2]);
        assertTrue(java.util.Arrays.equals(before, Files.readAllBytes(folder.resolve("pytorch_model.bin"))));
        // into the folder itself: model.safetensors then takes precedence and loads with no config.json needed
        r = cli("convert", "--model", folder.toString(), "--output", folder.resolve("model.safetensors").toString());
        assertEquals("0", r[0], r[2]);
        try (Encoder enc = Encoder.load(folder)) { // the authors' config.json beside it is not a HuggingFace one
            assertEquals(EncoderConfig.Norm.PRE, enc.model().config().norm());
        }
        Files.delete(folder.resolve("config.json"));
        try (Encoder enc = Encoder.load(folder)) {
            assertEquals(3, enc.model().config().layers());
            assertTrue(enc.hasMaskedLmHead());
        }
    }

    /** The bound for int8 (and bf16) tables: each token's relative error against the float64 outputs. */
    static final double MAX_COMPACT_TOKEN_REL_ERR = 1e-2;

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("compactWays")
    void aCheckpointConvertedToCompactTablesStaysWithinOnePercent(String model, String dtype, @TempDir Path tmp) throws Exception {
        Path dir = ROOT.resolve(model), expected = dir.resolve("expected.safetensors");
        Path converted = tmp.resolve(model + "-" + dtype + ".safetensors");
        String[] r = cli("convert", "--model", dir.resolve("last.ckpt").toString(), "--dtype", dtype, "--output", converted.toString());
        assertEquals("0", r[0], r[2]);
        assertTrue(r[2].contains("LookupFFN tables " + dtype), r[2]);
        try (SafetensorsFile st = SafetensorsFile.open(converted)) {
            assertEquals(dtype, st.metadata().get("lookupffn_tables_dtype"));
            dev.lookupffn.tensor.DType want = dtype.equals("int8") ? dev.lookupffn.tensor.DType.I8 : dev.lookupffn.tensor.DType.BF16;
            assertEquals(want, st.tensor("roberta.encoder.layer.1.FFN.tables").dtype());
            assertEquals(dtype.equals("int8"), st.contains("roberta.encoder.layer.1.FFN.tables_scale"));
        }
        Path fp32Out = tmp.resolve("fp32.safetensors"), compactOut = tmp.resolve("compact.safetensors");
        r = cli("forward", "--model", dir.resolve("last.ckpt").toString(), "--input", expected.toString(), "--output",
                fp32Out.toString(), "--threads", "2");
        assertEquals("0", r[0], r[2]);
        r = cli("forward", "--model", converted.toString(), "--input", expected.toString(), "--output", compactOut.toString(),
                "--threads", "2");
        assertEquals("0", r[0], r[2]);
        try (SafetensorsFile want = SafetensorsFile.open(expected); SafetensorsFile fp32 = SafetensorsFile.open(fp32Out);
             SafetensorsFile got = SafetensorsFile.open(compactOut)) {
            int[] mask = want.ints("attention_mask");
            for (String name : List.of("sequence_output", "mlm_logits")) {
                double vsFloat64 = worstTokenError(got.tensor(name), want.tensor(name), mask);
                double vsFp32;
                try (Tensor ours = asF64(fp32.tensor(name))) {
                    vsFp32 = worstTokenError(got.tensor(name), ours, mask);
                }
                System.out.printf("%s with %s tables: %s worst token relative error %.2e vs float64, %.2e vs our fp32%n",
                        model, dtype, name, vsFloat64, vsFp32);
                assertTrue(vsFloat64 <= MAX_COMPACT_TOKEN_REL_ERR, model + " " + dtype + ": " + name + " " + vsFloat64);
                assertTrue(vsFp32 <= MAX_COMPACT_TOKEN_REL_ERR, model + " " + dtype + ": " + name + " " + vsFp32);
                assertTrue(vsFp32 > 0, "compact tables should change the output a little");
            }
        }
        // info reports what the loaded model holds
        r = cli("info", "--model", converted.toString());
        assertEquals("0", r[0], r[2]);
        try (Encoder enc = Encoder.load(converted)) {
            long bytes = enc.model().lookupTableBytes();
            assertTrue(r[1].contains("tables " + dtype) && r[1].contains("table bytes:    " + bytes + " "), r[1]);
            try (Encoder f32 = Encoder.load(dir.resolve("last.ckpt"))) {
                long f32Bytes = f32.model().lookupTableBytes();
                assertTrue(bytes * (dtype.equals("int8") ? 3 : 2) <= f32Bytes, bytes + " vs fp32 " + f32Bytes);
            }
        }
    }

    static Stream<Arguments> compactWays() {
        return Stream.of(Arguments.of("pub-bh4r2", "int8"), Arguments.of("pub-dense", "int8"), Arguments.of("pub-bh4r2", "bf16"));
    }

    /** An F32 tensor widened to F64 (worstTokenError reads its reference as F64). */
    static Tensor asF64(Tensor t) {
        Tensor d = Tensor.allocate(dev.lookupffn.tensor.DType.F64, t.shape());
        for (long i = 0; i < t.elementCount(); i++) d.segment().setAtIndex(ValueLayout.JAVA_DOUBLE, i, t.getFloat(i));
        return d;
    }

    @Test
    void convertRejectsAnUnknownDtypeBeforeReadingAnything(@TempDir Path tmp) {
        Path out = tmp.resolve("out.safetensors");
        String[] r = cli("convert", "--model", tmp.resolve("missing.ckpt").toString(), "--dtype", "int4", "--output", out.toString());
        assertEquals("2", r[0], r[2]);
        assertTrue(r[2].contains("--dtype") && r[2].contains("int4"), r[2]);
        assertFalse(Files.exists(out));
    }

    @Test
    void infoWithoutAModelLoadsNone() {
        String[] r = cli("info");
        assertEquals("0", r[0], r[2]);
        assertFalse(r[1].contains("table bytes"), r[1]);
        r = cli("info", "--config", ROOT.resolve("pub-dense/config.json").toString());
        assertEquals("2", r[0], r[2]);
    }

    @Test
    void convertToInt8OfAModelWithoutLookupFfnLayersSaysWhy(@TempDir Path tmp) throws Exception {
        // a tiny pre-norm encoder with dense FFNs (the configuration in the metadata, as the fixture layout has it)
        int h = 16, f = 32;
        java.util.Map<String, Tensor> w = new java.util.LinkedHashMap<>();
        java.util.function.BiConsumer<String, long[]> put = (n, shape) -> {
            Tensor t = Tensor.allocate(dev.lookupffn.tensor.DType.F32, shape);
            for (long i = 0; i < t.elementCount(); i++) t.setFloat(i, (float) Math.sin(i + n.length()) * 0.1f + (n.endsWith("LayerNorm.weight") ? 1 : 0));
            w.put(n, t);
        };
        put.accept("embeddings.word_embeddings.weight", new long[] {20, h});
        put.accept("embeddings.position_embeddings.weight", new long[] {10, h});
        put.accept("embeddings.token_type_embeddings.weight", new long[] {1, h});
        for (String n : List.of("embeddings.LayerNorm", "encoder.LayerNorm", "encoder.layer.0.attention.LayerNorm",
                "encoder.layer.0.FFN.LayerNorm")) {
            put.accept(n + ".weight", new long[] {h});
            put.accept(n + ".bias", new long[] {h});
        }
        for (String n : List.of("query", "key", "value", "dense")) {
            put.accept("encoder.layer.0.attention." + n + ".weight", new long[] {h, h});
            put.accept("encoder.layer.0.attention." + n + ".bias", new long[] {h});
        }
        put.accept("encoder.layer.0.FFN.fc1.weight", new long[] {f, h});
        put.accept("encoder.layer.0.FFN.fc1.bias", new long[] {f});
        put.accept("encoder.layer.0.FFN.fc2.weight", new long[] {h, f});
        put.accept("encoder.layer.0.FFN.fc2.bias", new long[] {h});
        Path dense = tmp.resolve("dense.safetensors"), out = tmp.resolve("out.safetensors");
        try {
            dev.lookupffn.safetensors.SafetensorsWriter.write(dense, w, java.util.Map.of("vocab_size", "20", "hidden_size",
                    String.valueOf(h), "num_hidden_layers", "1", "num_attention_heads", "2", "max_position_embeddings", "8"));
        } finally {
            w.values().forEach(Tensor::close);
        }
        String[] r = cli("convert", "--model", dense.toString(), "--dtype", "int8", "--output", out.toString());
        assertEquals("1", r[0], r[2]);
        assertTrue(r[2].contains("no LookupFFN tables") && r[2].contains(dense.toString()), r[2]);
        assertFalse(Files.exists(out));
        r = cli("convert", "--model", dense.toString(), "--output", out.toString());
        assertEquals("0", r[0], r[2]);
        assertTrue(r[2].contains("LookupFFN tables none"), r[2]);
        r = cli("info", "--model", out.toString());
        assertEquals("0", r[0], r[2]);
        assertTrue(r[1].contains("lookupffn:      none"), r[1]);
    }
}
