package dev.lookupffn.spark;

import dev.lookupffn.LookupFfnException;
import dev.lookupffn.model.Encoder;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code lookupffn spark-embed}: a Spark job that adds an embedding column to a text or Parquet input and writes
 * Parquet; with {@code --bench}, Spark throughput next to the single-JVM {@link Encoder} on the same corpus.
 * Exit codes: 0 success, 1 a failure (one line on stderr; {@code --verbose} adds the stack trace), 2 bad arguments
 * (with usage).
 */
@Command(name = "spark-embed", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Embed a text column with Apache Spark and write Parquet (input columns + the embedding, in input order).",
                "A .txt input gives one row per line in a column named by --text-column."})
public final class SparkEmbedCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--input", paramLabel = "FILE", description = "A .txt file (one text per line, UTF-8) or a .parquet file/folder.")
    String input;

    @Option(names = "--text-column", paramLabel = "NAME", defaultValue = "text",
            description = "The text column (.parquet), or the name given to the lines (.txt). Default: ${DEFAULT-VALUE}.")
    String textColumn;

    @Option(names = "--output", paramLabel = "OUT.parquet", description = "The Parquet folder to write.")
    String output;

    @Option(names = "--embedding-column", paramLabel = "NAME", defaultValue = "embedding",
            description = "Name of the new array<float> column. Default: ${DEFAULT-VALUE}.")
    String embeddingColumn;

    @Option(names = "--master", paramLabel = "URL", defaultValue = "local[2]",
            description = "The Spark master. Default: ${DEFAULT-VALUE}.")
    String master;

    @Option(names = "--model", paramLabel = "DIR|FILE",
            description = "A model folder, .onnx or .safetensors file, readable by every executor (default: the embedded all-MiniLM-L6-v2).")
    String model;

    @Option(names = "--partitions", paramLabel = "N",
            description = "Repartition the input into N partitions (input order kept). Default: the input's partitioning, "
                    + "raised to the master's default parallelism.")
    Integer partitions;

    @Option(names = "--batch-size", paramLabel = "N", defaultValue = "32", description = "Texts per forward pass. Default: ${DEFAULT-VALUE}.")
    int batchSize;

    @Option(names = "--threads-per-task", paramLabel = "N", defaultValue = "0",
            description = "Native-kernel threads of each task (0: spark.task.cpus). Default: ${DEFAULT-VALUE}.")
    int threadsPerTask;

    @Option(names = "--overwrite", description = "Replace --output if it exists.")
    boolean overwrite;

    @Option(names = "--bench", description = "Measure instead: Spark throughput vs the single-JVM Encoder on the same corpus "
            + "(--input .txt, or --bench-lines synthetic lines); writes nothing.")
    boolean bench;

    @Option(names = "--bench-lines", paramLabel = "N", defaultValue = "2000", description = "Synthetic corpus size for --bench. Default: ${DEFAULT-VALUE}.")
    int benchLines;

    @Option(names = "--bench-runs", paramLabel = "N", defaultValue = "3", description = "Timed runs per side for --bench. Default: ${DEFAULT-VALUE}.")
    int benchRuns;

    @Option(names = "--verbose", description = "Show stack traces and Spark's log.")
    boolean verbose;

    public static void main(String[] args) {
        if (!Arrays.asList(args).contains("--verbose")) quietLogs();
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the command with the given streams; returns the exit code (used by tests). */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        boolean verbose = Arrays.asList(args).contains("--verbose");
        CommandLine cli = new CommandLine(new SparkEmbedCommand());
        cli.setOut(out);
        cli.setErr(err);
        cli.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            if (verbose) ex.printStackTrace(err);
            err.println("lookupffn spark-embed: " + oneLine(ex));
            err.flush();
            return 1;
        });
        return cli.execute(args);
    }

    /** One line for a failure: the library's own message when it is anywhere in the chain, else the root cause's. */
    static String oneLine(Throwable ex) {
        Throwable root = ex;
        for (Throwable t = ex; t != null; t = t.getCause()) {
            if (t instanceof LookupFfnException) return firstLine(t);
            root = t;
            if (t.getCause() == t) break;
        }
        Throwable pick = ex instanceof IllegalArgumentException || ex instanceof IllegalStateException
                || ex instanceof IOException ? ex : root;
        return firstLine(pick);
    }

    private static String firstLine(Throwable t) {
        String m = t.getMessage();
        if (m == null || m.isBlank()) return t.getClass().getName();
        m = m.strip();
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl).strip();
    }

    @Override
    public Integer call() throws IOException {
        if (batchSize < 1) throw new ParameterException(spec.commandLine(), "--batch-size must be at least 1, got " + batchSize);
        if (threadsPerTask < 0) throw new ParameterException(spec.commandLine(), "--threads-per-task must be >= 0, got " + threadsPerTask);
        if (partitions != null && partitions < 1)
            throw new ParameterException(spec.commandLine(), "--partitions must be at least 1, got " + partitions);
        if (input != null && !isTxt(input) && !isParquet(input))
            throw new ParameterException(spec.commandLine(), "--input must be a .txt or .parquet file, got " + input);
        EmbedOptions options = EmbedOptions.DEFAULT.withModel(model).withBatchSize(batchSize).withThreadsPerTask(threadsPerTask);
        if (bench) {
            if (benchLines < 1 || benchRuns < 1)
                throw new ParameterException(spec.commandLine(), "--bench-lines and --bench-runs must be at least 1");
            if (input != null && !isTxt(input)) throw new ParameterException(spec.commandLine(), "--bench takes a .txt --input");
            return bench(options);
        }
        if (input == null) throw new ParameterException(spec.commandLine(), "--input is required (or --bench)");
        if (output == null) throw new ParameterException(spec.commandLine(), "--output is required");
        if (isLocal(input) && !Files.exists(Path.of(input))) throw new IOException(input + ": no such file");
        if (isLocal(output) && Files.exists(Path.of(output)) && !overwrite)
            throw new IOException(output + ": exists already (use --overwrite to replace it)");

        PrintWriter out = spec.commandLine().getOut();
        long t0 = System.nanoTime();
        try (SparkSession spark = session(master, verbose)) {
            Dataset<Row> df = isTxt(input) ? spark.read().text(input).withColumnRenamed("value", textColumn)
                    : spark.read().parquet(input);
            Dataset<Row> embedded = LookupFfnSpark.withEmbeddings(ordered(df, partitions, spark), textColumn, embeddingColumn, options)
                    .drop(ORDER);
            embedded.write().mode(overwrite ? SaveMode.Overwrite : SaveMode.ErrorIfExists).parquet(output);
            long rows = spark.read().parquet(output).count();
            double s = (System.nanoTime() - t0) / 1e9;
            out.printf(Locale.ROOT, "%s: %d rows embedded in %.1f s (%.1f rows/s, Spark start-up included)%n", output, rows, s, rows / s);
        }
        return 0;
    }

    static final String ORDER = "__lookupffn_order";

    /**
     * The input with its order recorded ({@code monotonically_increasing_id} grows with the input order) and, when
     * asked or when it has fewer partitions than the master's parallelism, range-partitioned on it (so partition i
     * holds rows before partition i+1: Parquet part files come out in input order) and sorted within partitions.
     */
    static Dataset<Row> ordered(Dataset<Row> df, Integer partitions, SparkSession spark) {
        int target = partitions != null ? partitions : Math.max(df.rdd().getNumPartitions(), spark.sparkContext().defaultParallelism());
        if (target == df.rdd().getNumPartitions() && partitions == null) return df.withColumn(ORDER, functions.lit(0L));
        Dataset<Row> d = df.withColumn(ORDER, functions.monotonically_increasing_id());
        return d.repartitionByRange(target, functions.col(ORDER)).sortWithinPartitions(ORDER);
    }

    /** A Spark session for the CLI: no UI, Kryo (main() has silenced Spark's INFO log unless --verbose). */
    static SparkSession session(String master, boolean verbose) {
        return SparkSession.builder().appName("lookupffn spark-embed").master(master)
                .config("spark.ui.enabled", "false")
                .config("spark.serializer", "org.apache.spark.serializer.KryoSerializer")
                .config("spark.sql.shuffle.partitions", "8")
                .getOrCreate();
    }

    /** Selects our WARN configuration for Spark's log, unless one was chosen already (must run before Spark logs). */
    static void quietLogs() {
        if (System.getProperty("log4j2.configurationFile") == null && System.getProperty("log4j.configurationFile") == null
                && SparkEmbedCommand.class.getResource("/" + LOG_CONFIG) != null)
            System.setProperty("log4j2.configurationFile", "classpath:" + LOG_CONFIG);
    }

    static final String LOG_CONFIG = "lookupffn-spark-log4j2.properties";

    private static boolean isTxt(String p) {
        return p.toLowerCase(Locale.ROOT).endsWith(".txt");
    }

    private static boolean isParquet(String p) {
        String l = p.toLowerCase(Locale.ROOT);
        return l.endsWith(".parquet") || l.endsWith(".parquet/");
    }

    private static boolean isLocal(String p) {
        return !p.matches("^[a-zA-Z][a-zA-Z0-9+.-]*://.*") || p.startsWith("file:");
    }

    // ------------------------------------------------------------------------------------------------ --bench

    private int bench(EmbedOptions options) throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        List<String> lines = input != null ? Files.readAllLines(Path.of(input), StandardCharsets.UTF_8) : Corpus.lines(benchLines, 42);
        int n = lines.size();

        // 1. one JVM, the library alone: Encoder.embed on every core (the shared WorkerPool)
        double single;
        int singleThreads = dev.lookupffn.parallel.WorkerPool.defaultThreads();
        Encoder.Options eo = Encoder.Options.DEFAULT.withBatchSize(batchSize);
        try (Encoder enc = model == null ? Encoder.loadDefault(eo) : Encoder.load(Path.of(model), eo)) {
            enc.embed(lines.subList(0, Math.min(n, 256))); // warm-up: JIT, per-thread buffers
            double[] t = new double[benchRuns];
            for (int r = 0; r < benchRuns; r++) {
                long t0 = System.nanoTime();
                enc.embed(lines);
                t[r] = (System.nanoTime() - t0) / 1e9;
            }
            single = median(t);
        }

        // 1b. one JVM, data-parallel like Spark: the lines cut into as many slices as Spark gets partitions, each
        //     slice embedded by its own thread on a 1-thread Encoder (Encoder.embed is thread-safe): Spark's work
        //     without Spark, so (1b) vs (2) is Spark's own overhead
        int slices = partitions != null ? partitions : localCores(master);
        double dataParallel;
        try (Encoder enc = model == null ? Encoder.loadDefault(eo.withThreads(1)) : Encoder.load(Path.of(model), eo.withThreads(1))) {
            enc.embed(lines.subList(0, Math.min(n, 256)));
            double[] t = new double[benchRuns];
            for (int r = 0; r < benchRuns; r++) {
                long t0 = System.nanoTime();
                List<Thread> threads = new ArrayList<>();
                for (int k = 0; k < slices; k++) {
                    List<String> slice = lines.subList((int) ((long) n * k / slices), (int) ((long) n * (k + 1) / slices));
                    threads.add(Thread.ofPlatform().start(() -> enc.embed(slice)));
                }
                for (Thread th : threads) {
                    try {
                        th.join();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IllegalStateException("interrupted", e);
                    }
                }
                t[r] = (System.nanoTime() - t0) / 1e9;
            }
            dataParallel = median(t);
        }

        // 1c. the same slices and threads, each running the code a Spark task runs (TaskEmbedder: its own 1-thread
        //     pool, a reused confined buffer) without Spark: (1c) vs (2) is what Spark itself adds or takes
        double taskCode;
        try (Encoder enc = model == null ? Encoder.loadDefault(eo.withThreads(1)) : Encoder.load(Path.of(model), eo.withThreads(1))) {
            double[] t = new double[benchRuns + 1];
            for (int r = 0; r <= benchRuns; r++) { // run 0: warm-up
                long t0 = System.nanoTime();
                List<Thread> threads = new ArrayList<>();
                for (int k = 0; k < slices; k++) {
                    List<String> slice = lines.subList((int) ((long) n * k / slices), (int) ((long) n * (k + 1) / slices));
                    threads.add(Thread.ofPlatform().start(() -> {
                        try (TaskEmbedder te = new TaskEmbedder(1, batchSize)) {
                            for (int c = 0; c < slice.size(); c += EmbedOptions.DEFAULT.chunkRows())
                                te.embed(enc, slice.subList(c, Math.min(slice.size(), c + EmbedOptions.DEFAULT.chunkRows())));
                        }
                    }));
                }
                for (Thread th : threads) {
                    try {
                        th.join();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IllegalStateException("interrupted", e);
                    }
                }
                t[r] = (System.nanoTime() - t0) / 1e9;
            }
            taskCode = median(Arrays.copyOfRange(t, 1, t.length));
        }

        // 2. the same lines through Spark: cached input, a no-op sink, so the time is the embedding stage's
        double cold, spark;
        int parts;
        try (SparkSession s = session(master, verbose)) {
            parts = partitions != null ? partitions : s.sparkContext().defaultParallelism();
            Dataset<Row> df = s.createDataset(lines, Encoders.STRING()).toDF(textColumn).repartition(parts).cache();
            df.count();
            Dataset<Row> job = LookupFfnSpark.withEmbeddings(df, textColumn, embeddingColumn, options);
            long t0 = System.nanoTime();
            job.write().format("noop").mode(SaveMode.Overwrite).save(); // first run: loads the model in this JVM
            cold = (System.nanoTime() - t0) / 1e9;
            double[] t = new double[benchRuns];
            for (int r = 0; r < benchRuns; r++) {
                t0 = System.nanoTime();
                job.write().format("noop").mode(SaveMode.Overwrite).save();
                t[r] = (System.nanoTime() - t0) / 1e9;
            }
            spark = median(t);
        }
        int taskThreads = threadsPerTask > 0 ? threadsPerTask : 1;
        out.printf(Locale.ROOT, "corpus: %d lines (%s), batch size %d, model %s%n", n, input != null ? input : "synthetic, seed 42",
                batchSize, model == null ? "all-MiniLM-L6-v2 (embedded)" : model);
        out.printf(Locale.ROOT, "%-56s median %7.3f s  %8.1f lines/s%n",
                "single JVM, Encoder.embed, " + singleThreads + " threads", single, n / single);
        out.printf(Locale.ROOT, "%-56s median %7.3f s  %8.1f lines/s%n",
                "single JVM, " + slices + " threads x 1-thread Encoder, data-parallel", dataParallel, n / dataParallel);
        out.printf(Locale.ROOT, "%-56s median %7.3f s  %8.1f lines/s%n",
                "single JVM, " + slices + " threads x Spark's task code, no Spark", taskCode, n / taskCode);
        out.printf(Locale.ROOT, "%-56s median %7.3f s  %8.1f lines/s  (%.2fx Encoder.embed; Spark overhead vs task code: %+.1f%%)%n",
                "Spark " + master + ", " + parts + " partitions x " + taskThreads + " thread", spark, n / spark, single / spark,
                100.0 * (spark - taskCode) / taskCode);
        out.printf(Locale.ROOT, "Spark first run (model load in the executor JVM included): %.3f s; %d timed runs per side%n", cold, benchRuns);
        return 0;
    }

    /** N of local[N] (local[*] and local: the processor count); 2 for any other master. */
    static int localCores(String master) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("local\\[(\\d+|\\*)(,\\d+)?\\]").matcher(master);
        if (m.matches()) return m.group(1).equals("*") ? Runtime.getRuntime().availableProcessors() : Integer.parseInt(m.group(1));
        return master.equals("local") ? 1 : 2;
    }

    private static double median(double[] t) {
        double[] s = t.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    /** For tests: the lines of a .txt file as the CLI reads them. */
    static List<String> readLines(Path p) throws IOException {
        return new ArrayList<>(Files.readAllLines(p, StandardCharsets.UTF_8));
    }
}
