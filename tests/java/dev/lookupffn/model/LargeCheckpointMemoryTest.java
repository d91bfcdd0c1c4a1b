package dev.lookupffn.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.pytorch.TorchCheckpoint;
import dev.lookupffn.pytorch.TorchZipWriter;
import dev.lookupffn.pytorch.TorchZipWriter.Bytes;
import dev.lookupffn.pytorch.TorchZipWriter.OrderedDict;
import dev.lookupffn.pytorch.TorchZipWriter.Storage;
import dev.lookupffn.pytorch.TorchZipWriter.TensorRef;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Lightning checkpoint of the training code's smallest real configuration (vocab 50265, hidden 512, 4 layers,
 * 8 heads × 64, 64 tables × 256, block 64: about 360 MB of parameters plus Adam's two moments, about 1.1 GB),
 * written into a temp dir by the test torch-zip writer and deleted afterwards, is loaded in a child JVM whose heap
 * is fixed at 128 MB: opening it costs almost no native memory (the optimizer state is never read) and the loaded
 * encoder's own copy of the weights stays well below the file size. Native memory is the growth of the child's
 * anonymous resident memory (its heap is pre-touched, so constant; the mapped file's pages are file-backed and
 * not counted), sampled every 2 ms for the peak.
 */
class LargeCheckpointMemoryTest {
    static final int VOCAB = 50265, HIDDEN = 512, LAYERS = 4, HEADS = 8, TABLES = 64, ROWS = 256, BLOCK = 64, MAXPOS = 512;

