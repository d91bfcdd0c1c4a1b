package dev.lookupffn.jmh;

import dev.lookupffn.ffi.Kernels;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
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

/** Each LookupFFN kernel alone, single-threaded, on one batch at the paper's widths (ISA: the CPU's best). */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx8g"})
public class KernelBench {
    @Param({"4096"})
    public long rows;

    static final long D = 512, H = 128, TAU = 8, BLOCK = 64, R = 2, BITS = H * TAU;

    Tensor x, ln, gamma, beta, w, pb, z, score, tables, bias, out;
    Tensor code;
    MemorySegment tablesBf16, workspace, packedF32, packedBf16;
    Arena arena;

    @Setup(Level.Trial)
    public void setup() {
        SplittableRandom rnd = new SplittableRandom(3);
        x = BenchData.random(rnd, 1, rows, D);
        ln = BenchData.random(rnd, 1, rows, D);
        gamma = BenchData.random(rnd, 1, D);
        beta = BenchData.random(rnd, 1, D);
        w = BenchData.random(rnd, 1 / Math.sqrt(BLOCK * D), R, 4, D / BLOCK, BLOCK, BLOCK);
        pb = BenchData.random(rnd, 0.1, BITS);
        z = BenchData.random(rnd, 1, rows, BITS);
        score = BenchData.random(rnd, 1, rows, H);
        tables = BenchData.random(rnd, 0.05, H, 1L << TAU, D);
        bias = BenchData.random(rnd, 0.1, D);
        out = Tensor.allocate(DType.F32, rows, D);
        code = Tensor.allocate(DType.I32, rows, H);
        for (long i = 0; i < rows * H; i++) code.segment().setAtIndex(ValueLayout.JAVA_INT, i, rnd.nextInt(1 << TAU));
        arena = Arena.ofShared();
        tablesBf16 = arena.allocate(tables.elementCount() * 2, 64);
        Kernels.convertF32ToBf16(tables.elementCount(), tables.segment(), tablesBf16);
        workspace = arena.allocate(Math.max(64, Kernels.bh4WorkspaceSize(rows, D)), 64);
        packedF32 = arena.allocate(Kernels.tablesPackSize(H, TAU, D, DType.F32), 64);
        packedBf16 = arena.allocate(Kernels.tablesPackSize(H, TAU, D, DType.BF16), 64);
        Kernels.tablesPack(H, TAU, D, tables.segment(), DType.F32, packedF32);
        Kernels.tablesPack(H, TAU, D, tables.segment(), DType.BF16, packedBf16);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor t : new Tensor[] {x, ln, gamma, beta, w, pb, z, score, tables, bias, out, code}) t.close();
        arena.close();
    }

    @Benchmark
    public void layerNorm() {
        Kernels.layerNorm(rows, D, x.segment(), D, gamma.segment(), beta.segment(), 1e-5f, ln.segment(), D);
    }

    @Benchmark
    public void bh4Project() {
        Kernels.bh4Project(rows, D, D, BLOCK, R, BITS, ln.segment(), D, w.segment(), pb.segment(), workspace, z.segment(), BITS);
    }

    @Benchmark
    public void hashCodeScore() {
        Kernels.hashCodeScore(rows, H, TAU, z.segment(), BITS, code.segment(), H, score.segment(), H);
    }

    @Benchmark
    public void gatherF32() {
        Kernels.gatherAccumPacked(rows, H, TAU, D, code.segment(), H, score.segment(), H, packedF32, DType.F32, bias.segment(),
                out.segment(), D);
    }

    @Benchmark
    public void gatherBf16() {
        Kernels.gatherAccumPacked(rows, H, TAU, D, code.segment(), H, score.segment(), H, packedBf16, DType.BF16, bias.segment(),
                out.segment(), D);
    }
}
