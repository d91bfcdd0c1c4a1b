package dev.lookupffn.bench;

import dev.lookupffn.LookupFfnException.ShapeException;
import dev.lookupffn.baseline.DenseFfn;
import dev.lookupffn.ffi.OneDnn;
import dev.lookupffn.ffi.Kernels;
import dev.lookupffn.layer.LookupFfn;
import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.IntConsumer;

/**
 * LookupFFN against the dense FFN it replaces, side by side: every candidate runs the same random batch, and the
 * repetitions are interleaved (A B C A B C …) after warm-up so that machine noise hits all of them alike. Weights
 * are random (seeded): the comparison is about speed.
 */
public final class FfnBenchmark {
    /**
     * What to run. dtypes: "f32" (fp32 LookupFFN and dense rows), "bf16" (bf16-table LookupFFN, our dense and
     * oneDNN's bf16 dense), "int8" (int8-table LookupFFN against the fp32 dense rows) or "all".
     */
    public record Config(long tokens, long dim, long ffn, long tables, int tau, long block, int threads, int repetitions,
                         int warmup, String dtypes, long seed, java.util.Set<String> only) {
        /** All candidates names, in table order. */
        public static final List<String> NAMES = List.of("lookupffn", "lookupffn-bf16", "lookupffn-int8", "dense-own",
                "dense-onednn", "dense-onednn-bf16");

        public Config(long tokens, long dim, long ffn, long tables, int tau, long block, int threads, int repetitions,
                      int warmup, String dtypes, long seed) {
            this(tokens, dim, ffn, tables, tau, block, threads, repetitions, warmup, dtypes, seed, java.util.Set.of());
        }

        public Config {
            only = java.util.Set.copyOf(only);
            for (String n : only)
                if (!NAMES.contains(n)) throw new ShapeException("unknown benchmark candidate '" + n + "'; known: " + NAMES);
            if (tokens < 1 || dim < 1 || ffn < 1 || tables < 1 || block < 1 || threads < 1 || repetitions < 1 || warmup < 0)
                throw new ShapeException("benchmark sizes must be positive: " + this);
            if (tau < 1 || tau > 16) throw new ShapeException("tau must be in 1..16, got " + tau);
            if (!List.of("f32", "bf16", "int8", "all").contains(dtypes))
                throw new ShapeException("dtype must be f32, bf16, int8 or all, got " + dtypes);
        }

        /** The paper's configuration (LookupFFN paper, Table 2): 32768 tokens, d 512, FFN 2048, 128 × 256 tables, block 64. */
        public static Config paper(int threads) {
            return new Config(32768, 512, 2048, 128, 8, 64, threads, 7, 2, "f32", 42);
        }

        /** Whether candidate {@code name} runs: its dtype is selected and it is in {@code only} (empty: all). */
        boolean wants(String name) {
            boolean dtypeOk = dtypes.equals("all") || switch (name) {
                case "lookupffn" -> dtypes.equals("f32");
                case "lookupffn-bf16", "dense-onednn-bf16" -> dtypes.equals("bf16");
                case "lookupffn-int8" -> dtypes.equals("int8");
                case "dense-onednn" -> !dtypes.equals("bf16"); // int8 tables are judged against oneDNN's fp32 FFN
                default -> true;                                  // dense-own
            };
            return dtypeOk && (only.isEmpty() || only.contains(name)) && (!name.startsWith("dense-onednn") || OneDnn.available());
        }

        public Config withTokens(long t) {
            return new Config(t, dim, ffn, tables, tau, block, threads, repetitions, warmup, dtypes, seed, only);
        }

        public Config withThreads(int n) {
            return new Config(tokens, dim, ffn, tables, tau, block, n, repetitions, warmup, dtypes, seed, only);
        }

        public Config withTables(long h) {
            return new Config(tokens, dim, ffn, h, tau, block, threads, repetitions, warmup, dtypes, seed, only);
        }

        public Config withOnly(java.util.Set<String> names) {
            return new Config(tokens, dim, ffn, tables, tau, block, threads, repetitions, warmup, dtypes, seed, names);
        }
    }

    /**
     * One candidate's timings. speedupVsOnednn = (oneDNN f32 dense median) / (this median); NaN without oneDNN.
     * tableBytes: the LookupFFN layer's packed tables (int8: with their scales), -1 for dense rows.
     */
    public record Row(String name, String dtype, double[] seconds, double medianS, double minS, double maxS,
                      double tokensPerS, double gflopPerS, double speedupVsOnednn, long tableBytes) {}

    public record Result(Config config, Map<String, Object> machine, List<Row> rows, List<String> warnings) {
        public Row row(String name) {
            return rows.stream().filter(r -> r.name().equals(name)).findFirst().orElse(null);
        }
    }

    private record Candidate(String name, String dtype, double flopsPerRow, Runnable run, AutoCloseable resource,
                             long tableBytes) {
        Candidate(String name, String dtype, double flopsPerRow, Runnable run, AutoCloseable resource) {
            this(name, dtype, flopsPerRow, run, resource, -1);
        }
    }

    private FfnBenchmark() {}

