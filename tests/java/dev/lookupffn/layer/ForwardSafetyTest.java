package dev.lookupffn.layer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.LookupFfnException.ShapeException;
import dev.lookupffn.model.Batch;
import dev.lookupffn.model.Encoder;
import dev.lookupffn.model.TransformerEncoder;
import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * forward on tensors of any arena the caller may use, nested inside pool jobs, racing close, and with an
 * output that overlaps its input: a correct result or a documented exception, never a wrong result or a crash.
 */
class ForwardSafetyTest {
    static final LookupFfnTest.Case CASE = new LookupFfnTest.Case("safety", 64, 64, 16, 6, 16, false, 96);

    @Test
    void inputAndOutputInAConfinedArenaRunOnTheCallingThread() {
        Random rnd = new Random(21);
        Map<String, Tensor> params = LookupFfnTest.randomParams(rnd, CASE);
        try (LookupFfn layer = LookupFfn.fromTensors(params::get, "confined", LookupFfn.Options.DEFAULT);
             Tensor x = LookupFfnTest.randomInput(rnd, CASE.batch(), CASE.d());
             Tensor want = Tensor.allocate(DType.F32, CASE.batch(), CASE.o());
             WorkerPool pool = WorkerPool.create(3); Arena confined = Arena.ofConfined()) {
            layer.forward(x, want, pool);
            Tensor cx = Tensor.allocate(confined, DType.F32, CASE.batch(), CASE.d());
            MemorySegment.copy(x.segment(), 0, cx.segment(), 0, x.byteSize());
            Tensor cout = Tensor.allocate(confined, DType.F32, CASE.batch(), CASE.o());
            layer.forward(cx, cout, pool); // 96 rows: enough for three ranges, yet no worker may touch them
            assertArrayEquals(want.toFloatArray(), cout.toFloatArray());
            try (Tensor y = layer.forward(cx)) { // the shared pool, the owned output in a shared arena
                assertArrayEquals(want.toFloatArray(), y.toFloatArray());
            }
            // a shared-arena input with a confined output stays on this thread too
            Tensor cout2 = Tensor.allocate(confined, DType.F32, CASE.batch(), CASE.o());
            layer.forward(x, cout2, pool);
            assertArrayEquals(want.toFloatArray(), cout2.toFloatArray());
        } finally {
            params.values().forEach(Tensor::close);
        }
    }

    @Test
    void anEncoderWritingIntoAConfinedTensorRunsOnTheCallingThread() {
        Batch batch = new Batch(3, 12, new int[36], new int[36], new int[36]);
        for (int i = 0; i < 36; i++) {
            batch.inputIds()[i] = 1 + i % 9;
            batch.attentionMask()[i] = i % 12 < 10 ? 1 : 0;
        }
        try (TransformerEncoder enc = Encoder.fromSafetensors(ScratchMemoryPerThreadTest.PRE_NORM, null);
             WorkerPool pool = WorkerPool.create(3); Tensor want = enc.forward(batch, pool); Arena confined = Arena.ofConfined()) {
            Tensor out = Tensor.allocate(confined, DType.F32, 36, enc.config().hidden());
            enc.forward(batch, out, pool);
            assertArrayEquals(want.toFloatArray(), out.toFloatArray());
        }
    }

    /** Rows computed alone, in another batch or with another thread count: the same bits. */
    @Test
    void aRowsResultDoesNotDependOnItsBatch() {
        Random rnd = new Random(25);
        for (boolean dense : new boolean[] {false, true}) {
            LookupFfnTest.Case c = new LookupFfnTest.Case("batch", 96, 40, 12, 5, 32, dense, 301);
            Map<String, Tensor> params = LookupFfnTest.randomParams(rnd, c);
            try (LookupFfn layer = LookupFfn.fromTensors(params::get, "batch", LookupFfn.Options.DEFAULT);
                 Tensor x = LookupFfnTest.randomInput(rnd, c.batch(), c.d()); Tensor all = Tensor.allocate(DType.F32, c.batch(), c.o());
                 WorkerPool pool = WorkerPool.create(3); WorkerPool one = WorkerPool.create(1)) {
                layer.forward(x, all, pool);
                float[] whole = all.toFloatArray();
                for (long[] rows : new long[][] {{0, 1}, {17, 5}, {100, 150}, {300, 1}}) {
                    try (Tensor part = Tensor.allocate(DType.F32, rows[1], c.o())) {
                        layer.forward(x.slice(rows[0], rows[1]), part, rows[0] % 2 == 0 ? one : pool);
                        float[] want = Arrays.copyOfRange(whole, (int) (rows[0] * c.o()), (int) ((rows[0] + rows[1]) * c.o()));
                        assertArrayEquals(want, part.toFloatArray(), (dense ? "dense" : "BH4") + " rows " + Arrays.toString(rows));
                    }
                }
            } finally {
                params.values().forEach(Tensor::close);
            }
        }
    }

