package dev.lookupffn.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.LookupFfnException.ShapeException;
import dev.lookupffn.baseline.DenseFfn;
import dev.lookupffn.ffi.Reference;
import dev.lookupffn.model.TransformerEncoder.Stage;
import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The encoder hooks the benchmark uses: a caller-supplied FFN block (checked against the encoder's own dense FFN,
 * with a padded batch), the per-stage timer on post-norm encoders, and what is refused.
 */
class EncoderHooksTest {
    static final int VOCAB = 40, H = 32, HEADS = 2, LAYERS = 2, F = 64, MAXPOS = 24;

    static void linear(Map<String, Tensor> m, Random rnd, String base, int out, int in) {
        m.put(base + ".weight", Reference.gaussian(rnd, 1 / Math.sqrt(in), 0, out, in));
        m.put(base + ".bias", Reference.gaussian(rnd, 0.1, 0, out));
    }

    static void ln(Map<String, Tensor> m, Random rnd, String base) {
        m.put(base + ".weight", Reference.gaussian(rnd, 0.1, 1, H));
        m.put(base + ".bias", Reference.gaussian(rnd, 0.1, 0, H));
    }

    static Map<String, Tensor> model(EncoderConfig.Norm norm, long seed) {
        Random rnd = new Random(seed);
        Map<String, Tensor> m = new HashMap<>();
        m.put("embeddings.word_embeddings.weight", Reference.gaussian(rnd, 1, 0, VOCAB, H));
        m.put("embeddings.position_embeddings.weight", Reference.gaussian(rnd, 0.5, 0, MAXPOS, H));
        m.put("embeddings.token_type_embeddings.weight", Reference.gaussian(rnd, 0.5, 0, 2, H));
        ln(m, rnd, "embeddings.LayerNorm");
        for (int i = 0; i < LAYERS; i++) {
            String p = "encoder.layer." + i + ".";
            if (norm == EncoderConfig.Norm.POST) {
                for (String s : List.of("query", "key", "value")) linear(m, rnd, p + "attention.self." + s, H, H);
                linear(m, rnd, p + "attention.output.dense", H, H);
                ln(m, rnd, p + "attention.output.LayerNorm");
                linear(m, rnd, p + "intermediate.dense", F, H);
                linear(m, rnd, p + "output.dense", H, F);
                ln(m, rnd, p + "output.LayerNorm");
            } else {
                ln(m, rnd, p + "attention.LayerNorm");
                for (String s : List.of("query", "key", "value", "dense")) linear(m, rnd, p + "attention." + s, H, H);
                ln(m, rnd, p + "FFN.LayerNorm");
                linear(m, rnd, p + "FFN.fc1", F, H);
                linear(m, rnd, p + "FFN.fc2", H, F);
            }
        }
        if (norm == EncoderConfig.Norm.PRE) ln(m, rnd, "encoder.LayerNorm");
        return m;
    }

    static EncoderConfig config(EncoderConfig.Norm norm) {
        return norm == EncoderConfig.Norm.POST
                ? new EncoderConfig(norm, VOCAB, H, LAYERS, HEADS, MAXPOS, 2, 0, 0, 1e-12f, EncoderConfig.HF_MASK_VALUE, "bert")
                : new EncoderConfig(norm, VOCAB, H, LAYERS, HEADS, MAXPOS, 2, 1, 2, 1e-5f, EncoderConfig.PRENORM_MASK_VALUE, "pre");
    }

    /** Three sequences, one padded (the prefix-mask path) and one with a hole in its mask (the additive path). */
    static Batch batch() {
        Batch b = Batch.of(List.of(new int[] {3, 7, 9, 11, 4, 5, 6, 8, 10, 12}, new int[] {5, 6, 7},
                new int[] {20, 21, 22, 23, 24, 25, 26}), null, 1);
        int[] mask = b.attentionMask().clone();
        mask[2 * b.seqLen() + 2] = 0;
        return new Batch(b.batchSize(), b.seqLen(), b.inputIds(), mask, b.tokenTypeIds());
    }

    static float[] run(TransformerEncoder enc, Batch batch, WorkerPool pool, TransformerEncoder.StageTimer timer) {
        try (Tensor out = Tensor.allocate(DType.F32, batch.rows(), H)) {
            enc.forward(batch, out, pool, timer);
            return out.toFloatArray();
        }
    }