    /** Runs the comparison; {@code progress} receives each finished run (warmup + timed) as a step. */
    public static Result run(Config c, IntConsumer progress) {
        List<String> warnings = new ArrayList<>();
        List<Candidate> candidates = new ArrayList<>();
        SplittableRandom rnd = new SplittableRandom(c.seed());
        try (WorkerPool pool = WorkerPool.create(c.threads());
             Tensor x = gaussian(rnd, 2, c.tokens(), c.dim());
             Tensor out = Tensor.allocate(DType.F32, c.tokens(), c.dim())) {
            try {
                Map<String, Tensor> lookupParams = lookupParams(rnd, c);
                DenseFfn.Weights dense = denseWeights(rnd, c);
                try {
                    double lookupFlops = lookupFlopsPerRow(c);
                    if (c.wants("lookupffn")) {
                        LookupFfn layer = LookupFfn.fromTensors(lookupParams::get, "bench", LookupFfn.Options.DEFAULT);
                        candidates.add(new Candidate("lookupffn", "f32", lookupFlops, () -> layer.forward(x, out, pool), layer,
                                layer.tableBytes()));
                    }
                    if (c.wants("lookupffn-bf16")) {
                        LookupFfn layer = LookupFfn.fromTensors(lookupParams::get, "bench",
                                LookupFfn.Options.DEFAULT.withTableDType(DType.BF16));
                        candidates.add(new Candidate("lookupffn-bf16", "bf16", lookupFlops, () -> layer.forward(x, out, pool), layer,
                                layer.tableBytes()));
                    }
                    if (c.wants("lookupffn-int8")) {
                        LookupFfn layer = LookupFfn.fromTensors(lookupParams::get, "bench",
                                LookupFfn.Options.DEFAULT.withTableDType(DType.I8));
                        candidates.add(new Candidate("lookupffn-int8", "int8", lookupFlops, () -> layer.forward(x, out, pool), layer,
                                layer.tableBytes()));
                    }
                    if (c.wants("dense-own")) {
                        DenseFfn own = DenseFfn.own(dense, 1e-5f);
                        candidates.add(new Candidate("dense-own", "f32", own.flopsPerRow(), () -> own.forward(x, out, pool), own));
                    }
                    if (c.wants("dense-onednn")) {
                        DenseFfn dnn = DenseFfn.oneDnn(dense, 1e-5f, c.tokens(), false, c.threads());
                        candidates.add(new Candidate("dense-onednn", "f32", dnn.flopsPerRow(), () -> dnn.forward(x, out, pool), dnn));
                    }
                    if (c.wants("dense-onednn-bf16")) {
                        DenseFfn dnn = DenseFfn.oneDnn(dense, 1e-5f, c.tokens(), true, c.threads());
                        candidates.add(new Candidate("dense-onednn-bf16", "bf16", dnn.flopsPerRow(), () -> dnn.forward(x, out, pool), dnn));
                    }
                    if (!OneDnn.available()) warnings.add("oneDNN baseline unavailable: " + unavailableReason());
                } finally {
                    lookupParams.values().forEach(Tensor::close);
                    closeAll(dense);
                }
                double[][] times = new double[candidates.size()][c.repetitions()];
                for (int rep = -c.warmup(); rep < c.repetitions(); rep++) {
                    for (int i = 0; i < candidates.size(); i++) {
                        long t0 = System.nanoTime();
                        candidates.get(i).run().run();
                        long t1 = System.nanoTime();
                        if (rep >= 0) times[i][rep] = (t1 - t0) * 1e-9;
                        progress.accept(1);
                    }
                }
                return new Result(c, machine(c), rows(c, candidates, times, warnings), warnings);
            } finally {
                for (Candidate k : candidates) {
                    try {
                        k.resource().close();
                    } catch (Exception ignored) {
                        // closing native memory does not fail
                    }
                }
            }
        }
    }

    /** Runs (warmup + repetitions) × candidates steps in total; the number of candidates for a config. */
    public static int candidateCount(Config c) {
        return (int) Config.NAMES.stream().filter(c::wants).count();
    }

    private static String unavailableReason() {
        try {
            OneDnn.get();
            return "";
        } catch (RuntimeException e) {
            return e.getMessage();
        }
    }

