package dev.lookupffn.cli;

import dev.lookupffn.bench.BenchReport;
import dev.lookupffn.bench.EncoderBenchmark;
import dev.lookupffn.parallel.WorkerPool;
import java.util.List;
import java.util.function.IntConsumer;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/**
 * {@code bench --encoder}: the whole pre-norm encoder with a dense FFN (our GEMM, oneDNN) against the same encoder
 * with LookupFFN (fp32, bf16 or int8 tables). A mixin of {@link BenchCommand}: these options are the encoder's own; the
 * widths, repetitions, dtype, output files and progress come from bench's options.
 */
final class EncoderBenchOptions {
    @Option(names = "--encoder", description = {"Benchmark a whole pre-norm encoder instead of one FFN layer: rows "
            + "encoder-dense-own, encoder-dense-onednn, encoder-lookupffn, encoder-lookupffn-bf16, encoder-lookupffn-int8 (--dtype int8 or all). Defaults: the training "
            + "code's smallest LookupFFN encoder (64 x 128 tokens, hidden 512, 8 heads, 4 layers, 64 tables x 256 rows, "
            + "block 64, dense FFN 2048); --tables 128 is the paper's layer. Uses --ffn, --tables, --table-rows, --block, "
            + "--threads, --repetitions, --warmup, --dtype, --only, --seed, --quick, --json, --chart."})
    boolean encoder;

    @Option(names = "--batch", description = "--encoder: sequences per batch (default: 64; --quick: 8).")
    Integer batch;

    @Option(names = "--seq-len", description = "--encoder: tokens per sequence (default: 128).")
    Integer seqLen;

    @Option(names = "--layers", description = "--encoder: encoder layers (default: 4).")
    Integer layers;

    @Option(names = "--hidden", description = "--encoder: model width (default: 512).")
    Integer hidden;

    @Option(names = "--heads", description = "--encoder: attention heads; head size = hidden / heads (default: 8).")
    Integer heads;

    /** Options of bench that do not apply to the encoder benchmark. */
    private static final List<String> FFN_ONLY = List.of("--tokens", "--dim", "--scaling", "--kernels");
    private static final List<String> ENCODER_ONLY = List.of("--batch", "--seq-len", "--layers", "--hidden", "--heads");

    /** Rejects the encoder's options in an FFN-layer run (they would be silently ignored). */
    static void rejectWithoutEncoder(BenchCommand cmd) {
        var parsed = cmd.spec.commandLine().getParseResult();
        for (String o : ENCODER_ONLY)
            if (parsed.hasMatchedOption(o))
                throw new ParameterException(cmd.spec.commandLine(), o + " applies to the encoder benchmark only: add --encoder");
    }

    /** --only takes the rows' names or bench's short ones: lookupffn means encoder-lookupffn. */
    private static java.util.Set<String> encoderNames(java.util.Set<String> only) {
        java.util.Set<String> names = new java.util.LinkedHashSet<>();
        for (String n : only)
            names.add(EncoderBenchmark.Config.NAMES.contains("encoder-" + n) ? "encoder-" + n : n);
        return names;
    }

    /** Runs the encoder benchmark with bench's shared options; returns the exit code. */
    int run(BenchCommand cmd) throws Exception {
        var line = cmd.spec.commandLine();
        var parsed = line.getParseResult();
        for (String o : FFN_ONLY)
            if (parsed.hasMatchedOption(o))
                throw new ParameterException(line, o + " does not apply to --encoder (tokens are --batch x --seq-len, the width is --hidden)");
        if (Long.bitCount(cmd.tableRows) != 1 || cmd.tableRows < 2)
            throw new ParameterException(line, "--table-rows must be a power of two >= 2, got " + cmd.tableRows);
        Args.threads(cmd.spec, cmd.threads);
        EncoderBenchmark.Config d = EncoderBenchmark.Config.defaults(1);
        int repetitions = cmd.quick && !parsed.hasMatchedOption("--repetitions") ? 3 : cmd.repetitions;
        int warmup = cmd.quick && !parsed.hasMatchedOption("--warmup") ? 1 : cmd.warmup;
        EncoderBenchmark.Config config;
        try {
            config = new EncoderBenchmark.Config(batch != null ? batch : cmd.quick ? 8 : d.batch(),
                    seqLen != null ? seqLen : d.seqLen(), layers != null ? layers : d.layers(),
                    hidden != null ? hidden : d.hidden(), heads != null ? heads : d.heads(),
                    parsed.hasMatchedOption("--ffn") ? cmd.ffn : d.ffn(),
                    parsed.hasMatchedOption("--tables") ? cmd.tables : d.tables(),
                    Long.numberOfTrailingZeros(cmd.tableRows), parsed.hasMatchedOption("--block") ? cmd.block : d.block(),
                    cmd.threads == null ? WorkerPool.defaultThreads() : cmd.threads, repetitions, warmup,
                    cmd.dtype.toLowerCase(java.util.Locale.ROOT), cmd.seed, encoderNames(cmd.only));
        } catch (RuntimeException e) {
            throw new ParameterException(line, e.getMessage());
        }
        // a missing folder is found now, not after minutes of measuring
        if (cmd.json != null) dev.lookupffn.io.OutputFile.checkWritable(cmd.json);
        if (cmd.chart != null) dev.lookupffn.io.OutputFile.checkWritable(cmd.chart);
        if (EncoderBenchmark.candidates(config).isEmpty())
            throw new ParameterException(line, "--only " + String.join(",", cmd.only) + " with --dtype " + cmd.dtype
                    + " selects no candidate that can run here");
        EncoderBenchmark.Result result;
        try (ProgressBar bar = cmd.noProgress ? null : new ProgressBarBuilder().setTaskName("bench --encoder")
                .setInitialMax(EncoderBenchmark.steps(config)).setStyle(ProgressBarStyle.ASCII)
                .setConsumer(new ConsoleProgressBarConsumer(System.err)).build()) {
            IntConsumer progress = bar == null ? step -> {} : bar::stepBy;
            result = EncoderBenchmark.run(config, progress);
        }
        BenchReport.printEncoderTable(result, line.getOut());
        if (cmd.json != null) {
            BenchReport.writeJson(BenchReport.toJson(result), cmd.json);
            line.getErr().println("wrote " + cmd.json);
        }
        if (cmd.chart != null) {
            BenchReport.writeChart(result, cmd.chart);
            line.getErr().println("wrote " + cmd.chart);
        }
        return 0;
    }
}
