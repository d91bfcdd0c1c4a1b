package dev.lookupffn.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.ffi.Reference;
import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * The post-norm encoder's column-split path (few rows: every GEMM's output columns split across threads, the
 * residual + LayerNorm recomputed by each range) gives the same bits as the row-split path, on 1, 2 and 3
 * threads and with concurrent callers sharing the encoder and the pool, at odd shapes: 1, 5, 27 and 33 rows, a
 * hidden width and FFN width that are not multiples of the 32-column panels, head sizes that are (Q/K/V and
 * attention in one job) and are not (two jobs), padded batches; and both agree with the float64 reference.
 */
class ColumnSplitTest {
    static final int VOCAB = 50, MAXPOS = 40, LAYERS = 2;

    /**
     * hidden, heads, FFN width: head size 32 (whole panels) with widths past a panel; head size 24; and a hidden
     * width of one panel (some threads get no columns of the attention output and fc2).
     */
    static final int[][] SHAPES = {{96, 3, 200}, {72, 3, 100}, {32, 2, 40}};

    static Map<String, Tensor> model(int h, int f, long seed) {
        Random rnd = new Random(seed);
        Map<String, Tensor> m = new HashMap<>();
        m.put("embeddings.word_embeddings.weight", Reference.gaussian(rnd, 1, 0, VOCAB, h));
        m.put("embeddings.position_embeddings.weight", Reference.gaussian(rnd, 0.5, 0, MAXPOS, h));
        m.put("embeddings.token_type_embeddings.weight", Reference.gaussian(rnd, 0.5, 0, 2, h));
        ln(m, rnd, "embeddings.LayerNorm", h);
        for (int i = 0; i < LAYERS; i++) {
            String p = "encoder.layer." + i + ".";
            for (String s : List.of("query", "key", "value")) linear(m, rnd, p + "attention.self." + s, h, h);
            linear(m, rnd, p + "attention.output.dense", h, h);
            ln(m, rnd, p + "attention.output.LayerNorm", h);
            linear(m, rnd, p + "intermediate.dense", f, h);
            linear(m, rnd, p + "output.dense", h, f);
            ln(m, rnd, p + "output.LayerNorm", h);
        }
        return m;
    }

    static void linear(Map<String, Tensor> m, Random rnd, String base, int out, int in) {
        m.put(base + ".weight", Reference.gaussian(rnd, 1 / Math.sqrt(in), 0, out, in));
        m.put(base + ".bias", Reference.gaussian(rnd, 0.1, 0, out));
    }

    static void ln(Map<String, Tensor> m, Random rnd, String base, int h) {
        m.put(base + ".weight", Reference.gaussian(rnd, 0.1, 1, h));
        m.put(base + ".bias", Reference.gaussian(rnd, 0.1, 0, h));
    }

    static EncoderConfig config(int h, int heads) {
        return new EncoderConfig(EncoderConfig.Norm.POST, VOCAB, h, LAYERS, heads, MAXPOS, 2, 0, 0, 1e-12f,
                EncoderConfig.HF_MASK_VALUE, "bert");
    }

    /** Single sequences of 1, 5, 27 and 33 tokens, and a padded batch of two (5 + 3 tokens: 10 rows). */
    static List<Batch> batches(long seed) {
        Random rnd = new Random(seed);
        List<Batch> out = new ArrayList<>();
        for (int len : new int[] {1, 5, 27, 33}) out.add(Batch.of(List.of(ids(rnd, len)), null, 0));
        out.add(Batch.of(List.of(ids(rnd, 5), ids(rnd, 3)), null, 0));
        return out;
    }

    static int[] ids(Random rnd, int len) {
        int[] ids = new int[len];
        for (int i = 0; i < len; i++) ids[i] = 1 + rnd.nextInt(VOCAB - 1);
        return ids;
    }

    static float[] run(TransformerEncoder enc, Batch batch, WorkerPool pool) {
        try (Tensor out = Tensor.allocate(DType.F32, batch.rows(), enc.config().hidden())) {
            enc.forward(batch, out, pool);
            return out.toFloatArray();
        }
    }

    @Test
    void columnSplitGivesTheRowSplitBitsOnAnyThreadCount() {
        for (int[] shape : SHAPES) {
            int h = shape[0], heads = shape[1], f = shape[2];
            Map<String, Tensor> m = model(h, f, 100 + h);
            EncoderConfig cfg = config(h, heads);
            try (TransformerEncoder enc = TransformerEncoder.create(cfg, Weights.of("random", m, Set.of()));
                 WorkerPool one = WorkerPool.create(1); WorkerPool two = WorkerPool.create(2);
                 WorkerPool three = WorkerPool.create(3)) {
                ReferenceEncoder ref = new ReferenceEncoder(enc.config(), m);
                for (Batch batch : batches(h)) {
                    String what = "hidden " + h + ", heads " + heads + ", batch " + batch.batchSize() + " × " + batch.seqLen();
                    assertTrue(enc.usesColumnSplit(batch.rows()), what + ": should take the column-split path");
                    enc.columnSplitMaxRows = 0; // the row-split path on the same input
                    float[] rows1 = run(enc, batch, one), rows2 = run(enc, batch, two);
                    enc.columnSplitMaxRows = TransformerEncoder.COLUMN_SPLIT_MAX_ROWS;
                    assertArrayEquals(rows1, rows2, what + ": row split, 1 vs 2 threads");
                    for (WorkerPool pool : List.of(one, two, three))
                        assertArrayEquals(rows1, run(enc, batch, pool), what + ": column split on " + pool.threads()
                                + " threads vs row split");
                    assertCloseToReference(ref.forward(batch), rows1, batch, h, what);
                }
            }
            m.values().forEach(Tensor::close);
        }
    }

    /** Token rows (padding rows are meaningless) against the float64 reference. */
    static void assertCloseToReference(double[][] want, float[] got, Batch batch, int h, String what) {
        int[] mask = batch.attentionMask();
        double worst = 0;
        for (int r = 0; r < want.length; r++) {
            if (mask[r] == 0) continue;
            for (int c = 0; c < h; c++) worst = Math.max(worst, Math.abs(want[r][c] - got[r * h + c]));
        }
        assertTrue(worst < 2e-4, what + ": max |Δ| vs float64 " + worst);
    }

    @Test
    void concurrentCallersSharingEncoderAndPoolGetTheirOwnResults() throws Exception {
        int h = 96, heads = 3, f = 200;
        Map<String, Tensor> m = model(h, f, 7);
        try (TransformerEncoder enc = TransformerEncoder.create(config(h, heads), Weights.of("random", m, Set.of()));
             WorkerPool pool = WorkerPool.create(2); WorkerPool single = WorkerPool.create(1)) {
            List<Batch> batches = batches(9);
            List<float[]> want = new ArrayList<>();
            for (Batch b : batches) want.add(run(enc, b, single));
            ExecutorService callers = Executors.newFixedThreadPool(4);
            try {
                List<Future<?>> done = new ArrayList<>();
                for (int c = 0; c < 4; c++) {
                    final int caller = c;
                    done.add(callers.submit(() -> {
                        for (int i = 0; i < 40; i++) {
                            int k = (caller + i) % batches.size();
                            assertArrayEquals(want.get(k), run(enc, batches.get(k), pool),
                                    "caller " + caller + ", call " + i + ", batch " + k);
                        }
                        return null;
                    }));
                }
                for (Future<?> d : done) d.get();
            } finally {
                callers.shutdown();
            }
        }
        m.values().forEach(Tensor::close);
    }
}
