package dev.lookupffn.layer;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.management.ThreadMXBean;
import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.lang.management.ManagementFactory;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * What a warm forward call allocates on the Java heap, counted over the caller and every pool worker.
 * BH4 layers (one fused downcall per thread): nothing, once each thread has made the row views of these
 * tensors (kept per thread until other tensors or rows come). Dense-projection layers (a few downcalls per
 * 64-row tile): slice views the JIT usually eliminates, at worst a few per tile. Counting bytes is
 * deterministic, unlike timing.
 */
class ForwardAllocationTest {
    /**
     * Ids of the threads that run forward calls: the caller and every pool worker. (Not every live thread: the
     * test runner's own threads allocate now and then, a few hundred bytes per window, whatever the layer does.)
     */
    static long[] allThreadIds() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t == Thread.currentThread() || t.getName().startsWith("lookupffn-worker"))
                .mapToLong(Thread::threadId).toArray();
    }

    /** Bytes allocated so far by the given threads; itself allocates only the result array. */
    static long allocatedBy(ThreadMXBean mx, long[] ids) {
        long sum = 0;
        for (long b : mx.getThreadAllocatedBytes(ids)) if (b > 0) sum += b;
        return sum;
    }

    /** Bytes per warm call of layer.forward on a batch of {@code rows}, net of the measurement's own array. */
    static double bytesPerCall(ThreadMXBean mx, LookupFfn layer, int rows, int d, int o, Random rnd) {
        try (Tensor x = LookupFfnTest.randomInput(rnd, rows, d); Tensor out = Tensor.allocate(DType.F32, rows, o);
             WorkerPool pool = WorkerPool.create(2)) {
            int warm = Math.max(200, 200_000 / rows), calls = Math.max(200, 100_000 / rows);
            for (int i = 0; i < warm; i++) layer.forward(x, out, pool);
            long[] ids = allThreadIds();
            long probe0 = allocatedBy(mx, ids), probe1 = allocatedBy(mx, ids); // what one measurement costs
            long before = allocatedBy(mx, ids);
            for (int i = 0; i < calls; i++) layer.forward(x, out, pool);
            long after = allocatedBy(mx, ids);
            return (after - before - (probe1 - probe0)) / (double) calls;
        }
    }

    @Test
    void warmBh4CallsAllocateNothingAndDenseCallsASmallConstant() {
        ThreadMXBean mx = (ThreadMXBean) ManagementFactory.getThreadMXBean();
        Random rnd = new Random(4);
        for (boolean dense : new boolean[] {false, true}) {
            LookupFfnTest.Case c = new LookupFfnTest.Case("alloc", 64, 48, 16, 6, 16, dense, 64);
            Map<String, Tensor> params = LookupFfnTest.randomParams(rnd, c);
            try (LookupFfn layer = LookupFfn.fromTensors(params::get, "alloc", LookupFfn.Options.DEFAULT)) {
                // JIT: C2 compiles the whole call path first, inline (8 rows) and dispatched to a worker (4096)
                bytesPerCall(mx, layer, 8, c.d(), c.o(), rnd);
                bytesPerCall(mx, layer, 4096, c.d(), c.o(), rnd);
                double small = bytesPerCall(mx, layer, 8, c.d(), c.o(), rnd);
                double large = bytesPerCall(mx, layer, 4096, c.d(), c.o(), rnd);
                String what = (dense ? "dense" : "BH4") + " forward: " + small + " B/call at 8 rows, " + large + " at 4096";
                if (dense) assertTrue(small < 512 && large < 4096 * 4, what); // at most ~4 B per row
                else assertTrue(small < 1 && large < 1, what); // the row views are reused: nothing per call
                System.out.println(what);
            } finally {
                params.values().forEach(Tensor::close);
            }
        }
    }
}
