package dev.lookupffn.cli;

import dev.lookupffn.bench.BenchReport;
import dev.lookupffn.bench.EmbedBenchmark;
import dev.lookupffn.bench.EmbedReport;
import dev.lookupffn.io.OutputFile;
import dev.lookupffn.parallel.WorkerPool;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.function.IntConsumer;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/**
 * {@code bench --embed}: sentence embeddings, ours against ONNX Runtime on the same model, texts and threads. A
 * mixin of {@link BenchCommand}: these options are its own; threads, repetitions, dtype, output files and progress
 * come from bench's options, the batch size from --batch.
 */
final class EmbedBenchOptions {
    @Option(names = "--embed", description = {"Benchmark sentence embeddings, ours against ONNX Runtime (when it is on "
            + "the class path) on the same model, texts and threads: one text per call, sorted batches of --batch "
            + "(default 32) and, with --callers N, N callers on one shared 1-thread model; interleaved, tokens/s, "
            + "ours / ORT and the worst cosine between the two embeddings. Default texts: 2,000 English sentences of "
            + "Europarl (docs/bench/corpus). Uses --threads, --batch, --repetitions (default 3), --warmup (default 1), "
            + "--dtype, --quick, --json, --chart."})
    boolean embed;

    @Option(names = "--corpus", paramLabel = "FILE", description = "--embed: the texts, one per line (default: the embedded corpus).")
    Path corpus;

    @Option(names = "--model", paramLabel = "M", description = "--embed: a model folder or .onnx file (ONNX Runtime needs an "
            + ".onnx file; default: the embedded all-MiniLM-L6-v2).")
    Path model;

    @Option(names = "--texts", description = "--embed: use the first N texts of the corpus (default: all; --quick: 64).")
    Integer texts;

    @Option(names = "--callers", description = "--embed: also N caller threads, each embedding one text per call on one "
            + "shared model whose calls use 1 thread (compare with one caller with --threads N).")
    Integer callers;

    private static final List<String> NOT_FOR_EMBED = List.of("--tokens", "--dim", "--ffn", "--tables", "--table-rows",
            "--block", "--only", "--seed", "--scaling", "--kernels", "--encoder", "--seq-len", "--layers", "--hidden", "--heads");
    static final List<String> EMBED_ONLY = List.of("--corpus", "--model", "--texts", "--callers");

    /** Rejects the embedding benchmark's options in another bench run (they would be silently ignored). */
    static void rejectWithoutEmbed(BenchCommand cmd) {
        var parsed = cmd.spec.commandLine().getParseResult();
        for (String o : EMBED_ONLY)
            if (parsed.hasMatchedOption(o))
                throw new ParameterException(cmd.spec.commandLine(), o + " applies to the embedding benchmark only: add --embed");
    }

    /** Runs the embedding benchmark with bench's shared options; returns the exit code. */
    int run(BenchCommand cmd) throws Exception {
        var line = cmd.spec.commandLine();
        var parsed = line.getParseResult();
        for (String o : NOT_FOR_EMBED)
            if (parsed.hasMatchedOption(o))
                throw new ParameterException(line, o + " does not apply to --embed");
        Args.threads(cmd.spec, cmd.threads);
        if (callers != null) Args.inRange(cmd.spec, "--callers", callers, 1, Args.MAX_THREADS);
        if (texts != null) Args.inRange(cmd.spec, "--texts", texts, 1, Integer.MAX_VALUE);
        Integer batch = cmd.encoderBench.batch;
        if (batch != null) Args.inRange(cmd.spec, "--batch", batch, 1, 4096);
        int repetitions = parsed.hasMatchedOption("--repetitions") ? cmd.repetitions : cmd.quick ? 2 : 3;
        int warmup = parsed.hasMatchedOption("--warmup") ? cmd.warmup : 1;
        Args.inRange(cmd.spec, "--repetitions", repetitions, 1, BenchCommand.MAX_REPETITIONS);
        Args.inRange(cmd.spec, "--warmup", warmup, 0, BenchCommand.MAX_REPETITIONS);
        EmbedBenchmark.Config config;
        try {
            config = new EmbedBenchmark.Config(model, corpus, texts != null ? texts : cmd.quick ? 64 : 0,
                    cmd.threads == null ? WorkerPool.defaultThreads() : cmd.threads, callers == null ? 0 : callers,
                    batch == null ? 32 : batch, repetitions, warmup, cmd.dtype.toLowerCase(Locale.ROOT));
        } catch (RuntimeException e) {
            throw new ParameterException(line, e.getMessage());
        }
        // a missing folder is found now, not after minutes of measuring
        if (cmd.json != null) OutputFile.checkWritable(cmd.json);
        if (cmd.chart != null) OutputFile.checkWritable(cmd.chart);
        EmbedBenchmark.Result result;
        try (ProgressBar bar = cmd.noProgress ? null : new ProgressBarBuilder().setTaskName("bench --embed")
                .setInitialMax(EmbedBenchmark.steps(config, EmbedBenchmark.ortMissingReason() == null))
                .setStyle(ProgressBarStyle.ASCII).setConsumer(new ConsoleProgressBarConsumer(System.err)).build()) {
            IntConsumer progress = bar == null ? step -> {} : bar::stepBy;
            result = EmbedBenchmark.run(config, progress);
        }
        EmbedReport.print(result, line.getOut());
        if (cmd.json != null) {
            BenchReport.writeJson(EmbedReport.toJson(result), cmd.json);
            line.getErr().println("wrote " + cmd.json);
        }
        if (cmd.chart != null) {
            EmbedReport.writeChart(result, cmd.chart);
            line.getErr().println("wrote " + cmd.chart);
        }
        return 0;
    }
}