    /** {@code bytes} of small floats, generated 1 MiB at a time (the test never holds a storage in memory). */
    static Bytes pattern(long bytes, int seed) {
        return new Bytes() {
            public long size() {
                return bytes;
            }

            public void writeTo(FileChannel ch, CRC32 crc) throws IOException {
                ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < buf.capacity() / 4; i++) buf.putFloat(((i * 2654435761L + seed) % 1001 - 500) * 1e-4f);
                for (long left = bytes; left > 0; ) {
                    int n = (int) Math.min(left, buf.capacity());
                    buf.clear().limit(n);
                    crc.update(buf.duplicate());
                    while (buf.hasRemaining()) ch.write(buf);
                    left -= n;
                }
            }
        };
    }

    static Map<String, long[]> shapes() {
        Map<String, long[]> s = new LinkedHashMap<>();
        s.put("roberta.embeddings.word_embeddings.weight", new long[] {VOCAB, HIDDEN});
        s.put("roberta.embeddings.position_embeddings.weight", new long[] {MAXPOS + 2, HIDDEN});
        s.put("roberta.embeddings.token_type_embeddings.weight", new long[] {1, HIDDEN});
        s.put("roberta.embeddings.LayerNorm.weight", new long[] {HIDDEN});
        s.put("roberta.embeddings.LayerNorm.bias", new long[] {HIDDEN});
        for (int i = 0; i < LAYERS; i++) {
            String p = "roberta.encoder.layer." + i + ".";
            s.put(p + "FFN.tables", new long[] {TABLES, ROWS, HIDDEN});
            s.put(p + "FFN.bias", new long[] {HIDDEN});
            s.put(p + "FFN.LayerNorm.weight", new long[] {HIDDEN});
            s.put(p + "FFN.LayerNorm.bias", new long[] {HIDDEN});
            s.put(p + "FFN.hash.projection.weight", new long[] {1, 4, HIDDEN / BLOCK, BLOCK, BLOCK}); // 64 × 8 bits = 512: R 1
            s.put(p + "FFN.hash.projection.bias", new long[] {TABLES * 8});
            s.put(p + "attention.LayerNorm.weight", new long[] {HIDDEN});
            s.put(p + "attention.LayerNorm.bias", new long[] {HIDDEN});
            for (String n : new String[] {"query", "key", "value", "dense"}) {
                s.put(p + "attention." + n + ".weight", new long[] {HIDDEN, HIDDEN});
                s.put(p + "attention." + n + ".bias", new long[] {HIDDEN});
            }
        }
        s.put("roberta.encoder.LayerNorm.weight", new long[] {HIDDEN});
        s.put("roberta.encoder.LayerNorm.bias", new long[] {HIDDEN});
        s.put("lm_head.dense.weight", new long[] {HIDDEN, HIDDEN});
        s.put("lm_head.dense.bias", new long[] {HIDDEN});
        s.put("lm_head.layer_norm.weight", new long[] {HIDDEN});
        s.put("lm_head.layer_norm.bias", new long[] {HIDDEN});
        s.put("lm_head.decoder.weight", new long[] {VOCAB, HIDDEN});
        s.put("lm_head.bias", new long[] {VOCAB});
        return s;
    }

    static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    /** Anonymous resident memory of this process (heap pages + native allocations), from /proc/self/status. */
    static long rssAnon() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status")))
                if (line.startsWith("RssAnon:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        throw new IllegalStateException("no RssAnon in /proc/self/status");
    }

    @Test
    void aOneGigabyteLightningCheckpointLoadsInAFractionOfItsSize(@TempDir Path tmp) throws Exception {
        Path ckpt = tmp.resolve("last.ckpt");
        OrderedDict sd = new OrderedDict();
        List<Object> state = new ArrayList<>();
        long params = 0;
        int key = 0, biasKey = -1;
        for (var e : shapes().entrySet()) {
            long n = numel(e.getValue());
            params += n;
            if (e.getKey().equals("lm_head.bias")) biasKey = key;
            sd.put("model." + e.getKey(), TensorRef.contiguous(new Storage(String.valueOf(key), DType.F32, n, "cuda:0",
                    pattern(n * 4, key)), 0, e.getValue()));
            key++;
            Map<String, Object> adam = new LinkedHashMap<>();
            adam.put("step", 2.0);
            for (String m : new String[] {"exp_avg", "exp_avg_sq"})
                adam.put(m, TensorRef.contiguous(new Storage(String.valueOf(key++), DType.F32, n, "cuda:0", pattern(n * 4, key)),
                        0, e.getValue()));
            state.add(adam);
        }
        Map<Object, Object> top = new LinkedHashMap<>();
        top.put("epoch", 0L);
        top.put("global_step", 250000L);
        top.put("pytorch-lightning_version", "1.9.4");
        top.put("state_dict", sd);
        top.put("optimizer_states", List.of(Map.of("state", state, "param_groups", List.of(Map.of("lr", 1e-4)))));
        TorchZipWriter.write(ckpt, "archive", top);
        Files.writeString(tmp.resolve("config.json"), """
                {"vocab_size": 50265, "hidden_size": 512, "num_hidden_layers": 4, "num_attention_heads": 8,
                 "attention_head_size": 64, "max_position_embeddings": 512, "type_vocab_size": 1, "pad_token_id": 1,
                 "layer_norm_eps": 1e-05, "ffn_num_table": 64, "ffn_table_size": 256, "block_size": 64,
                 "projection_type": "bh4"}
                """);
        long fileSize = Files.size(ckpt), paramBytes = params * 4;
        assertTrue(fileSize > 1_000_000_000L, "the checkpoint should be about 1 GB, is " + fileSize);

        // measured in a JVM of its own with a fixed, pre-touched 128 MB heap: heap pages are resident from the start,
        // so growth of anonymous memory is native memory, and needing more heap than that is an OutOfMemoryError
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Xms128m", "-Xmx128m", "-XX:+AlwaysPreTouch",
                "-cp", System.getProperty("java.class.path")));
        for (String prop : new String[] {"lookupffn.library.path", "lookupffn.cache.dir"})
            if (System.getProperty(prop) != null) cmd.add("-D" + prop + "=" + System.getProperty(prop));
        cmd.addAll(List.of(Probe.class.getName(), ckpt.toString(), String.valueOf(biasKey)));
        Process child = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output = new String(child.getInputStream().readAllBytes());
        assertTrue(child.waitFor(120, java.util.concurrent.TimeUnit.SECONDS), "probe did not finish");
        assertEquals(0, child.exitValue(), output);
        String line = output.lines().filter(l -> l.startsWith("PROBE ")).findFirst().orElseThrow(() -> new AssertionError(output));
        Map<String, Long> m = new LinkedHashMap<>();
        for (String kv : line.substring(6).split(" ")) m.put(kv.split("=")[0], Long.parseLong(kv.split("=")[1]));
        System.out.printf("checkpoint %.0f MB (parameters %.0f MB + Adam state), loaded in a JVM with a 128 MB heap: opening"
                        + " it +%.1f MB native, the loaded encoder +%.0f MB, peak while loading +%.0f MB%n", fileSize / 1e6,
                paramBytes / 1e6, m.get("open") / 1e6, m.get("model") / 1e6, m.get("peak") / 1e6);
        assertTrue(m.get("open") < 32_000_000L, "opening the checkpoint took " + m.get("open") + " bytes of native memory");
        // the encoder holds its own copy of the parameters (GEMM weights packed, a transient copy of the largest while
        // packing it), never the optimizer state
        assertTrue(m.get("peak") < fileSize * 6 / 10, "peak native memory +" + m.get("peak") + " bytes for a " + fileSize + "-byte file");
    }

    /** The child JVM: opens the checkpoint, then loads the encoder and runs it, and prints its memory growth. */
    public static final class Probe {
        public static void main(String[] args) throws Exception {
            Path ckpt = Path.of(args[0]);
            int biasKey = Integer.parseInt(args[1]);
            dev.lookupffn.ffi.Kernels.version(); // loads the native library first
            TorchCheckpoint.open(ckpt).close(); // and the reader's classes
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
            long open, model;
            try {
                try (TorchCheckpoint c = TorchCheckpoint.open(ckpt)) {
                    open = rssAnon() - anon0;
                    if (c.names().size() != shapes().size()) throw new AssertionError("tensors: " + c.names().size());
                    if (c.tensor("model.lm_head.bias").getFloat(0) != (biasKey % 1001 - 500) * 1e-4f)
                        throw new AssertionError("lm_head.bias does not hold the written values");
                }
                try (Encoder enc = Encoder.load(ckpt, Encoder.Options.DEFAULT.withThreads(2))) {
                    model = rssAnon() - anon0;
                    if (enc.dimension() != HIDDEN) throw new AssertionError("hidden " + enc.dimension());
                    try (Tensor out = enc.forward(Batch.single(0, 31414, 232, 2)); Tensor logits = enc.maskedLmLogits(out)) {
                        for (float v : logits.toFloatArray()) if (!Float.isFinite(v)) throw new AssertionError("logit " + v);
                    }
                }
            } finally {
                done.set(true);
                sampler.join();
            }
            System.out.println("PROBE open=" + open + " model=" + model + " peak=" + (peak.get() - anon0));
        }
    }
}
