package dev.lookupffn.jmh;

import dev.lookupffn.baseline.DenseFfn;
import dev.lookupffn.ffi.OneDnn;
import dev.lookupffn.layer.LookupFfn;
import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;
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
 * The whole layers at the paper's widths (d 512, FFN 2048, 128 tables × 256, block 64): LookupFFN (fp32 and bf16
 * tables) against the dense FFN on our GEMM and on oneDNN. Run with {@code -prof gc} to see that a forward call
 * allocates nothing on the Java heap.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx8g"})
public class FfnBench {
    @Param({"4096"})
    public long tokens;

    @Param({"2"})
    public int threads;

    static final long D = 512, F = 2048, H = 128, ROWS = 256, BLOCK = 64;

    WorkerPool pool;
    Tensor x, out;
    LookupFfn lookup, lookupBf16;
    DenseFfn denseOwn, denseOneDnn;

    @Setup(Level.Trial)
    public void setup() {
        SplittableRandom rnd = new SplittableRandom(7);
        pool = WorkerPool.create(threads);
        x = BenchData.random(rnd, 1, tokens, D);
        out = Tensor.allocate(DType.F32, tokens, D);
        Map<String, Tensor> p = new LinkedHashMap<>();
        p.put("LayerNorm.weight", BenchData.random(rnd, 1, D));
        p.put("LayerNorm.bias", BenchData.random(rnd, 0.1, D));
        p.put("hash.projection.weight", BenchData.random(rnd, 1 / Math.sqrt(BLOCK * D), 2, 4, D / BLOCK, BLOCK, BLOCK));
        p.put("hash.projection.bias", BenchData.random(rnd, 0.1, H * 8));
        p.put("tables", BenchData.random(rnd, 0.05, H, ROWS, D));
        p.put("bias", BenchData.random(rnd, 0.1, D));
        lookup = LookupFfn.fromTensors(p::get, "jmh", LookupFfn.Options.DEFAULT);
        lookupBf16 = LookupFfn.fromTensors(p::get, "jmh", LookupFfn.Options.DEFAULT.withTableDType(DType.BF16));
        p.values().forEach(Tensor::close);
        DenseFfn.Weights w = new DenseFfn.Weights(BenchData.random(rnd, 1, D), BenchData.random(rnd, 0.1, D),
                BenchData.random(rnd, 1 / Math.sqrt(D), F, D), BenchData.random(rnd, 0.1, F),
                BenchData.random(rnd, 1 / Math.sqrt(F), D, F), BenchData.random(rnd, 0.1, D));
        denseOwn = DenseFfn.own(w, 1e-5f);
        if (OneDnn.available()) denseOneDnn = DenseFfn.oneDnn(w, 1e-5f, tokens, false, threads);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        lookup.close();
        lookupBf16.close();
        denseOwn.close();
        if (denseOneDnn != null) denseOneDnn.close();
        x.close();
        out.close();
        pool.close();
    }

    @Benchmark
    public void lookupffnF32() {
        lookup.forward(x, out, pool);
    }

    @Benchmark
    public void lookupffnBf16() {
        lookupBf16.forward(x, out, pool);
    }

    @Benchmark
    public void denseOwn() {
        denseOwn.forward(x, out, pool);
    }

    @Benchmark
    public void denseOneDnn() {
        if (denseOneDnn == null) throw new IllegalStateException("oneDNN baseline unavailable");
        denseOneDnn.forward(x, out, pool);
    }
}
