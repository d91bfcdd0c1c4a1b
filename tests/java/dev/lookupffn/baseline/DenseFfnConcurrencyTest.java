package dev.lookupffn.baseline;

import dev.lookupffn.ffi.OneDnn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.lookupffn.ffi.Reference;
import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Both backends shared by threads while another thread closes them: every call returns the right result or
 * throws IllegalStateException; nothing crashes (a oneDNN primitive destroyed under a running call killed the
 * JVM). Confined-arena tensors stay on the calling thread.
 */
class DenseFfnConcurrencyTest {
    static final int ROWS = 192;

    static void closeWhileThreadsCall(java.util.function.Supplier<DenseFfn> make, int trials) throws Exception {
        Random rnd = new Random(31);
        try (Tensor x = Reference.gaussian(rnd, 2, 0, ROWS, DenseFfnTest.D); WorkerPool pool = WorkerPool.create(2)) {
            float[] expected;
            try (DenseFfn ffn = make.get(); Tensor out = Tensor.allocate(DType.F32, ROWS, DenseFfnTest.O)) {
                ffn.forward(x, out, pool);
                expected = out.toFloatArray();
            }
            for (int trial = 0; trial < trials; trial++) {
                DenseFfn ffn = make.get();
                AtomicReference<Throwable> failure = new AtomicReference<>();
                AtomicInteger done = new AtomicInteger();
                Thread[] callers = new Thread[3];
                for (int c = 0; c < callers.length; c++)
                    callers[c] = Thread.ofPlatform().start(() -> {
                        try (Tensor out = Tensor.allocate(DType.F32, ROWS, DenseFfnTest.O)) {
                            while (true) {
                                ffn.forward(x, out, pool);
                                if (!Arrays.equals(expected, out.toFloatArray())) throw new AssertionError("wrong result");
                                done.incrementAndGet();
                            }
                        } catch (IllegalStateException closed) {
                            // the documented answer once close has begun
                        } catch (Throwable e) {
                            failure.set(e);
                        }
                    });
                while (done.get() < trial % 4) Thread.onSpinWait();
                ffn.close();
                for (Thread c : callers) c.join(60_000);
                for (Thread c : callers) assertFalse(c.isAlive(), "a caller was left waiting");
                if (failure.get() != null) throw new AssertionError("trial " + trial, failure.get());
                try (Tensor out = Tensor.allocate(DType.F32, ROWS, DenseFfnTest.O)) {
                    assertThrows(IllegalStateException.class, () -> ffn.forward(x, out, pool));
                }
            }
        }
    }

    @Test
    void ownBackendClosedWhileThreadsCallIt() throws Exception {
        DenseFfn.Weights w = DenseFfnTest.weights(new Random(32));
        closeWhileThreadsCall(() -> DenseFfn.own(w, 1e-5f), 30);
    }

    @Test
    void oneDnnBackendClosedWhileThreadsCallItDoesNotCrash() throws Exception {
        Assumptions.assumeTrue(OneDnn.available(), "oneDNN baseline not built");
        DenseFfn.Weights w = DenseFfnTest.weights(new Random(33));
        closeWhileThreadsCall(() -> DenseFfn.oneDnn(w, 1e-5f, ROWS, false, 2), 30);
    }

    @Test
    void confinedTensorsRunOnTheCallingThread() {
        Random rnd = new Random(34);
        DenseFfn.Weights w = DenseFfnTest.weights(rnd);
        try (Tensor x = Reference.gaussian(rnd, 2, 0, ROWS, DenseFfnTest.D); Tensor want = Tensor.allocate(DType.F32, ROWS, DenseFfnTest.O);
             DenseFfn ffn = DenseFfn.own(w, 1e-5f); WorkerPool pool = WorkerPool.create(3); Arena confined = Arena.ofConfined()) {
            ffn.forward(x, want, pool);
            Tensor cx = Tensor.allocate(confined, DType.F32, ROWS, DenseFfnTest.D);
            MemorySegment.copy(x.segment(), 0, cx.segment(), 0, x.byteSize());
            Tensor out = Tensor.allocate(confined, DType.F32, ROWS, DenseFfnTest.O);
            ffn.forward(cx, out, pool);
            assertArrayEquals(want.toFloatArray(), out.toFloatArray());
            if (OneDnn.available()) {
                try (DenseFfn dnn = DenseFfn.oneDnn(w, 1e-5f, ROWS, false, 3); Tensor ref = Tensor.allocate(DType.F32, ROWS, DenseFfnTest.O)) {
                    dnn.forward(x, ref, pool);
                    Tensor out2 = Tensor.allocate(confined, DType.F32, ROWS, DenseFfnTest.O);
                    dnn.forward(cx, out2, pool);
                    assertArrayEquals(ref.toFloatArray(), out2.toFloatArray());
                }
            }
        }
    }
}
