package dev.lookupffn.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.ffi.Reference;
import dev.lookupffn.layer.LookupFfn;
import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A service in miniature for about 35 seconds: the default model's embed and shared LookupFFN layers called by
 * steady threads and by a churn of new platform and virtual threads, some calls nested inside jobs of the shared
 * pool, while other layers and encoders are created, called and closed under their callers. Every result is
 * bitwise equal to a single-threaded run of the same input (calls on closed objects may only throw
 * IllegalStateException), resident memory after warm-up stays flat, nothing crashes. Prints the numbers.
 */
@Tag("soak")
class ServiceSoakTest {
    static final long SECONDS = 35, WARM_UP_SECONDS = 10, RSS_GROWTH_LIMIT_KIB = 256 * 1024;
    static final Path PRE_NORM = Path.of("tests/resources/fixtures/prenorm-lookup-encoder-small.safetensors");
    static final List<String> TEXTS = List.of("LookupFFN runs on CPUs", "tables instead of matrix multiplies",
            "a longer sentence, with punctuation; and some more words to make the sequence longer than the others",
            "hello", "", "ünïcödé 你好 🙂");

    /** Parameters of a LookupFFN layer (BH4 or dense projection) under the authors' names. */
    static Map<String, Tensor> layerParams(Random rnd, int d, int o, int h, int tau, int block, boolean dense) {
        int bits = h * tau, p = Integer.highestOneBit(d) == d ? d : Integer.highestOneBit(d) << 1;
        Map<String, Tensor> m = new HashMap<>();
        m.put("LayerNorm.weight", Reference.gaussian(rnd, 1, 1, d));
        m.put("LayerNorm.bias", Reference.gaussian(rnd, 0.1, 0, d));
        m.put("hash.projection.weight", dense ? Reference.gaussian(rnd, 1 / Math.sqrt(d), 0, bits, d)
                : Reference.gaussian(rnd, 1 / Math.sqrt((double) block * p), 0, Math.max(1, (bits + p - 1) / p), 4, p / block,
                        block, block));
        m.put("hash.projection.bias", Reference.gaussian(rnd, 0.1, 0, bits));
        m.put("tables", Reference.gaussian(rnd, 1, 0, h, 1 << tau, o));
        m.put("bias", Reference.gaussian(rnd, 0.1, 0, o));
        return m;
    }