    private static List<Row> rows(Config c, List<Candidate> candidates, double[][] times, List<String> warnings) {
        double[] medians = new double[candidates.size()];
        double onednn = Double.NaN;
        for (int i = 0; i < candidates.size(); i++) {
            medians[i] = median(times[i]);
            if (candidates.get(i).name().equals("dense-onednn")) onednn = medians[i];
        }
        if (Double.isNaN(onednn)) // a bf16-only run compares with oneDNN's bf16 dense FFN
            for (int i = 0; i < candidates.size(); i++)
                if (candidates.get(i).name().equals("dense-onednn-bf16")) onednn = medians[i];
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < candidates.size(); i++) {
            Candidate k = candidates.get(i);
            double[] t = times[i];
            double min = Arrays.stream(t).min().orElseThrow(), max = Arrays.stream(t).max().orElseThrow();
            if (t.length >= 3 && (max - min) / medians[i] > 0.25)
                warnings.add(String.format("%s: times spread %.0f%% around the median: the machine was noisy; "
                        + "compare ratios, or run again with more --repetitions", k.name(), 100 * (max - min) / medians[i]));
            rows.add(new Row(k.name(), k.dtype(), t, medians[i], min, max, c.tokens() / medians[i],
                    k.flopsPerRow() * c.tokens() / medians[i] * 1e-9, onednn / medians[i], k.tableBytes()));
        }
        return rows;
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    /** LookupFFN FLOPs per row: BH4 (R·4 stages of block multiply + Hadamard) and the weighted gather. */
    static double lookupFlopsPerRow(Config c) {
        long p = Long.highestOneBit(c.dim()) == c.dim() ? c.dim() : Long.highestOneBit(c.dim()) << 1;
        long repeats = Math.max(1, (c.tables() * c.tau() + p - 1) / p);
        double bh4 = repeats * 4.0 * (2.0 * p * c.block() + p * (63 - Long.numberOfLeadingZeros(p)));
        return bh4 + 2.0 * c.tables() * c.dim();
    }

    /**
     * Random LookupFFN parameters with the magnitudes a trained layer has: LayerNorm weight near 1, BH4 blocks
     * scaled by 1/sqrt(b·P) so that every stage keeps the norm (z of order 1, codes spread over all rows), small
     * biases. native/bench/lookup-bench.c draws the same distributions, so C- and Java-driven runs compare.
     */
    static Map<String, Tensor> lookupParams(SplittableRandom rnd, Config c) {
        long d = c.dim(), bits = c.tables() * c.tau();
        long p = Long.highestOneBit(d) == d ? d : Long.highestOneBit(d) << 1;
        long repeats = Math.max(1, (bits + p - 1) / p);
        if (p % c.block() != 0) throw new ShapeException("BH4 block " + c.block() + " must divide the padded width " + p);
        Map<String, Tensor> m = new LinkedHashMap<>();
        Tensor lnWeight = gaussian(rnd, 0.2, d);
        for (long i = 0; i < d; i++) lnWeight.setFloat(i, 1 + lnWeight.getFloat(i));
        m.put("LayerNorm.weight", lnWeight);
        m.put("LayerNorm.bias", gaussian(rnd, 0.2, d));
        m.put("hash.projection.weight", gaussian(rnd, 1 / Math.sqrt((double) c.block() * p), repeats, 4, p / c.block(), c.block(), c.block()));
        m.put("hash.projection.bias", gaussian(rnd, 0.1, bits));
        m.put("tables", gaussian(rnd, 0.05, c.tables(), 1L << c.tau(), d));
        m.put("bias", gaussian(rnd, 0.1, d));
        return m;
    }

    private static DenseFfn.Weights denseWeights(SplittableRandom rnd, Config c) {
        return new DenseFfn.Weights(gaussian(rnd, 1, c.dim()), gaussian(rnd, 0.1, c.dim()),
                gaussian(rnd, 1 / Math.sqrt(c.dim()), c.ffn(), c.dim()), gaussian(rnd, 0.1, c.ffn()),
                gaussian(rnd, 1 / Math.sqrt(c.ffn()), c.dim(), c.ffn()), gaussian(rnd, 0.1, c.dim()));
    }

    private static void closeAll(DenseFfn.Weights w) {
        for (Tensor t : List.of(w.lnWeight(), w.lnBias(), w.w1(), w.b1(), w.w2(), w.b2())) t.close();
    }

    /** Normal-ish values quickly (sum of uniforms): the benchmark needs plausible magnitudes, not exact Gaussians. */
    static Tensor gaussian(SplittableRandom rnd, double scale, long... shape) {
        Tensor t = Tensor.allocate(DType.F32, shape);
        var seg = t.segment();
        for (long i = 0, n = t.elementCount(); i < n; i++) {
            double g = rnd.nextDouble() + rnd.nextDouble() + rnd.nextDouble() - 1.5; // variance 1/4
            seg.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i, (float) (2 * g * scale));
        }
        return t;
    }

    /** Facts about the machine and software that the numbers depend on. */
    static Map<String, Object> machine(Config c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("cpu", cpuModel());
        m.put("logical_cpus", Runtime.getRuntime().availableProcessors());
        m.put("threads", c.threads());
        m.put("isa", Kernels.effectiveIsa().name());
        m.put("jdk", System.getProperty("java.vm.name") + " " + Runtime.version());
        m.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch"));
        m.put("lookupffn", Kernels.version());
        m.put("onednn", OneDnn.available() ? OneDnn.get().version() : "unavailable");
        String wait = System.getenv("OMP_WAIT_POLICY");
        m.put("omp_wait_policy", wait == null || wait.isBlank() ? "unset (OpenMP threads spin after each region)" : wait);
        return m;
    }

    static String cpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo")))
                if (line.startsWith("model name")) return line.substring(line.indexOf(':') + 1).trim();
        } catch (IOException | RuntimeException ignored) {
            // not Linux: fall through
        }
        return System.getProperty("os.arch");
    }
}
