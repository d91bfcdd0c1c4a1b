package dev.lookupffn.bench;

import dev.lookupffn.ffi.Kernels;
import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.IntConsumer;

/**
 * Each LookupFFN kernel alone over the benchmark batch (rows split over the same threads), with its FLOPs and
 * bytes counted, next to the machine's ceilings measured in the same run: our packed GEMM's GFLOP/s and the
 * read bandwidth of L2-, L3- and DRAM-sized buffers ({@code lffn_reduce_sum_f32}).
 */
public final class KernelBreakdown {
    /** One kernel: median seconds over the batch, FLOPs and bytes it moves, and what bounds it. */
    public record Kernel(String name, double seconds, double flops, double bytes, String bound) {
        public double gflopPerS() {
            return flops / seconds * 1e-9;
        }

        public double gbPerS() {
            return bytes / seconds * 1e-9;
        }
    }

    public record Result(Map<String, Double> ceilings, List<Kernel> kernels) {}

    static final int REPS = 5;

    private KernelBreakdown() {}

    public static int steps() {
        return REPS * 12;
    }

    public static Result run(FfnBenchmark.Config c, IntConsumer progress) {
        long n = c.tokens(), d = c.dim(), h = c.tables(), tau = c.tau(), o = c.dim(), bits = h * tau;
        long p = Long.highestOneBit(d) == d ? d : Long.highestOneBit(d) << 1;
        long r = Math.max(1, (bits + p - 1) / p), b = c.block();
        SplittableRandom rnd = new SplittableRandom(c.seed());
        Map<String, Double> ceilings = new LinkedHashMap<>();
        List<Kernel> kernels = new ArrayList<>();
        try (WorkerPool pool = WorkerPool.create(c.threads()); Arena arena = Arena.ofShared()) {
            int t = c.threads();
            // ---- ceilings ----
            long gm = 4096, gn = 2048, gk = 512;
            MemorySegment a = random(arena, rnd, gm * gk), w = random(arena, rnd, gn * gk), cc = arena.allocate(gm * gn * 4, 64);
            MemorySegment packed = arena.allocate(Kernels.gemmPackBSize(gn, gk), 64);
            Kernels.gemmPackB(gn, gk, w, gk, true, packed);
            double gemm = time(progress, () -> pool.forRanges(gm, 64, (wk, s, e) -> Kernels.gemmPacked(e - s, gn, gk,
                    a.asSlice(s * gk * 4, (e - s) * gk * 4), gk, packed, null, Kernels.Epilogue.NONE,
                    cc.asSlice(s * gn * 4, (e - s) * gn * 4), gn)));
            ceilings.put("gemm_gflop_per_s", 2.0 * gm * gn * gk / gemm * 1e-9);
            // L1 is left out: a 16 KiB read is too short for a downcall to time it fairly
            long[] sizes = {512L << 10, 8L << 20, 512L << 20};
            String[] names = {"l2", "l3", "dram"};
            for (int i = 0; i < sizes.length; i++) {
                long perThread = sizes[i] / 4, total = Math.max(perThread, (1L << 30) / 4 / t); // ~1 GiB read per thread
                long passes = Math.max(1, total / perThread);
                MemorySegment buf = random(arena, rnd, perThread * t);
                MemorySegment sums = arena.allocate(64L * t, 64);
                double s = time(progress, () -> pool.forRanges(t, 1, (wk, st, en) -> {
                    for (long th = st; th < en; th++)
                        for (long k = 0; k < passes; k++)
                            Kernels.reduceSum(perThread, buf.asSlice(th * perThread * 4, perThread * 4), sums.asSlice(th * 64, 4));
                }));
                ceilings.put(names[i] + "_read_gb_per_s", (double) passes * perThread * 4 * t / s * 1e-9);
            }
            // ---- kernels over the batch ----
            // the parameters and input of the bench's lookupffn row (realistic code spread matters to the gather)
            Map<String, Tensor> params = FfnBenchmark.lookupParams(rnd, c);
            Tensor input = FfnBenchmark.gaussian(rnd, 2, n, d);
            MemorySegment x = input.segment(), u = arena.allocate(n * d * 4, 64), z = arena.allocate(n * bits * 4, 64);
            MemorySegment gamma = params.get("LayerNorm.weight").segment(), beta = params.get("LayerNorm.bias").segment();
            MemorySegment pw = params.get("hash.projection.weight").segment(), pb = params.get("hash.projection.bias").segment();
            MemorySegment bias = params.get("bias").segment(), table = params.get("tables").segment();
            MemorySegment code = arena.allocate(n * h * 4, 64), score = arena.allocate(n * h * 4, 64), out = arena.allocate(n * o * 4, 64);
            MemorySegment tf = arena.allocate(Kernels.tablesPackSize(h, tau, o, DType.F32), 64);
            MemorySegment tb = arena.allocate(Kernels.tablesPackSize(h, tau, o, DType.BF16), 64);
            Kernels.tablesPack(h, tau, o, table, DType.F32, tf);
            Kernels.tablesPack(h, tau, o, table, DType.BF16, tb);
            MemorySegment pwPacked = arena.allocate(Kernels.bh4PackSize(d, p, b, r, bits), 64);
            Kernels.bh4Pack(d, p, b, r, bits, pw, pwPacked);
            long wsBh4 = Kernels.bh4WorkspaceSize(n, p), wsFused = Kernels.lookupffnWorkspaceSize(n, d, p, h, tau);
            MemorySegment[] bh4Ws = new MemorySegment[t], fusedWs = new MemorySegment[t];
            for (int i = 0; i < t; i++) {
                bh4Ws[i] = arena.allocate(Math.max(64, wsBh4), 64);
                fusedWs[i] = arena.allocate(Math.max(64, wsFused), 64);
            }
            double ln = time(progress, () -> pool.forRanges(n, 64, (wk, s, e) -> Kernels.layerNorm(e - s, d,
                    x.asSlice(s * d * 4, (e - s) * d * 4), d, gamma, beta, 1e-5f, u.asSlice(s * d * 4, (e - s) * d * 4), d)));
            kernels.add(new Kernel("layernorm", ln, 8.0 * d * n, 8.0 * d * n, "memory"));
            double bh4 = time(progress, () -> pool.forRanges(n, 64, (wk, s, e) -> Kernels.bh4Project(e - s, d, p, b, r, bits,
                    u.asSlice(s * d * 4, (e - s) * d * 4), d, pw, pb, bh4Ws[wk], z.asSlice(s * bits * 4, (e - s) * bits * 4), bits)));
            double bh4Flops = r * 4.0 * (2.0 * p * b + p * (63 - Long.numberOfLeadingZeros(p))) * n;
            kernels.add(new Kernel("bh4_project", bh4, bh4Flops, 4.0 * (d + bits) * n, "compute"));
            double hash = time(progress, () -> pool.forRanges(n, 64, (wk, s, e) -> Kernels.hashCodeScore(e - s, h, tau,
                    z.asSlice(s * bits * 4, (e - s) * bits * 4), bits, code.asSlice(s * h * 4, (e - s) * h * 4), h,
                    score.asSlice(s * h * 4, (e - s) * h * 4), h)));
            kernels.add(new Kernel("hash_code_score", hash, 6.0 * bits * n, 4.0 * (bits + 2 * h) * n, "compute"));
            for (boolean bf16 : new boolean[] {false, true}) {
                MemorySegment tab = bf16 ? tb : tf;
                double g = time(progress, () -> pool.forRanges(n, 64, (wk, s, e) -> Kernels.gatherAccumPacked(e - s, h, tau, o,
                        code.asSlice(s * h * 4, (e - s) * h * 4), h, score.asSlice(s * h * 4, (e - s) * h * 4), h, tab, bf16 ? DType.BF16 : DType.F32, bias,
                        out.asSlice(s * o * 4, (e - s) * o * 4), o)));
                kernels.add(new Kernel(bf16 ? "gather_bf16" : "gather_f32", g, 2.0 * h * o * n, (bf16 ? 2.0 : 4.0) * h * o * n,
                        "cache reads"));
            }
            for (boolean bf16 : new boolean[] {false, true}) {
                MemorySegment tab = bf16 ? tb : tf;
                double f = time(progress, () -> pool.forRanges(n, 64, (wk, s, e) -> Kernels.lookupffnForward(e - s, d, p, b, r, h, tau,
                        o, x.asSlice(s * d * 4, (e - s) * d * 4), d, gamma, beta, 1e-5f, pwPacked, pb, tab, bf16 ? DType.BF16 : DType.F32, bias, fusedWs[wk],
                        out.asSlice(s * o * 4, (e - s) * o * 4), o)));
                kernels.add(new Kernel(bf16 ? "fused_layer_bf16" : "fused_layer_f32", f, bh4Flops + 2.0 * h * o * n,
                        (8.0 * d + (bf16 ? 2.0 : 4.0) * h * o) * n, "all"));
            }
            input.close();
            params.values().forEach(Tensor::close);
        }
        return new Result(ceilings, kernels);
    }

    private static MemorySegment random(Arena arena, SplittableRandom rnd, long count) {
        MemorySegment m = arena.allocate(count * 4, 64);
        for (long i = 0; i < count; i++) m.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (rnd.nextDouble() * 2 - 1));
        return m;
    }

    /** Median of REPS timed runs after one warm-up. */
    private static double time(IntConsumer progress, Runnable run) {
        run.run();
        double[] t = new double[REPS];
        for (int i = 0; i < REPS; i++) {
            long t0 = System.nanoTime();
            run.run();
            t[i] = (System.nanoTime() - t0) * 1e-9;
            progress.accept(1);
        }
        return FfnBenchmark.median(t);
    }
}
