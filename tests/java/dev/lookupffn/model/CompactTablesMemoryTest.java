package dev.lookupffn.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.safetensors.SafetensorsWriter;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model converted to int8 tables holds them compact from the file on: an encoder with two of the paper's
 * LookupFFN layers (d 512, 128 tables × 256 rows: 64 MiB of fp32 tables each) is written as fp32 and converted
 * as {@code convert --dtype int8} does it, then both files are loaded in a child JVM with a fixed, pre-touched
 * 128 MB heap (anonymous resident memory then grows only by native memory; the mapped file's pages are
 * file-backed and not counted), sampled every 2 ms for the peak. Loading the int8 file must never hold an fp32
 * copy of a layer's tables (64 MiB), and the loaded model's growth is its compact tables plus the other weights.
 */
class CompactTablesMemoryTest {
    static final int HIDDEN = 512, LAYERS = 2, HEADS = 8, TABLES = 128, ROWS = 256, BLOCK = 64, VOCAB = 1000, POSITIONS = 130;
    static final long MIB = 1 << 20;

    /** Small deterministic values (a hash of the index), written without a Java array. */
    static Tensor pattern(Arena arena, int seed, long... shape) {
        Tensor t = Tensor.allocate(arena, DType.F32, shape);
        MemorySegment s = t.segment();
        for (long i = 0, n = t.elementCount(); i < n; i++)
            s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (((i + seed) * 2654435761L) % 1001 - 500) * 1e-4f);
        return t;
    }

    /** The paper's layer twice, in the older pre-norm layout (the configuration in the metadata, sizes from shapes). */
    static void writeFp32Model(Path file) {
        try (Arena arena = Arena.ofConfined()) {
            Map<String, Tensor> w = new LinkedHashMap<>();
            int seed = 0;
            w.put("embeddings.word_embeddings.weight", pattern(arena, seed++, VOCAB, HIDDEN));
            w.put("embeddings.position_embeddings.weight", pattern(arena, seed++, POSITIONS, HIDDEN));
            w.put("embeddings.token_type_embeddings.weight", pattern(arena, seed++, 1, HIDDEN));
            List<String> norms = new ArrayList<>(List.of("embeddings.LayerNorm", "encoder.LayerNorm"));
            for (int l = 0; l < LAYERS; l++) {
                String p = "encoder.layer." + l + ".";
                norms.add(p + "attention.LayerNorm");
                norms.add(p + "FFN.LayerNorm");
                for (String n : new String[] {"query", "key", "value", "dense"}) {
                    w.put(p + "attention." + n + ".weight", pattern(arena, seed++, HIDDEN, HIDDEN));
                    w.put(p + "attention." + n + ".bias", pattern(arena, seed++, HIDDEN));
                }
                w.put(p + "FFN.tables", pattern(arena, seed++, TABLES, ROWS, HIDDEN));
                w.put(p + "FFN.bias", pattern(arena, seed++, HIDDEN));
                w.put(p + "FFN.hash.projection.weight", pattern(arena, seed++, 2, 4, HIDDEN / BLOCK, BLOCK, BLOCK)); // 1024 bits
                w.put(p + "FFN.hash.projection.bias", pattern(arena, seed++, TABLES * 8));
            }
            for (String n : norms) {
                Tensor g = pattern(arena, seed++, HIDDEN);
                for (long i = 0; i < HIDDEN; i++) g.setFloat(i, 1 + g.getFloat(i));
                w.put(n + ".weight", g);
                w.put(n + ".bias", pattern(arena, seed++, HIDDEN));
            }
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("format", "pt");
            meta.put("vocab_size", String.valueOf(VOCAB));
            meta.put("hidden_size", String.valueOf(HIDDEN));
            meta.put("num_hidden_layers", String.valueOf(LAYERS));
            meta.put("num_attention_heads", String.valueOf(HEADS));
            meta.put("max_position_embeddings", String.valueOf(POSITIONS - 2));
            meta.put("pad_token_id", "1");
            SafetensorsWriter.write(file, w, meta);
        }
    }

    @Test
    void anInt8ConvertedModelLoadsWithItsTablesCompactAndNoFp32Copy(@TempDir Path tmp) throws Exception {
        Path f32 = tmp.resolve("f32.safetensors"), int8 = tmp.resolve("int8.safetensors");
        writeFp32Model(f32);
        try (ModelSource src = ModelSource.open(f32, null); Arena arena = Arena.ofConfined()) {
            SafetensorsWriter.write(int8, src.exportTensors(DType.I8, arena), src.exportMetadata(DType.I8));
        }

        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Xms128m", "-Xmx128m", "-XX:+AlwaysPreTouch",
                "-cp", System.getProperty("java.class.path")));
        for (String prop : new String[] {"lookupffn.library.path", "lookupffn.cache.dir"})
            if (System.getProperty(prop) != null) cmd.add("-D" + prop + "=" + System.getProperty(prop));
        cmd.addAll(List.of(Probe.class.getName(), int8.toString(), f32.toString()));
        Process child = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output = new String(child.getInputStream().readAllBytes());
        assertTrue(child.waitFor(60, TimeUnit.SECONDS), "probe did not finish");
        assertEquals(0, child.exitValue(), output);
        Map<String, Long> m = new LinkedHashMap<>();
        for (String line : output.lines().filter(l -> l.startsWith("PROBE ")).toList())
            for (String kv : line.substring(6).split(" ")) m.put(kv.split("=")[0], Long.parseLong(kv.split("=")[1]));
        System.out.printf("two paper-size LookupFFN layers: fp32 tables %.1f MiB, model +%.1f MiB (peak +%.1f); int8 tables"
                        + " %.1f MiB, model +%.1f MiB (peak +%.1f)%n", m.get("f32_tables") / (double) MIB,
                m.get("f32_model") / (double) MIB, m.get("f32_peak") / (double) MIB, m.get("int8_tables") / (double) MIB,
                m.get("int8_model") / (double) MIB, m.get("int8_peak") / (double) MIB);

        long values = (long) LAYERS * TABLES * ROWS * HIDDEN;
        assertEquals(4 * values, m.get("f32_tables"));
        assertEquals(values + (long) LAYERS * TABLES * ROWS * (HIDDEN / 64) * 4, m.get("int8_tables")); // + fp32 scales
        // what the fp32 model holds besides its tables (attention, projections, embeddings), measured
        long others = m.get("f32_model") - m.get("f32_tables");
        assertTrue(m.get("f32_model") >= m.get("f32_tables"), "the fp32 model's growth should include its tables: " + m);
        // the int8 model: its compact tables and the same other weights; while loading at most one layer's compact
        // tables more (read from the file before packing), never one layer's fp32 tables (64 MiB) on top
        long slack = 16 * MIB, oneLayer = m.get("int8_tables") / LAYERS;
        assertTrue(m.get("int8_model") <= m.get("int8_tables") + others + slack, "int8 model grew " + m);
        assertTrue(m.get("int8_model") >= m.get("int8_tables") - slack, "int8 model grew " + m);
        assertTrue(m.get("int8_peak") <= m.get("int8_tables") + others + oneLayer + slack, "peak while loading the int8 model " + m);
        assertTrue(m.get("int8_peak") < m.get("int8_tables") + (long) TABLES * ROWS * HIDDEN * 4,
                "an fp32 copy of one layer's tables was resident while loading: " + m);
    }

    /** Anonymous resident memory of this process (heap pages + native allocations), from /proc/self/status. */
    static long rssAnon() {
        return LargeCheckpointMemoryTest.rssAnon();
    }

    /** The child JVM: loads each file in turn and prints its growth (after loading, and its peak while loading). */
    public static final class Probe {
        public static void main(String[] args) throws Exception {
            // the native library and the loader's classes first, on the small fixture
            try (TransformerEncoder warm = Encoder.fromSafetensors(PreNormFixtureTest.FIXTURE, null)) {
                warm.lookupTableBytes();
            }
            measure("int8", Path.of(args[0]));
            measure("f32", Path.of(args[1]));
        }

        static void measure(String name, Path file) throws Exception {
            long anon0 = rssAnon();
            AtomicLong peak = new AtomicLong(anon0);
            AtomicBoolean done = new AtomicBoolean();
            Thread sampler = Thread.ofPlatform().daemon().start(() -> {
                while (!done.get()) {
                    peak.accumulateAndGet(rssAnon(), Math::max);
                    try {
                        Thread.sleep(2);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
            long model, tables;
            try (TransformerEncoder enc = Encoder.fromSafetensors(file, null)) {
                done.set(true);
                sampler.join();
                model = rssAnon() - anon0;
                tables = enc.lookupTableBytes();
                try (Tensor out = enc.forward(Batch.single(0, 31, 414, 2))) {
                    for (float v : out.toFloatArray()) if (!Float.isFinite(v)) throw new AssertionError(name + ": output " + v);
                }
            } finally {
                done.set(true);
                sampler.join();
            }
            System.out.println("PROBE " + name + "_model=" + model + " " + name + "_peak=" + (peak.get() - anon0) + " "
                    + name + "_tables=" + tables);
        }
    }
}
