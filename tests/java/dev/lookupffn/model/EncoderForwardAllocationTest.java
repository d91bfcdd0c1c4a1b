package dev.lookupffn.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.management.ThreadMXBean;
import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.safetensors.SafetensorsFile;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.Supplier;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What a warm {@link TransformerEncoder#forward(Batch, Tensor, WorkerPool)} allocates on the Java heap, counted
 * over the caller and every pool worker (as {@code layer.ForwardAllocationTest} counts a LookupFFN layer's): one
 * short sequence on the post-norm column-split path at 1 and 2 threads (head size a whole number of GEMM panels:
 * Q/K/V and attention in one job; and not: two jobs), a padded batch of 32 sequences (one thread: the row path;
 * two: each thread's sequences through every layer), and the pre-norm LookupFFN fixture encoder. A server embedding one text per call runs this thousands of times a
 * second; each call should leave no garbage behind. Counting bytes is deterministic, unlike timing. And the
 * views a workspace keeps from call to call must never carry one call's shape or output into the next.
 */
class EncoderForwardAllocationTest {
    /** Bytes per warm call allowed (averaged): room for a stray object now and then, not for one per call. */
    static final double MAX_BYTES_PER_CALL = 64;

    static ThreadMXBean mx;

    @BeforeAll
    static void enableAllocationCounting() {
        mx = (ThreadMXBean) ManagementFactory.getThreadMXBean();
        assertTrue(mx.isThreadAllocatedMemorySupported(), "this JVM cannot count allocated bytes per thread");
        mx.setThreadAllocatedMemoryEnabled(true);
    }

    /** The caller and every pool worker (not the test runner's own threads, which allocate now and then). */
    static long[] callerAndWorkers() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t == Thread.currentThread() || t.getName().startsWith("lookupffn-worker"))
                .mapToLong(Thread::threadId).toArray();
    }

    static long allocatedBy(long[] ids) {
        long sum = 0;
        for (long b : mx.getThreadAllocatedBytes(ids)) if (b > 0) sum += b;
        return sum;
    }

    /**
     * Bytes per call of {@code calls} warm forward calls, net of the measurement's own allocation; first checks
     * that the output does not change from call to call (the reused views and bodies carry no stale state).
     */
    static double bytesPerCall(TransformerEncoder enc, Batch batch, WorkerPool pool, int warm, int calls) {
        try (Tensor out = Tensor.allocate(DType.F32, batch.rows(), enc.config().hidden())) {
            enc.forward(batch, out, pool);
            float[] first = out.toFloatArray();
            for (int i = 0; i < warm; i++) enc.forward(batch, out, pool);
            assertArrayEquals(first, out.toFloatArray(), "a warm call changed the output");
            long[] ids = callerAndWorkers();
            long probe0 = allocatedBy(ids), probe1 = allocatedBy(ids); // what one measurement costs
            long before = allocatedBy(ids);
            for (int i = 0; i < calls; i++) enc.forward(batch, out, pool);
            long after = allocatedBy(ids);
            return (after - before - (probe1 - probe0)) / (double) calls;
        }
    }

    /** One sequence of {@code len} tokens of a ColumnSplitTest model. */
    static Batch sentence(int len, long seed) {
        return Batch.of(List.of(ColumnSplitTest.ids(new Random(seed), len)), null, 0);
    }

    /** 32 sequences of 5 to 36 tokens, padded; one with a hole in its mask (the additive-mask attention). */
    static Batch batchOf32(long seed) {
        Random rnd = new Random(seed);
        List<int[]> seqs = new ArrayList<>();
        for (int i = 0; i < 32; i++) seqs.add(ColumnSplitTest.ids(rnd, 5 + i));
        Batch b = Batch.of(seqs, null, 0);
        int[] mask = b.attentionMask().clone();
        mask[3 * b.seqLen() + 1] = 0;
        return new Batch(b.batchSize(), b.seqLen(), b.inputIds(), mask, b.tokenTypeIds());
    }

    /** Every measurement of a test, printed; the test fails when any is over the bound, naming them all. */
    static final class Results {
        private final StringBuilder lines = new StringBuilder();
        private double worst;

        void add(String what, double bytes) {
            String line = String.format("%s: %.1f B/call", what, bytes);
            System.out.println(line);
            lines.append('\n').append(line);
            worst = Math.max(worst, bytes);
        }

        void assertNearlyNothing() {
            assertTrue(worst < MAX_BYTES_PER_CALL, "bytes allocated per warm forward call, at most "
                    + MAX_BYTES_PER_CALL + " allowed:" + lines);
        }
    }

    @Test
    void columnSplitCallsOfOneSentenceAllocateNothing() {
        Results results = new Results();
        // hidden 96 / 3 heads: head size 32, whole panels (one job for Q/K/V and attention); 72 / 3: 24, two jobs
        for (int[] shape : new int[][] {{96, 3, 200}, {72, 3, 100}}) {
            int h = shape[0], heads = shape[1], f = shape[2];
            Map<String, Tensor> m = ColumnSplitTest.model(h, f, 31 + h);
            try (TransformerEncoder enc = TransformerEncoder.create(ColumnSplitTest.config(h, heads),
                    Weights.of("random", m, Set.of()));
                 WorkerPool one = WorkerPool.create(1); WorkerPool two = WorkerPool.create(2)) {
                Batch batch = sentence(27, h);
                assertTrue(enc.usesColumnSplit(batch.rows()));
                for (WorkerPool pool : List.of(one, two)) bytesPerCall(enc, batch, pool, 3000, 10); // JIT
                for (WorkerPool pool : List.of(one, two))
                    results.add("column split, hidden " + h + ", 27 tokens, " + pool.threads() + " thread(s)",
                            bytesPerCall(enc, batch, pool, 500, 1000));
            } finally {
                m.values().forEach(Tensor::close);
            }
        }
        results.assertNearlyNothing();
    }

    @Test
    void rowSplitCallsOfABatchAllocateNothing() {
        Results results = new Results();
        int h = 96, heads = 3, f = 200;
        Map<String, Tensor> m = ColumnSplitTest.model(h, f, 57);
        try (TransformerEncoder enc = TransformerEncoder.create(ColumnSplitTest.config(h, heads),
                Weights.of("random", m, Set.of()));
             WorkerPool one = WorkerPool.create(1); WorkerPool two = WorkerPool.create(2)) {
            Batch batch = batchOf32(5);
            assertFalse(enc.usesColumnSplit(batch.rows()));
            assertTrue(enc.splitsSequences(batch.batchSize(), two));
            for (WorkerPool pool : List.of(one, two)) bytesPerCall(enc, batch, pool, 300, 10); // JIT
            for (WorkerPool pool : List.of(one, two))
                results.add((pool.threads() == 1 ? "row path" : "sequences per thread") + ", batch of 32 × "
                        + batch.seqLen() + ", " + pool.threads() + " thread(s)",
                        bytesPerCall(enc, batch, pool, 50, 150));
        } finally {
            m.values().forEach(Tensor::close);
        }
        results.assertNearlyNothing();
    }

    @Test
    void preNormLookupFfnCallsAllocateNothing() {
        Results results = new Results();
        try (SafetensorsFile st = SafetensorsFile.open(PreNormFixtureTest.FIXTURE);
             TransformerEncoder enc = Encoder.fromSafetensors(PreNormFixtureTest.FIXTURE, null);
             WorkerPool one = WorkerPool.create(1); WorkerPool two = WorkerPool.create(2)) {
            assertEquals(TransformerEncoder.FfnKind.LOOKUP, enc.ffnKind(0));
            int b = (int) st.entry("input_ids").shape()[0], t = (int) st.entry("input_ids").shape()[1];
            Batch batch = new Batch(b, t, st.ints("input_ids"), st.ints("attention_mask"), st.ints("token_type_ids"));
            for (WorkerPool pool : List.of(one, two)) bytesPerCall(enc, batch, pool, 2000, 10); // JIT
            for (WorkerPool pool : List.of(one, two))
                results.add("pre-norm LookupFFN, " + b + " × " + t + ", " + pool.threads() + " thread(s)",
                        bytesPerCall(enc, batch, pool, 300, 1000));
        }
        results.assertNearlyNothing();
    }

    /**
     * Calls of different shapes (column split and row split, padded, with a hole in the mask, one token), into
     * the same output tensor or a new one, interleaved on one encoder and pool (so they share workspaces and
     * their kept views), give the bits of the same call on an encoder that never ran anything else: post-norm
     * and the pre-norm LookupFFN fixture, at 1 and 2 threads.
     */
    @Test
    void keptViewsNeverCarryOneCallIntoTheNext() {
        int h = 72, heads = 3, f = 100;
        Map<String, Tensor> m = ColumnSplitTest.model(h, f, 77);
        List<Batch> batches = new ArrayList<>(ColumnSplitTest.batches(78));
        batches.add(batchOf32(79));
        batches.add(sentence(20, 80));
        try (WorkerPool one = WorkerPool.create(1); WorkerPool two = WorkerPool.create(2)) {
            for (WorkerPool pool : List.of(one, two)) {
                interleaved(() -> TransformerEncoder.create(ColumnSplitTest.config(h, heads), Weights.of("random", m, Set.of())),
                        batches, pool);
                interleaved(() -> Encoder.fromSafetensors(PreNormFixtureTest.FIXTURE, null), batches, pool);
            }
        } finally {
            m.values().forEach(Tensor::close);
        }
    }

    static void interleaved(Supplier<TransformerEncoder> encoders, List<Batch> batches, WorkerPool pool) {
        List<float[]> alone = new ArrayList<>();
        for (Batch batch : batches) {
            try (TransformerEncoder fresh = encoders.get()) {
                alone.add(ColumnSplitTest.run(fresh, batch, pool));
            }
        }
        try (TransformerEncoder enc = encoders.get();
             Tensor kept = Tensor.allocate(DType.F32, batches.get(0).rows(), enc.config().hidden())) {
            Random order = new Random(81);
            for (int i = 0; i < 60; i++) {
                int k = order.nextInt(batches.size());
                Batch batch = batches.get(k);
                String what = enc.config().norm() + ", call " + i + ", batch " + k + " (" + batch.batchSize() + " × "
                        + batch.seqLen() + "), " + pool.threads() + " thread(s)";
                if (k == 0) { // the same output tensor as before: its views are kept
                    enc.forward(batch, kept, pool);
                    assertArrayEquals(alone.get(k), kept.toFloatArray(), what);
                } else {
                    assertArrayEquals(alone.get(k), ColumnSplitTest.run(enc, batch, pool), what);
                }
            }
        }
    }
}
