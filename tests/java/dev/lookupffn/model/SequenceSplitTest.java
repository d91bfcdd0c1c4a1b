package dev.lookupffn.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Batches of several sequences on several threads run every layer per thread over its own sequences (no waits
 * between stages); the result has the same bits as one thread's row path and as the staged (profiled) path, for
 * batch sizes that divide among the threads and that do not, sequences of different lengths (padding), a mask
 * with a hole (the additive-mask attention), and head sizes that are whole panels and that are not; and it
 * agrees with the float64 reference.
 */
class SequenceSplitTest {
    static float[] run(TransformerEncoder enc, Batch batch, WorkerPool pool, boolean profiled) {
        try (Tensor out = Tensor.allocate(DType.F32, batch.rows(), enc.config().hidden())) {
            enc.forward(batch, out, pool, profiled ? (stage, nanos) -> {} : null);
            return out.toFloatArray();
        }
    }

    static List<Batch> batches(long seed) {
        Random rnd = new Random(seed);
        List<Batch> out = new ArrayList<>();
        for (int b : new int[] {2, 3, 5, 8}) {
            List<int[]> ids = new ArrayList<>();
            for (int i = 0; i < b; i++) ids.add(ColumnSplitTest.ids(rnd, 3 + rnd.nextInt(30)));
            out.add(Batch.of(ids, null, 0));
        }
        // a mask that is not 1…1 0…0: the second sequence's third token is masked out
        Batch plain = out.get(1);
        int[] mask = plain.attentionMask().clone();
        mask[plain.seqLen() + 2] = 0;
        out.add(new Batch(plain.batchSize(), plain.seqLen(), plain.inputIds(), mask, plain.tokenTypeIds()));
        return out;
    }

    @Test
    void eachThreadsSequencesGiveTheRowPathBits() {
        for (int[] shape : ColumnSplitTest.SHAPES) {
            int h = shape[0], heads = shape[1], f = shape[2];
            Map<String, Tensor> m = ColumnSplitTest.model(h, f, 300 + h);
            try (TransformerEncoder enc = TransformerEncoder.create(ColumnSplitTest.config(h, heads),
                    Weights.of("random", m, Set.of()));
                 WorkerPool one = WorkerPool.create(1); WorkerPool two = WorkerPool.create(2);
                 WorkerPool three = WorkerPool.create(3)) {
                enc.columnSplitMaxRows = 0; // these batches are small: keep them off the column-split path
                ReferenceEncoder ref = new ReferenceEncoder(enc.config(), m);
                for (Batch batch : batches(h)) {
                    String what = "hidden " + h + ", heads " + heads + ", batch " + batch.batchSize() + " × " + batch.seqLen();
                    assertFalse(enc.splitsSequences(batch.batchSize(), one), what);
                    assertTrue(enc.splitsSequences(batch.batchSize(), two), what + ": should split sequences");
                    float[] want = run(enc, batch, one, false);
                    assertArrayEquals(want, run(enc, batch, two, true), what + ": staged path on 2 threads");
                    for (WorkerPool pool : List.of(two, three))
                        if (enc.splitsSequences(batch.batchSize(), pool))
                            assertArrayEquals(want, run(enc, batch, pool, false), what + ": sequences split over "
                                    + pool.threads() + " threads vs one thread's row path");
                    ColumnSplitTest.assertCloseToReference(ref.forward(batch), want, batch, h, what);
                }
            }
            m.values().forEach(Tensor::close);
        }
    }
}
