package dev.lookupffn.layer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.baseline.DenseFfn;
import dev.lookupffn.ffi.Reference;
import dev.lookupffn.model.Batch;
import dev.lookupffn.model.Encoder;
import dev.lookupffn.model.TransformerEncoder;
import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * A server that runs each request on a new thread (virtual or platform): 2,000 of each call every model once.
 * Resident memory must not grow with the number of threads that ever called (a per-thread scratch grew by
 * megabytes per thread until close), and every result equals the single-threaded one. VmRSS is printed.
 */
class ScratchMemoryPerThreadTest {
    static final Path PRE_NORM = Path.of("tests/resources/fixtures/prenorm-lookup-encoder-small.safetensors");
    static final int ROWS = 4, THREADS_PER_KIND = 2_000, BATCH = 200;
    static final long LIMIT_KIB = 128 * 1024;

    @Test
    void residentMemoryDoesNotGrowWithTheNumberOfCallingThreads() throws Exception {
        Random rnd = new Random(12);
        LookupFfnTest.Case bh4 = new LookupFfnTest.Case("bh4", 64, 48, 16, 6, 16, false, ROWS);
        LookupFfnTest.Case dense = new LookupFfnTest.Case("dense", 64, 48, 16, 6, 16, true, ROWS);
        Map<String, Tensor> pb = LookupFfnTest.randomParams(rnd, bh4), pd = LookupFfnTest.randomParams(rnd, dense);
        int d = 96, f = 200, o = 72;
        DenseFfn.Weights w = new DenseFfn.Weights(Reference.gaussian(rnd, 1, 0, d), Reference.gaussian(rnd, 0.1, 0, d),
                Reference.gaussian(rnd, 0.1, 0, f, d), Reference.gaussian(rnd, 0.1, 0, f),
                Reference.gaussian(rnd, 0.07, 0, o, f), Reference.gaussian(rnd, 0.1, 0, o));
        try (LookupFfn lookup = LookupFfn.fromTensors(pb::get, "bh4", LookupFfn.Options.DEFAULT);
             LookupFfn lookupDense = LookupFfn.fromTensors(pd::get, "dense", LookupFfn.Options.DEFAULT);
             DenseFfn ffn = DenseFfn.own(w, 1e-5f);
             TransformerEncoder encoder = Encoder.fromSafetensors(PRE_NORM, null);
             Tensor x64 = LookupFfnTest.randomInput(rnd, ROWS, 64); Tensor x96 = LookupFfnTest.randomInput(rnd, ROWS, d);
             WorkerPool single = WorkerPool.create(1)) {
            Batch batch = new Batch(1, ROWS, new int[] {0, 5, 7, 2}, new int[] {1, 1, 1, 1}, new int[ROWS]);
            float[][] want = callEach(lookup, lookupDense, ffn, encoder, batch, x64, x96, single);
            Runnable request = () -> {
                float[][] got = callEach(lookup, lookupDense, ffn, encoder, batch, x64, x96, WorkerPool.shared());
                for (int i = 0; i < want.length; i++) assertArrayEquals(want[i], got[i], "model " + i);
            };
            runThreads(request, BATCH, true); // warm-up: JIT, heap sizing, malloc arenas
            runThreads(request, BATCH, false);
            long before = rssKiB();
            System.out.println("VmRSS before " + THREADS_PER_KIND + " virtual + " + THREADS_PER_KIND
                    + " platform threads: " + before / 1024 + " MiB");
            for (boolean virtual : new boolean[] {true, false}) {
                for (int done = 0; done < THREADS_PER_KIND; done += BATCH) {
                    runThreads(request, BATCH, virtual);
                    long grown = rssKiB() - before;
                    assertTrue(grown < LIMIT_KIB, "resident memory grew by " + grown / 1024 + " MiB after "
                            + (done + BATCH) + (virtual ? " virtual" : " platform") + " threads each called once");
                }
                System.out.println("VmRSS after the " + (virtual ? "virtual" : "platform") + " threads: "
                        + rssKiB() / 1024 + " MiB (limit: " + (before + LIMIT_KIB) / 1024 + " MiB)");
            }
        } finally {
            pb.values().forEach(Tensor::close);
            pd.values().forEach(Tensor::close);
            for (Tensor t : new Tensor[] {w.lnWeight(), w.lnBias(), w.w1(), w.b1(), w.w2(), w.b2()}) t.close();
        }
    }

    /** One forward call of each model; the outputs as arrays. */
    static float[][] callEach(LookupFfn lookup, LookupFfn lookupDense, DenseFfn ffn, TransformerEncoder encoder,
                              Batch batch, Tensor x64, Tensor x96, WorkerPool pool) {
        try (Tensor a = Tensor.allocate(DType.F32, ROWS, 48); Tensor b = Tensor.allocate(DType.F32, ROWS, 48);
             Tensor c = Tensor.allocate(DType.F32, ROWS, 72)) {
            lookup.forward(x64, a, pool);
            lookupDense.forward(x64, b, pool);
            ffn.forward(x96, c, pool);
            try (Tensor e = encoder.forward(batch, pool)) {
                return new float[][] {a.toFloatArray(), b.toFloatArray(), c.toFloatArray(), e.toFloatArray()};
            }
        }
    }

    /** Starts {@code count} new threads running {@code body} once each, waits for all, rethrows a failure. */
    static void runThreads(Runnable body, int count, boolean virtual) throws Exception {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            Runnable r = () -> {
                try {
                    body.run();
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                }
            };
            threads.add(virtual ? Thread.ofVirtual().start(r) : Thread.ofPlatform().start(r));
        }
        for (Thread t : threads) t.join();
        if (failure.get() != null) throw new AssertionError("a calling thread failed", failure.get());
    }

    static long rssKiB() throws Exception {
        System.gc();
        return LookupFfnReliabilityTest.residentKiB();
    }
}