    @Test
    void anOutputOverlappingTheInputIsRejected() {
        Random rnd = new Random(22);
        Map<String, Tensor> params = LookupFfnTest.randomParams(rnd, CASE);
        try (LookupFfn layer = LookupFfn.fromTensors(params::get, "overlap", LookupFfn.Options.DEFAULT);
             Tensor buf = LookupFfnTest.randomInput(rnd, CASE.batch() + 1, CASE.d()); WorkerPool pool = WorkerPool.create(2)) {
            long row = CASE.d() * 4L, rows = CASE.batch();
            Tensor x = Tensor.wrap(buf.segment().asSlice(0, rows * row), DType.F32, rows, CASE.d());
            Tensor shifted = Tensor.wrap(buf.segment().asSlice(row, rows * row), DType.F32, rows, CASE.o());
            ShapeException e = assertThrows(ShapeException.class, () -> layer.forward(x, shifted, pool));
            assertTrue(e.getMessage().contains("output tensor overlaps input tensor"), e.getMessage());
            assertThrows(ShapeException.class, () -> layer.forward(x, x, pool));
        } finally {
            params.values().forEach(Tensor::close);
        }
    }

    /** layer.forward on the shared pool from inside a job of the shared pool: 12,800 calls, all bitwise right. */
    @Test
    void forwardNestedInAJobOfTheSamePoolGivesTheSingleThreadedResult() throws Exception {
        Random rnd = new Random(23);
        Map<String, Tensor> params = LookupFfnTest.randomParams(rnd, CASE);
        try (LookupFfn layer = LookupFfn.fromTensors(params::get, "nested", LookupFfn.Options.DEFAULT);
             Tensor x = LookupFfnTest.randomInput(rnd, 64, CASE.d()); Tensor want = Tensor.allocate(DType.F32, 64, CASE.o());
             WorkerPool single = WorkerPool.create(1); WorkerPool two = WorkerPool.create(2)) {
            layer.forward(x, want, single);
            float[] expected = want.toFloatArray();
            AtomicInteger wrong = new AtomicInteger(), calls = new AtomicInteger();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread t = Thread.ofPlatform().start(() -> {
                try {
                    for (WorkerPool outer : new WorkerPool[] {WorkerPool.shared(), two})
                        for (int rep = 0; rep < 100; rep++)
                            outer.forRanges(64, 1, (w, s, e) -> {
                                for (long i = s; i < e; i++) {
                                    try (Tensor y = layer.forward(x)) {
                                        calls.incrementAndGet();
                                        if (!Arrays.equals(expected, y.toFloatArray())) wrong.incrementAndGet();
                                    }
                                    try (Tensor y = Tensor.allocate(DType.F32, 64, CASE.o())) {
                                        layer.forward(x, y, outer);
                                        if (!Arrays.equals(expected, y.toFloatArray())) wrong.incrementAndGet();
                                    }
                                }
                            });
                } catch (Throwable e) {
                    failure.set(e);
                }
            });
            t.join(300_000);
            assertFalse(t.isAlive(), "nested forward calls left a caller waiting");
            if (failure.get() != null) throw new AssertionError("nested forward failed", failure.get());
            assertEquals(12_800, calls.get());
            assertEquals(0, wrong.get(), "wrong results among 25,600 nested calls");
        } finally {
            params.values().forEach(Tensor::close);
        }
    }

    /** Threads call forward while another thread closes the layer: right results or IllegalStateException. */
    @Test
    void closeRacingForwardWaitsForRunningCallsAndLaterCallsThrow() throws Exception {
        Random rnd = new Random(24);
        Map<String, Tensor> params = LookupFfnTest.randomParams(rnd, CASE);
        try (Tensor x = LookupFfnTest.randomInput(rnd, CASE.batch(), CASE.d()); WorkerPool pool = WorkerPool.create(2)) {
            float[] expected;
            try (LookupFfn layer = LookupFfn.fromTensors(params::get, "race", LookupFfn.Options.DEFAULT);
                 Tensor y = layer.forward(x)) {
                expected = y.toFloatArray();
            }
            for (int trial = 0; trial < 40; trial++) {
                LookupFfn layer = LookupFfn.fromTensors(params::get, "race", LookupFfn.Options.DEFAULT);
                AtomicReference<Throwable> failure = new AtomicReference<>();
                AtomicInteger done = new AtomicInteger();
                Thread[] callers = new Thread[4];
                for (int c = 0; c < callers.length; c++) {
                    boolean ownPool = c % 2 == 0;
                    callers[c] = Thread.ofPlatform().start(() -> {
                        try (Tensor out = Tensor.allocate(DType.F32, CASE.batch(), CASE.o())) {
                            while (true) {
                                if (ownPool) layer.forward(x, out, pool);
                                else layer.forward(x, out, WorkerPool.shared());
                                if (!Arrays.equals(expected, out.toFloatArray())) throw new AssertionError("wrong result");
                                done.incrementAndGet();
                            }
                        } catch (IllegalStateException closed) {
                            // the documented answer once close has begun
                        } catch (Throwable e) {
                            failure.set(e);
                        }
                    });
                }
                while (done.get() < trial) Thread.onSpinWait();
                layer.close();
                for (Thread c : callers) c.join(60_000);
                for (Thread c : callers) assertFalse(c.isAlive());
                if (failure.get() != null) throw new AssertionError("trial " + trial, failure.get());
                assertThrows(IllegalStateException.class, () -> layer.forward(x).close());
                layer.close(); // twice is fine
            }
        } finally {
            params.values().forEach(Tensor::close);
        }
    }
}