    static long rssKiB() throws Exception {
        System.gc();
        for (String line : Files.readAllLines(Path.of("/proc/self/status")))
            if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("\\D+", ""));
        throw new IllegalStateException("no VmRSS");
    }

    @Test
    void mixedConcurrentLoadGivesSingleThreadedResultsWithFlatMemory() throws Exception {
        Random rnd = new Random(99);
        Map<String, Tensor> bh4 = layerParams(rnd, 96, 64, 24, 6, 32, false), dense = layerParams(rnd, 64, 64, 12, 5, 0, true);
        float[][] wantEmbed;
        try (Encoder single = Encoder.loadDefault(Encoder.Options.DEFAULT.withThreads(1))) {
            wantEmbed = single.embed(TEXTS); // on one thread: the reference every concurrent result must equal
        }
        try (Encoder model = Encoder.loadDefault();
             LookupFfn layer = LookupFfn.fromTensors(bh4::get, "soak-bh4", LookupFfn.Options.DEFAULT);
             LookupFfn denseLayer = LookupFfn.fromTensors(dense::get, "soak-dense", LookupFfn.Options.DEFAULT);
             Tensor x = Reference.gaussian(rnd, 2, 0.5, 80, 96); Tensor xd = Reference.gaussian(rnd, 2, 0.5, 40, 64);
             WorkerPool one = WorkerPool.create(1)) {
            float[] wantLayer = once(layer, x, one), wantDense = once(denseLayer, xd, one);
            float[] wantPreNorm;
            try (TransformerEncoder enc = Encoder.fromSafetensors(PRE_NORM, null)) {
                wantPreNorm = preNorm(enc, one);
            }
            AtomicReference<Throwable> failure = new AtomicReference<>();
            AtomicLong calls = new AtomicLong(), refused = new AtomicLong(), churned = new AtomicLong(), closedObjects = new AtomicLong();
            long end = System.nanoTime() + SECONDS * 1_000_000_000L;

            // one unit of work, picked by a number: every result checked against the single-threaded one
            java.util.function.IntConsumer work = i -> {
                switch (Math.floorMod(i, 5)) {
                    case 0 -> assertTrue(Arrays.deepEquals(wantEmbed, model.embed(TEXTS)), "embed differs");
                    case 1 -> assertTrue(Arrays.equals(wantLayer, once(layer, x, WorkerPool.shared())), "BH4 layer differs");
                    case 2 -> assertTrue(Arrays.equals(wantDense, once(denseLayer, xd, WorkerPool.shared())), "dense layer differs");
                    case 3 -> WorkerPool.shared().forRanges(4, 1, (w, s, e) -> { // nested: calls inside a shared-pool job
                        for (long r = s; r < e; r++)
                            assertTrue(Arrays.equals(wantLayer, once(layer, x, WorkerPool.shared())), "nested layer differs");
                    });
                    default -> WorkerPool.shared().forRanges(2, 1, (w, s, e) ->
                            assertTrue(Arrays.deepEquals(wantEmbed, model.embed(TEXTS)), "nested embed differs"));
                }
                calls.incrementAndGet();
            };
            List<Thread> threads = new ArrayList<>();
            // steady callers
            for (int t = 0; t < 3; t++) {
                int first = t;
                threads.add(Thread.ofPlatform().start(guard(failure, () -> {
                    for (int i = first; System.nanoTime() < end && failure.get() == null; i++) work.accept(i);
                })));
            }
            // churn: new platform and virtual threads, each a couple of calls
            threads.add(Thread.ofPlatform().start(guard(failure, () -> {
                for (int i = 0; System.nanoTime() < end && failure.get() == null; i++) {
                    int unit = i;
                    Runnable r = guard(failure, () -> {
                        work.accept(unit);
                        work.accept(unit + 1);
                    });
                    Thread t = i % 2 == 0 ? Thread.ofVirtual().start(r) : Thread.ofPlatform().start(r);
                    t.join();
                    churned.incrementAndGet();
                }
            })));
            // other instances created, called and closed under their callers
            threads.add(Thread.ofPlatform().start(guard(failure, () -> {
                while (System.nanoTime() < end && failure.get() == null) {
                    try (TransformerEncoder enc = Encoder.fromSafetensors(PRE_NORM, null)) {
                        LookupFfn other = LookupFfn.fromTensors(bh4::get, "soak-other", LookupFfn.Options.DEFAULT);
                        Thread a = Thread.ofVirtual().start(guard(failure, () -> callUntilClosed(
                                () -> assertTrue(Arrays.equals(wantLayer, once(other, x, WorkerPool.shared())), "closing layer differs"), refused)));
                        Thread b = Thread.ofPlatform().start(guard(failure, () -> callUntilClosed(
                                () -> assertTrue(Arrays.equals(wantPreNorm, preNorm(enc, WorkerPool.shared())), "closing encoder differs"), refused)));
                        Thread.sleep(20);
                        other.close();
                        enc.close();
                        a.join();
                        b.join();
                        closedObjects.addAndGet(2);
                    }
                }
            })));

            Thread.sleep(WARM_UP_SECONDS * 1000);
            long warm = rssKiB();
            System.out.println("soak: VmRSS after " + WARM_UP_SECONDS + " s warm-up: " + warm / 1024 + " MiB");
            for (Thread t : threads) t.join((SECONDS + 120) * 1000);
            for (Thread t : threads) assertFalse(t.isAlive(), "a soak thread never finished");
            if (failure.get() != null) throw new AssertionError("soak failure", failure.get());
            long last = rssKiB();
            System.out.printf("soak: %d calls, %d threads churned, %d objects closed under their callers (%d calls refused "
                    + "with IllegalStateException); VmRSS %d MiB at the end (%+d MiB since warm-up)%n", calls.get(),
                    churned.get(), closedObjects.get(), refused.get(), last / 1024, (last - warm) / 1024);
            assertTrue(last - warm < RSS_GROWTH_LIMIT_KIB, "resident memory grew by " + (last - warm) / 1024 + " MiB after warm-up");
            assertTrue(calls.get() > 0 && churned.get() > 0 && closedObjects.get() > 0);
        } finally {
            bh4.values().forEach(Tensor::close);
            dense.values().forEach(Tensor::close);
        }
    }

    interface Body {
        void run() throws Exception;
    }

    static Runnable guard(AtomicReference<Throwable> failure, Body body) {
        return () -> {
            try {
                body.run();
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            }
        };
    }

    /** Calls until the object is closed: then only IllegalStateException is allowed. */
    static void callUntilClosed(Body call, AtomicLong refused) throws Exception {
        try {
            while (true) call.run();
        } catch (IllegalStateException closed) {
            refused.incrementAndGet();
        }
    }

    static float[] once(LookupFfn layer, Tensor x, WorkerPool pool) {
        try (Tensor y = Tensor.allocate(DType.F32, x.dim(0), layer.config().outDim())) {
            layer.forward(x, y, pool);
            return y.toFloatArray();
        }
    }

    static float[] preNorm(TransformerEncoder enc, WorkerPool pool) {
        Batch batch = new Batch(2, 5, new int[] {0, 5, 7, 2, 1, 0, 9, 3, 1, 1}, new int[] {1, 1, 1, 1, 1, 1, 1, 1, 0, 0},
                new int[10]);
        try (Tensor out = enc.forward(batch, pool)) {
            return out.toFloatArray();
        }
    }
}
