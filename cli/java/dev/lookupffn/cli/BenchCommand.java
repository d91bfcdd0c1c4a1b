package dev.lookupffn.cli;

import dev.lookupffn.bench.BenchReport;
import dev.lookupffn.bench.FfnBenchmark;
import dev.lookupffn.io.OutputFile;
import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.bench.KernelBreakdown;
import dev.lookupffn.bench.ScalingSweep;
import java.nio.file.Path;
import java.util.List;
import java.util.function.IntConsumer;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"LookupFFN against the dense FFN it replaces (our GEMM and oneDNN), side by side, interleaved.",
                "Defaults: the paper's configuration (32768 tokens, d 512, FFN 2048, 128 tables x 256 rows, BH4 block 64, fp32, all cores)."})
final class BenchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--tokens", defaultValue = "32768", description = "Tokens per batch (default: ${DEFAULT-VALUE}).")
    long tokens;

    @Option(names = "--dim", defaultValue = "512", description = "Model width d (default: ${DEFAULT-VALUE}).")
    long dim;

    @Option(names = "--ffn", defaultValue = "2048", description = "Dense FFN hidden width (default: ${DEFAULT-VALUE}).")
    long ffn;

    @Option(names = "--tables", defaultValue = "128", description = "LookupFFN tables h (default: ${DEFAULT-VALUE}).")
    long tables;

    @Option(names = "--table-rows", defaultValue = "256", description = "Rows per table, a power of two (default: ${DEFAULT-VALUE}).")
    long tableRows;

    @Option(names = "--block", defaultValue = "64", description = "BH4 block size (default: ${DEFAULT-VALUE}).")
    long block;

    @Option(names = "--threads", description = "Threads for every candidate (default: all cores).")
    Integer threads;

    @Option(names = "--repetitions", defaultValue = "7", description = "Timed repetitions per candidate (default: ${DEFAULT-VALUE}).")
    int repetitions;

    @Option(names = "--warmup", defaultValue = "2", description = "Untimed warm-up rounds (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--dtype", defaultValue = "f32", description = "f32, bf16, int8 or all (default: ${DEFAULT-VALUE}); "
            + "int8 runs int8-table LookupFFN against the fp32 dense rows.")
    String dtype;

    @Option(names = "--only", split = ",", paramLabel = "NAME", description = "Run only these candidates (comma-separated): "
            + "lookupffn, lookupffn-bf16, lookupffn-int8, dense-own, dense-onednn, dense-onednn-bf16.")
    java.util.Set<String> only = java.util.Set.of();

    @Option(names = "--seed", defaultValue = "42", description = "Seed of the random weights and inputs.")
    long seed;

    @Option(names = "--quick", description = "A small run (4096 tokens, 3 repetitions, 1 warm-up) that finishes in seconds.")
    boolean quick;

    @Option(names = "--json", paramLabel = "FILE", description = "Write the raw numbers as JSON.")
    Path json;

    @Option(names = "--chart", paramLabel = "FILE.png", description = "Write a PNG bar chart.")
    Path chart;

    @Option(names = "--scaling", description = "Also sweep threads (1..N), tokens (1k..64k) and tables (32..256); "
            + "adds a 'scaling' section to the JSON and FILE-scaling.png beside --chart.")
    boolean scaling;

    @Option(names = "--kernels", description = "Also time each LookupFFN kernel alone and the machine's ceilings "
            + "(GEMM GFLOP/s, L2/L3/DRAM read bandwidth) in the same run; adds a 'kernels' section to the JSON.")
    boolean kernels;

    @Option(names = "--no-progress", description = "Do not show the progress bar.")
    boolean noProgress;

    @Option(names = "--verbose", description = "Show stack traces on errors.")
    boolean verbose;

    /** bench --encoder and its options (the whole encoder rather than one FFN layer). */
    @Mixin
    EncoderBenchOptions encoderBench;

    /** bench --embed and its options (sentence embeddings, ours against ONNX Runtime). */
    @Mixin
    EmbedBenchOptions embedBench;

    // Ranges: generous for any real layer, small enough that no single size overflows or asks for absurd memory
    static final long MAX_TOKENS = 1L << 24, MAX_DIM = 1L << 16, MAX_FFN = 1L << 18, MAX_TABLES = 1L << 16,
            MAX_TABLE_ROWS = 1L << 16, MAX_REPETITIONS = 100_000;

    /** Every size in its range before anything is allocated: a usage error (exit 2) naming the option. */
    private void validate() {
        Args.inRange(spec, "--tokens", tokens, 1, MAX_TOKENS);
        Args.inRange(spec, "--dim", dim, 1, MAX_DIM);
        Args.inRange(spec, "--ffn", ffn, 1, MAX_FFN);
        Args.inRange(spec, "--tables", tables, 1, MAX_TABLES);
        if (Long.bitCount(tableRows) != 1 || tableRows < 2 || tableRows > MAX_TABLE_ROWS)
            throw Args.usage(spec, "--table-rows must be a power of two in 2.." + MAX_TABLE_ROWS + ", got " + tableRows);
        long padded = Long.highestOneBit(dim) == dim ? dim : Long.highestOneBit(dim) << 1; // BH4 works on width P
        if (block < 1 || block > padded || Long.bitCount(block) != 1)
            throw Args.usage(spec, "--block must be a power of two in 1.." + padded + " (it divides the padded width "
                    + padded + " of --dim " + dim + "), got " + block);
        Args.threads(spec, threads);
        Args.inRange(spec, "--repetitions", repetitions, 1, MAX_REPETITIONS);
        Args.inRange(spec, "--warmup", warmup, 0, MAX_REPETITIONS);
        long bytes = estimatedBytes();
        long physical = physicalMemory();
        if (physical > 0 && bytes > physical)
            throw Args.usage(spec, String.format("these sizes need about %.1f GiB (--tokens x --dim activations, --dim x --ffn "
                    + "weights, --tables x --table-rows x --dim tables), more than this machine's %.1f GiB",
                    bytes / GIB, physical / GIB));
    }

    private static final double GIB = 1L << 30;

    /**
     * Bytes the largest buffers take: input and output, two dense weight matrices, the tables and their packed
     * copy (for --scaling, at the sweep's largest tokens and tables).
     */
    private long estimatedBytes() {
        double t = scaling ? Math.max(tokens, 65536) : tokens, h = scaling ? Math.max(tables, 256) : tables;
        double b = 4.0 * (2.0 * t * dim + 2.0 * dim * ffn + 2.0 * h * tableRows * dim);
        return b >= Long.MAX_VALUE ? Long.MAX_VALUE : (long) b;
    }

    private static long physicalMemory() {
        if (java.lang.management.ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os)
            return os.getTotalMemorySize();
        return 0;
    }

    @Override
    public Integer call() throws Exception {
        if (embedBench.embed) return embedBench.run(this);
        EmbedBenchOptions.rejectWithoutEmbed(this);
        if (encoderBench.encoder) return encoderBench.run(this);
        EncoderBenchOptions.rejectWithoutEncoder(this);
        if (quick) {
            if (!spec.commandLine().getParseResult().hasMatchedOption("--tokens")) tokens = 4096;
            if (!spec.commandLine().getParseResult().hasMatchedOption("--repetitions")) repetitions = 3;
            if (!spec.commandLine().getParseResult().hasMatchedOption("--warmup")) warmup = 1;
        }
        validate();
        int tau = Long.numberOfTrailingZeros(tableRows);
        FfnBenchmark.Config config;
        try {
            config = new FfnBenchmark.Config(tokens, dim, ffn, tables, tau, block,
                    threads == null ? WorkerPool.defaultThreads() : threads, repetitions, warmup, dtype.toLowerCase(), seed, only);
        } catch (RuntimeException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        // a missing folder is found now, not after minutes of measuring
        if (json != null) OutputFile.checkWritable(json);
        if (chart != null) OutputFile.checkWritable(chart);
        int steps = (config.warmup() + config.repetitions()) * FfnBenchmark.candidateCount(config)
                + (scaling ? ScalingSweep.steps(config) : 0) + (kernels ? KernelBreakdown.steps() : 0);
        FfnBenchmark.Result result;
        List<ScalingSweep.Point> points = List.of();
        KernelBreakdown.Result breakdown = null;
        try (ProgressBar bar = noProgress ? null : new ProgressBarBuilder().setTaskName("bench").setInitialMax(steps)
                .setStyle(ProgressBarStyle.ASCII).setConsumer(new ConsoleProgressBarConsumer(System.err)).build()) {
            IntConsumer progress = bar == null ? step -> {} : bar::stepBy;
            result = FfnBenchmark.run(config, progress);
            if (scaling) points = ScalingSweep.run(config, progress);
            if (kernels) breakdown = KernelBreakdown.run(config, progress);
        }
        var out = spec.commandLine().getOut();
        BenchReport.printTable(result, out);
        if (scaling) BenchReport.printScaling(points, out);
        if (breakdown != null) BenchReport.printKernels(breakdown, out);
        if (json != null) {
            var node = BenchReport.toJson(result);
            if (scaling) BenchReport.addScaling(node, points);
            if (breakdown != null) BenchReport.addKernels(node, breakdown);
            BenchReport.writeJson(node, json);
            spec.commandLine().getErr().println("wrote " + json);
        }
        if (chart != null) {
            BenchReport.writeChart(result, chart);
            spec.commandLine().getErr().println("wrote " + chart);
            if (scaling) {
                String name = chart.getFileName().toString().replaceFirst("\\.png$", "");
                Path scalingChart = chart.resolveSibling(name + "-scaling.png");
                BenchReport.writeScalingChart(points, scalingChart);
                spec.commandLine().getErr().println("wrote " + scalingChart);
            }
        }
        return 0;
    }
}