    @Test
    void anExternalDenseFfnComputesWhatTheEncodersOwnDenseFfnComputes() {
        Map<String, Tensor> m = model(EncoderConfig.Norm.PRE, 11);
        Weights w = Weights.of("random", m, Set.of());
        Batch batch = batch();
        DenseFfn[] ffns = new DenseFfn[LAYERS];
        AtomicInteger calls = new AtomicInteger();
        try (WorkerPool pool = WorkerPool.create(2)) {
            for (int i = 0; i < LAYERS; i++) {
                String p = "encoder.layer." + i + ".FFN.";
                ffns[i] = DenseFfn.own(new DenseFfn.Weights(m.get(p + "LayerNorm.weight"), m.get(p + "LayerNorm.bias"),
                        m.get(p + "fc1.weight"), m.get(p + "fc1.bias"), m.get(p + "fc2.weight"), m.get(p + "fc2.bias")), 1e-5f);
            }
            var options = TransformerEncoder.Options.DEFAULT.withExternalFfn(i -> (x, out, p) -> {
                calls.incrementAndGet();
                ffns[i].forward(x, out, p);
            });
            try (TransformerEncoder own = TransformerEncoder.create(config(EncoderConfig.Norm.PRE), w);
                 TransformerEncoder external = TransformerEncoder.create(config(EncoderConfig.Norm.PRE), w, options)) {
                assertEquals(TransformerEncoder.FfnKind.EXTERNAL, external.ffnKind(0));
                float[] want = run(own, batch, pool, null), got = run(external, batch, pool, null);
                assertEquals(LAYERS, calls.get());
                double err = Reference.relativeError(got, want);
                assertTrue(err <= 1e-6, "relative error " + err);
                // profiled: the same output, and the external FFN's time lands in the FFN stage
                long[] nanos = new long[Stage.values().length];
                assertArrayEquals(got, run(external, batch, pool, (s, ns) -> nanos[s.ordinal()] += ns));
                assertTrue(nanos[Stage.FFN.ordinal()] > 0);
            }
        } finally {
            for (DenseFfn f : ffns) if (f != null) f.close();
            m.values().forEach(Tensor::close);
        }
    }

    @Test
    void aProfiledPostNormEncoderComputesTheSameOutput() {
        Map<String, Tensor> m = model(EncoderConfig.Norm.POST, 12);
        Batch batch = batch();
        try (WorkerPool pool = WorkerPool.create(2);
             TransformerEncoder enc = TransformerEncoder.create(config(EncoderConfig.Norm.POST), Weights.of("bert", m, Set.of()))) {
            int[] count = new int[Stage.values().length];
            float[] plain = run(enc, batch, pool, null);
            assertArrayEquals(plain, run(enc, batch, pool, (s, ns) -> count[s.ordinal()]++));
            // post-norm has no final encoder.LayerNorm
            assertArrayEquals(new int[] {1, LAYERS, LAYERS, LAYERS, LAYERS, 0}, count);
        } finally {
            m.values().forEach(Tensor::close);
        }
    }

    @Test
    void profiledAndPlainCallsFromManyThreadsAtOnceComputeTheSingleThreadedOutput() throws Exception {
        Map<String, Tensor> m = model(EncoderConfig.Norm.PRE, 14);
        Batch batch = batch();
        try (WorkerPool pool = WorkerPool.create(2);
             TransformerEncoder enc = TransformerEncoder.create(config(EncoderConfig.Norm.PRE), Weights.of("pre", m, Set.of()))) {
            float[] want = run(enc, batch, pool, null);
            // virtual threads sharing one encoder and one pool (a busy pool runs a caller's job on the caller)
            List<java.util.concurrent.Future<float[]>> results = new java.util.ArrayList<>();
            try (var exec = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
                for (int i = 0; i < 16; i++) {
                    boolean profiled = i % 2 == 0;
                    results.add(exec.submit(() -> {
                        float[] last = null;
                        for (int k = 0; k < 20; k++) last = run(enc, batch, pool, profiled ? (s, ns) -> {} : null);
                        return last;
                    }));
                }
                for (var r : results) assertArrayEquals(want, r.get());
            }
        } finally {
            m.values().forEach(Tensor::close);
        }
    }

    @Test
    void refusesExternalFfnsForPostNormAndBadTableTypes() {
        Map<String, Tensor> m = model(EncoderConfig.Norm.POST, 13);
        try {
            var options = TransformerEncoder.Options.DEFAULT.withExternalFfn(i -> (x, out, p) -> {});
            var e = assertThrows(ShapeException.class,
                    () -> TransformerEncoder.create(config(EncoderConfig.Norm.POST), Weights.of("bert", m, Set.of()), options));
            assertTrue(e.getMessage().contains("pre-norm"), e.getMessage());
            assertThrows(ShapeException.class, () -> TransformerEncoder.Options.DEFAULT.withLookupTableDType(DType.F16));
            assertThrows(NullPointerException.class, () -> TransformerEncoder.create(config(EncoderConfig.Norm.POST),
                    Weights.of("bert", m, Set.of()), null));
        } finally {
            m.values().forEach(Tensor::close);
        }
    }
}
