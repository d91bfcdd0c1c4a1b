package dev.lookupffn.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.lookupffn.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Serving with one shared {@link Encoder}: N caller threads, each embedding one text per call, must run in
 * parallel, not one after another behind a pool or a lock. Every caller waits inside the first layer's FFN block
 * until all N are inside it at once; a serialized encoder would leave the first one waiting alone (the barrier's
 * generous timeout bounds a failing run, it is not a measurement). Then every caller's embedding must equal a
 * lone call's, bit for bit.
 */
class EncoderConcurrentCallersTest {
    static final long WAIT_SECONDS = 30;

    @ParameterizedTest(name = "{0} callers on threads={1}, virtual={2}")
    @CsvSource({"4, 1, false", "4, 1, true", "4, 2, false", "4, 0, false"})
    void allCallersAreInsideTheEncoderAtOnce(int callers, int threads, boolean virtual) throws Exception {
        Map<String, Tensor> m = EncoderHooksTest.model(EncoderConfig.Norm.PRE, 21);
        CyclicBarrier allInside = new CyclicBarrier(callers);
        AtomicInteger inside = new AtomicInteger(), most = new AtomicInteger();
        boolean[] gate = {false}; // the lone reference call below runs without the barrier
        var options = TransformerEncoder.Options.DEFAULT.withExternalFfn(layer -> (x, out, pool) -> {
            out.segment().fill((byte) 0); // FFN(x) = 0: the residual keeps x
            if (layer != 0 || !gate[0]) return;
            most.accumulateAndGet(inside.incrementAndGet(), Math::max);
            try {
                allInside.await(WAIT_SECONDS, TimeUnit.SECONDS);
            } catch (InterruptedException | BrokenBarrierException | TimeoutException e) {
                throw new AssertionError("only " + inside.get() + " of " + callers + " callers got inside the encoder at once", e);
            } finally {
                inside.decrementAndGet();
            }
        });
        List<int[]> texts = List.of(new int[] {3, 7, 9, 11, 4}, new int[] {5, 6, 7}, new int[] {20, 21, 22, 23},
                new int[] {8, 9});
        try (TransformerEncoder graph = TransformerEncoder.create(EncoderHooksTest.config(EncoderConfig.Norm.PRE),
                Weights.of("pre", m, Set.of()), options);
             Encoder shared = Encoder.of(graph, null, Encoder.Options.DEFAULT.withThreads(threads));
             ExecutorService pool = virtual ? Executors.newVirtualThreadPerTaskExecutor() : Executors.newFixedThreadPool(callers)) {
            float[][] alone = new float[callers][];
            for (int i = 0; i < callers; i++) alone[i] = shared.embedIds(List.of(texts.get(i % texts.size())), null)[0];
            gate[0] = true;
            List<Future<float[]>> results = new ArrayList<>();
            for (int i = 0; i < callers; i++) {
                int[] ids = texts.get(i % texts.size());
                results.add(pool.submit(() -> shared.embedIds(List.of(ids), null)[0]));
            }
            for (int i = 0; i < callers; i++) assertArrayEquals(alone[i], results.get(i).get(2 * WAIT_SECONDS, TimeUnit.SECONDS));
            assertEquals(callers, most.get(), "callers inside the encoder at once");
        } finally {
            m.values().forEach(Tensor::close);
        }
    }
}
