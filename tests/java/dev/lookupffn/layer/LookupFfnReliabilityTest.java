package dev.lookupffn.layer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** Native memory stays flat over many calls; one layer shared by 8 threads; use after close is an exception. */
class LookupFfnReliabilityTest {
    static final LookupFfnTest.Case CASE = new LookupFfnTest.Case("reliability", 64, 48, 16, 6, 16, false, 5);

    static long residentKiB() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status")))
            if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("\\D+", ""));
        throw new IllegalStateException("no VmRSS");
    }

    @Test
    void hundredThousandForwardCallsKeepResidentMemoryFlat() throws IOException {
        Random rnd = new Random(1);
        Map<String, Tensor> params = LookupFfnTest.randomParams(rnd, CASE);
        try (LookupFfn layer = LookupFfn.fromTensors(params::get, "rss", LookupFfn.Options.DEFAULT);
             Tensor x = LookupFfnTest.randomInput(rnd, CASE.batch(), CASE.d());
             Tensor out = Tensor.allocate(DType.F32, CASE.batch(), CASE.o());
             WorkerPool pool = WorkerPool.create(2)) {
            for (int i = 0; i < 5_000; i++) layer.forward(x, out, pool); // warm-up: JIT, scratch, caches
            System.gc();
            long before = residentKiB();
            for (int i = 0; i < 100_000; i++) layer.forward(x, out, pool);
            System.gc();
            long grown = residentKiB() - before;
            assertTrue(grown < 16 * 1024, "resident memory grew by " + grown + " KiB over 100000 calls");
        } finally {
            params.values().forEach(Tensor::close);
        }
    }

    @Test
    void eightThreadsSharingOneLayerGetTheSingleThreadedResult() throws Exception {
        Random rnd = new Random(2);
        LookupFfnTest.Case c = new LookupFfnTest.Case("shared", 96, 80, 24, 7, 32, false, 33);
        Map<String, Tensor> params = LookupFfnTest.randomParams(rnd, c);
        ExecutorService exec = Executors.newFixedThreadPool(8);
        try (LookupFfn layer = LookupFfn.fromTensors(params::get, "shared", LookupFfn.Options.DEFAULT);
             Tensor x = LookupFfnTest.randomInput(rnd, c.batch(), c.d());
             Tensor expected = Tensor.allocate(DType.F32, c.batch(), c.o());
             WorkerPool single = WorkerPool.create(1)) {
            layer.forward(x, expected, single);
            float[] want = expected.toFloatArray();
            List<Future<float[]>> results = new ArrayList<>();
            for (int t = 0; t < 8; t++)
                results.add(exec.submit(() -> {
                    float[] last = null;
                    for (int i = 0; i < 200; i++) {
                        try (Tensor out = Tensor.allocate(DType.F32, c.batch(), c.o())) {
                            layer.forward(x, out, WorkerPool.shared());
                            last = out.toFloatArray();
                            assertArrayEquals(want, last);
                        }
                    }
                    return last;
                }));
            for (Future<float[]> f : results) assertArrayEquals(want, f.get());
        } finally {
            exec.shutdownNow();
            params.values().forEach(Tensor::close);
        }
    }

    @Test
    void forwardAfterCloseThrowsIllegalState() {
        Random rnd = new Random(3);
        Map<String, Tensor> params = LookupFfnTest.randomParams(rnd, CASE);
        LookupFfn layer = LookupFfn.fromTensors(params::get, "closed", LookupFfn.Options.DEFAULT);
        params.values().forEach(Tensor::close);
        try (Tensor x = LookupFfnTest.randomInput(rnd, CASE.batch(), CASE.d())) {
            layer.close();
            assertThrows(IllegalStateException.class, () -> layer.forward(x).close());
            Tensor closedInput = LookupFfnTest.randomInput(rnd, CASE.batch(), CASE.d());
            closedInput.close();
            Map<String, Tensor> otherParams = LookupFfnTest.randomParams(rnd, CASE);
            try (LookupFfn other = LookupFfn.fromTensors(otherParams::get, "x", LookupFfn.Options.DEFAULT)) {
                assertThrows(IllegalStateException.class, () -> other.forward(closedInput).close());
            } finally {
                otherParams.values().forEach(Tensor::close);
            }
        }
    }
}
