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

    @Option(names = "--master", paramLabel = "URL",
            description = "The Spark master. Default: spark-submit's --master (spark.master); without spark-submit, "
                    + LOCAL_DEFAULT + " (this machine's cores).")
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

    @Option(names = "--overwrite", description = "Replace --output if it exists (only once the job has succeeded: "
            + "the result is written beside it first).")
    boolean overwrite;

    @Option(names = "--executor-timeout", paramLabel = "SECONDS", defaultValue = "120",
            description = "On a cluster, how long to wait for a first executor before giving up. Default: ${DEFAULT-VALUE}.")
    int executorTimeout;

    @Option(names = "--skip-driver-model-check", description = "Do not load the model on the driver before the job "
            + "(for a model that exists only on the executors, e.g. shipped with --archives).")
    boolean skipDriverModelCheck;

    @Option(names = "--log-level", paramLabel = "LEVEL", defaultValue = "WARN",
            description = "Level of Spark's log on the driver (ERROR, WARN, INFO, ...; KEEP: leave the log4j2 "
                    + "configuration as it is). Default: ${DEFAULT-VALUE} (INFO with --verbose).")
    String logLevel;

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
        // before Spark logs anything (a direct run): our WARN configuration; under spark-submit logging is set
        // up already and call() lowers the levels instead
        List<String> a = Arrays.asList(args);
        int level = a.indexOf("--log-level");
        boolean keep = a.contains("--log-level=KEEP") || a.contains("--log-level=keep")
                || level >= 0 && level + 1 < a.size() && a.get(level + 1).equalsIgnoreCase("KEEP");
        if (!a.contains("--verbose") && !keep) quietLogs();
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
        if (executorTimeout < 1) throw new ParameterException(spec.commandLine(), "--executor-timeout must be at least 1, got " + executorTimeout);
        if (input != null && !isTxt(input) && !isParquet(input))
            throw new ParameterException(spec.commandLine(), "--input must be a .txt or .parquet file, got " + input);
        String level = verbose ? "KEEP" : logLevel.toUpperCase(Locale.ROOT);
        if (!level.equals("KEEP") && org.apache.logging.log4j.Level.getLevel(level) == null)
            throw new ParameterException(spec.commandLine(), "--log-level must be ERROR, WARN, INFO, DEBUG, ... or KEEP, got " + logLevel);
        EmbedOptions options = EmbedOptions.DEFAULT.withModel(model).withBatchSize(batchSize).withThreadsPerTask(threadsPerTask);
        if (bench) {
            if (benchLines < 1 || benchRuns < 1)
                throw new ParameterException(spec.commandLine(), "--bench-lines and --bench-runs must be at least 1");
            if (input != null && !isTxt(input)) throw new ParameterException(spec.commandLine(), "--bench takes a .txt --input");
            setLogLevels(level);
            return bench(options);
        }
        if (input == null) throw new ParameterException(spec.commandLine(), "--input is required (or --bench)");
        if (output == null) throw new ParameterException(spec.commandLine(), "--output is required");
        if (isLocal(input) && !Files.exists(Path.of(input))) throw new IOException(input + ": no such file");
        if (isLocal(output) && Files.exists(Path.of(output)) && !overwrite)
            throw new IOException(output + ": exists already (use --overwrite to replace it)");
        setLogLevels(level);
        // the model is checked here, before Spark starts: a wrong path or a corrupt file fails in seconds with the
        // library's message instead of after every executor's task retries
        if (!skipDriverModelCheck) LookupFfnSpark.loadModelOnDriver(options);

        PrintWriter out = spec.commandLine().getOut();
        long t0 = System.nanoTime();
        try (SparkSession spark = session(resolveMaster(master, spec.commandLine().getErr()))) {
            String url = spark.sparkContext().master();
            try {
                awaitExecutors(spark, executorTimeout);
                Dataset<Row> df = isTxt(input) ? spark.read().text(input).withColumnRenamed("value", textColumn)
                        : spark.read().parquet(input);
                Dataset<Row> embedded = LookupFfnSpark.withEmbeddings(ordered(df, partitions, spark), textColumn, embeddingColumn, options)
                        .drop(ORDER_COLUMNS);
                long rows = writeReplacing(spark, embedded, output, overwrite);
                double s = (System.nanoTime() - t0) / 1e9;
                out.printf(Locale.ROOT, "%s: %d rows embedded on %s in %.1f s (%.1f rows/s, Spark start-up included)%n",
                        output, rows, url, s, rows / s);
            } catch (RuntimeException e) {
                // a context that stopped under the job (the master removed the application, or lost every
                // executor) surfaces as whatever broke next, often a NullPointerException: say what happened
                if (spark.sparkContext().isStopped() && !(e instanceof NoExecutorException))
                    throw new IllegalStateException("Spark stopped during the job (master " + url + ": the application "
                            + "was removed or lost its executors; see the master's and workers' logs): " + oneLine(e), e);
                throw e;
            }
        }
        return 0;
    }

    /** Without --master: spark-submit's (it sets spark.master for the driver); without either, every local core. */
    static String resolveMaster(String option, PrintWriter err) {
        if (option != null) return option;
        if (System.getProperty("spark.master") != null) return null; // SparkConf reads it
        err.println("lookupffn spark-embed: no --master and no spark-submit master: running locally on " + LOCAL_DEFAULT);
        return LOCAL_DEFAULT;
    }

    static final String LOCAL_DEFAULT = "local[*]";

    /** No executor registered in time, or the context stopped first (a message, not Spark's NullPointerException). */
    static final class NoExecutorException extends IllegalStateException {
        private static final long serialVersionUID = 1L;

        NoExecutorException(String message) {
            super(message);
        }
    }

    /**
     * On a cluster, waits (at most {@code timeoutSeconds}) until an executor has registered, so that a cluster
     * that cannot give the application any executor fails with one line naming the master instead of waiting
     * forever ("Initial job has not accepted any resources") or failing later with an unrelated exception.
     * Local masters run tasks in this JVM, and dynamic allocation starts executors only for pending tasks: no wait.
     */
    static void awaitExecutors(SparkSession spark, int timeoutSeconds) {
        org.apache.spark.SparkContext sc = spark.sparkContext();
        if (sc.isLocal() || sc.conf().getBoolean("spark.dynamicAllocation.enabled", false)) return;
        long deadline = System.nanoTime() + timeoutSeconds * 1_000_000_000L;
        // the status tracker lists the driver's block manager too: one more entry means an executor
        while (sc.statusTracker().getExecutorInfos().length < 2) {
            if (sc.isStopped())
                throw new NoExecutorException("Spark stopped before any executor registered with " + sc.master()
                        + " (the master removes an application whose executors keep failing to start; see the workers' logs)");
            if (System.nanoTime() > deadline)
                throw new NoExecutorException("no executor registered with " + sc.master() + " within " + timeoutSeconds
                        + " s: is a worker registered with the cores and memory the application asks for (spark.executor.cores, "
                        + "spark.executor.memory), and can it start executors (see its log)? (--executor-timeout to wait longer)");
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for executors", e);
            }
        }
    }

    /**
     * Writes {@code df} as Parquet to a hidden folder beside {@code output}, then puts it in place: the previous
     * output (with --overwrite) is replaced only once the new one is complete, so a job that fails leaves it as it
     * was. Returns the number of rows written.
     */
    static long writeReplacing(SparkSession spark, Dataset<Row> df, String output, boolean overwrite) throws IOException {
        org.apache.hadoop.fs.Path target = new org.apache.hadoop.fs.Path(output);
        org.apache.hadoop.fs.FileSystem fs = target.getFileSystem(spark.sparkContext().hadoopConfiguration());
        target = fs.makeQualified(target);
        String id = java.util.UUID.randomUUID().toString();
        // '.'-prefixed: Spark and Hadoop readers of the parent folder skip it
        org.apache.hadoop.fs.Path tmp = new org.apache.hadoop.fs.Path(target.getParent(), "." + target.getName() + ".lookupffn-new-" + id);
        if (fs.exists(target) && !overwrite) throw new IOException(output + ": exists already (use --overwrite to replace it)");
        try {
            df.write().mode(SaveMode.ErrorIfExists).parquet(tmp.toString());
        } catch (RuntimeException e) {
            fs.delete(tmp, true);
            throw e;
        }
        if (fs.exists(target)) {
            if (!overwrite) {
                fs.delete(tmp, true);
                throw new IOException(output + ": exists already (use --overwrite to replace it)");
            }
            org.apache.hadoop.fs.Path old = new org.apache.hadoop.fs.Path(target.getParent(), "." + target.getName() + ".lookupffn-old-" + id);
            if (!fs.rename(target, old)) {
                fs.delete(tmp, true);
                throw new IOException(output + ": cannot move the previous output aside (to " + old + "); it is unchanged");
            }
            if (!fs.rename(tmp, target)) {
                boolean restored = fs.rename(old, target);
                throw new IOException(output + ": cannot move the new output (" + tmp + ") in place; the previous output "
                        + (restored ? "is unchanged" : "is at " + old));
            }
            fs.delete(old, true);
        } else if (!fs.rename(tmp, target)) {
            throw new IOException(output + ": cannot move the new output (" + tmp + ") in place");
        }
        return spark.read().parquet(target.toString()).count();
    }

    /** The columns that record the input order; dropped before the embedding is written. */
    static final String[] ORDER_COLUMNS = {"__lookupffn_file", "__lookupffn_block", "__lookupffn_row"};

    /**
     * The input in its own order, whatever order Spark scans it in (Spark packs the files of a folder into read
     * tasks largest first): rows ordered by file path (part-00000 before part-00001), then by position in the file
     * (the split's start, then {@code monotonically_increasing_id}, which grows along a task's rows), captured
     * from the file scan before any shuffle; range-partitioned on that order into {@code partitions} partitions
     * (default: the input's, raised to the master's parallelism) and sorted within each, so part file i of the
     * output holds the rows before those of part file i+1, each in input order.
     */
    static Dataset<Row> ordered(Dataset<Row> df, Integer partitions, SparkSession spark) {
        int target = partitions != null ? partitions : Math.max(df.rdd().getNumPartitions(), spark.sparkContext().defaultParallelism());
        Dataset<Row> d = df.withColumn(ORDER_COLUMNS[0], functions.col("_metadata.file_path"))
                .withColumn(ORDER_COLUMNS[1], functions.col("_metadata.file_block_start"))
                .withColumn(ORDER_COLUMNS[2], functions.monotonically_increasing_id());
        org.apache.spark.sql.Column[] by = Arrays.stream(ORDER_COLUMNS).map(functions::col).toArray(org.apache.spark.sql.Column[]::new);
        return d.repartitionByRange(target, by).sortWithinPartitions(by);
    }

    /** A Spark session for the CLI: no UI, Kryo; {@code master} null leaves it to spark-submit's configuration. */
    static SparkSession session(String master) {
        SparkSession.Builder b = SparkSession.builder().appName("lookupffn spark-embed")
                .config("spark.ui.enabled", "false")
                .config("spark.serializer", "org.apache.spark.serializer.KryoSerializer")
                .config("spark.sql.shuffle.partitions", "8");
        return (master != null ? b.master(master) : b).getOrCreate();
    }

    /** Selects our WARN configuration for Spark's log, unless one was chosen already (must run before Spark logs). */
    static void quietLogs() {
        if (System.getProperty("log4j2.configurationFile") == null && System.getProperty("log4j.configurationFile") == null
                && SparkEmbedCommand.class.getResource("/" + LOG_CONFIG) != null)
            System.setProperty("log4j2.configurationFile", "classpath:" + LOG_CONFIG);
    }

    /**
     * Sets Spark's log level on the driver ({@code KEEP}: leaves the configuration alone). Under spark-submit the
     * logging is configured before main() runs (INFO by default: hundreds of lines per job), so the levels are
     * changed here, before the session starts; this application's own INFO line (the model it loaded) stays.
     */
    static void setLogLevels(String level) {
        if (level.equals("KEEP")) return;
        // Spark configures log4j once, at its first log line (its INFO defaults unless a configuration file was
        // chosen: main() chooses ours for a direct run); under spark-submit that happens again when the session
        // starts. Have it done now, silently, so that the levels set below are the ones the session runs with.
        new org.apache.spark.SparkConf(false).initializeLogIfNecessary(false, true);
        org.apache.logging.log4j.Level l = org.apache.logging.log4j.Level.getLevel(level);
        org.apache.logging.log4j.core.config.Configurator.setRootLevel(l);
        org.apache.logging.log4j.core.config.Configurator.setLevel("dev.lookupffn", org.apache.logging.log4j.Level.INFO);
        if (l.isLessSpecificThan(org.apache.logging.log4j.Level.ERROR)) {
            // chatty at WARN on a laptop or in a container
            org.apache.logging.log4j.core.config.Configurator.setLevel("org.apache.spark.util.Utils", org.apache.logging.log4j.Level.ERROR);
            org.apache.logging.log4j.core.config.Configurator.setLevel("org.apache.hadoop.util.NativeCodeLoader", org.apache.logging.log4j.Level.ERROR);
        }
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
        String sessionMaster = resolveMaster(master, spec.commandLine().getErr());
        int slices = partitions != null ? partitions : localCores(sessionMaster != null ? sessionMaster : System.getProperty("spark.master"));
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
        String url;
        try (SparkSession s = session(sessionMaster)) {
            url = s.sparkContext().master();
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
                "Spark " + url + ", " + parts + " partitions x " + taskThreads + " thread", spark, n / spark, single / spark,
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
