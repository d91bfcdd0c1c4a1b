package dev.lookupffn.jmh;

import dev.lookupffn.ffi.OneDnn;
import dev.lookupffn.ffi.Kernels;
import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * C[m,n] = A[m,k]·Bᵀ at the FFN's shapes: our packed GEMM (rows split over the worker pool) against oneDNN's
 * dnnl_sgemm (its OpenMP pool pinned to the same thread count). Shape "MxNxK".
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class GemmBench {
    @Param({"8192x2048x512", "8192x512x2048"})
    public String shape;

    @Param({"2"})
    public int threads;

    long m, n, k;
    Tensor a, b, c;
    MemorySegment packed;
    Arena arena;
    WorkerPool pool;

    @Setup(Level.Trial)
    public void setup() {
        long[] d = BenchData.dims(shape);
        m = d[0];
        n = d[1];
        k = d[2];
        SplittableRandom rnd = new SplittableRandom(1);
        a = BenchData.random(rnd, 1, m, k);
        b = BenchData.random(rnd, 1, n, k);
        c = BenchData.random(rnd, 1, m, n);
        arena = Arena.ofShared();
        packed = arena.allocate(Kernels.gemmPackBSize(n, k), 64);
        Kernels.gemmPackB(n, k, b.segment(), k, true, packed);
        pool = WorkerPool.create(threads);
        if (OneDnn.available()) OneDnn.get().setNumThreads(threads);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pool.close();
        arena.close();
        a.close();
        b.close();
        c.close();
    }

    @Benchmark
    public void own() {
        MemorySegment as = a.segment(), cs = c.segment();
        pool.forRanges(m, 64, (w, s, e) -> Kernels.gemmPacked(e - s, n, k, as.asSlice(s * k * 4, (e - s) * k * 4), k, packed,
                null, Kernels.Epilogue.NONE, cs.asSlice(s * n * 4, (e - s) * n * 4), n));
    }

    @Benchmark
    public void onednnSgemm() {
        OneDnn.get().sgemm(false, true, m, n, k, 1f, a.segment(), k, b.segment(), k, 0f, c.segment(), n);
    }
}
