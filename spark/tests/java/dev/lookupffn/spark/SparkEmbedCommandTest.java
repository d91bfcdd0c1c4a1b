package dev.lookupffn.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.LookupFfnException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code spark-embed} end to end: each run in its own JVM with the launcher's flags (the command starts and stops
 * its own Spark), outputs read back here and compared with the single-JVM Encoder. Argument errors run in-process
 * (they exit before Spark starts).
 */
class SparkEmbedCommandTest {
    /** A bound, not a timing: a run takes seconds on an idle machine, minutes on a heavily shared one. */
    static final long RUN_SECONDS = 300;
    static SparkSession spark;

    @BeforeAll
    static void setUp() {
        spark = SparkTestSession.get();
    }

    record Result(int code, String out, String err) {}

    /** Runs SparkEmbedCommand in a new JVM, as ./lookupffn spark-embed does. */
    static Result runJvm(Path dir, String... args) throws IOException, InterruptedException {
        return runJvm(dir, List.of(), args);
    }

    /** Same, with more JVM options (e.g. -Dspark.master=..., which spark-submit sets for the driver). */
    static Result runJvm(Path dir, List<String> jvmOptions, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String a : System.getProperty("lookupffn.spark.jvm.args", "--enable-native-access=ALL-UNNAMED").trim().split("\\s+"))
            cmd.add(a);
        cmd.add("-Xmx1g");
        cmd.addAll(jvmOptions);
        String cache = System.getProperty("lookupffn.cache.dir");
        if (cache != null) cmd.add("-Dlookupffn.cache.dir=" + cache);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(SparkEmbedCommand.class.getName());
        cmd.addAll(List.of(args));
        Path out = dir.resolve("stdout.txt"), err = dir.resolve("stderr.txt");
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(RUN_SECONDS, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            throw new AssertionError("spark-embed did not finish in " + RUN_SECONDS + " s: " + Files.readString(err));
        }
        return new Result(p.exitValue(), Files.readString(out), Files.readString(err));
    }

    static Result runInProcess(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = SparkEmbedCommand.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Result(code, out.toString(), err.toString());
    }

    static float[] floats(Row r, int col) {
        List<Float> v = r.getList(col);
        float[] f = new float[v.size()];
        for (int i = 0; i < f.length; i++) f[i] = v.get(i);
        return f;
    }

    /** Spark's INFO log is silenced on the driver; the one INFO line left is the model this JVM loaded. */
    static void assertQuietLogWithOneModelLine(String err) {
        for (String line : err.lines().toList())
            assertFalse(line.contains(" INFO ") && !line.contains(ExecutorModels.LOADED), "Spark's INFO log should be silenced:\n" + err);
        assertEquals(1, err.lines().filter(l -> l.contains(ExecutorModels.LOADED)).count(),
                "the model should be loaded (and logged) once in this JVM, tasks included:\n" + err);
    }

    @Test
    void txtToParquetThenParquetToParquet(@TempDir Path dir) throws Exception {
        List<String> lines = Corpus.lines(150, 11);
        Path txt = dir.resolve("in.txt");
        Files.write(txt, lines, StandardCharsets.UTF_8);
        Path out1 = dir.resolve("out.parquet");
        Result r = runJvm(dir, "--input", txt.toString(), "--output", out1.toString(), "--partitions", "3");
        assertEquals(0, r.code(), r.err());
        // neither --master nor spark-submit: local, and it says so
        assertTrue(r.out().contains("150 rows embedded on local[*]"), r.out());
        assertTrue(r.err().contains("no --master and no spark-submit master: running locally on local[*]"), r.err());
        assertQuietLogWithOneModelLine(r.err());

        float[][] want = SparkTestSession.referenceEmbed(lines);
        List<Row> rows = SparkTestSession.readInOrder(out1);
        assertEquals(List.of("text", "embedding"), List.of(spark.read().parquet(out1.toString()).columns()));
        assertEquals(lines.size(), rows.size());
        for (int i = 0; i < rows.size(); i++) {
            assertEquals(lines.get(i), rows.get(i).getString(0), "row " + i + " out of input order");
            assertArrayEquals(want[i], floats(rows.get(i), 1), "row " + i);
        }

        // Parquet in: its columns are kept (the previous embedding too), a second model's column is added
        Path out2 = dir.resolve("out2.parquet");
        r = runJvm(dir, "--input", out1.toString(), "--text-column", "text", "--embedding-column", "again",
                "--output", out2.toString(), "--master", "local[2]");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("150 rows embedded on local[2]"), r.out());
        rows = SparkTestSession.readInOrder(out2);
        assertEquals(lines.size(), rows.size());
        for (int i = 0; i < rows.size(); i++) {
            assertEquals(lines.get(i), rows.get(i).getString(0));
            assertArrayEquals(want[i], floats(rows.get(i), 2));
        }

        // the output exists now: exit 1, one line; --overwrite replaces it
        r = runInProcess("--input", txt.toString(), "--output", out1.toString());
        assertEquals(1, r.code());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("exists already"), r.err());
    }

    /** Lines [from, to) as a one-file Parquet folder's part file, moved to {@code dest} (ids are line numbers). */
    static void writePart(Path dir, List<String> lines, int from, int to, Path dest) throws IOException {
        StructType schema = new StructType().add("id", DataTypes.IntegerType, false).add("text", DataTypes.StringType, true);
        List<Row> rows = new ArrayList<>();
        for (int i = from; i < to; i++) rows.add(RowFactory.create(i, lines.get(i)));
        Path tmp = dir.resolve("tmp-" + from);
        spark.createDataFrame(rows, schema).coalesce(1).write().parquet(tmp.toString());
        try (Stream<Path> s = Files.list(tmp)) {
            Path part = s.filter(p -> p.getFileName().toString().endsWith(".parquet")).findFirst().orElseThrow();
            Files.move(part, dest);
        }
    }

    /** A Parquet folder whose part files differ in size: 10, 100 and 40 rows in name order (Spark reads the largest first). */
    static Path skewedParquet(Path dir, List<String> lines) throws IOException {
        Path in = Files.createDirectories(dir.resolve("skewed.parquet"));
        writePart(dir, lines, 0, 10, in.resolve("part-00000.parquet"));
        writePart(dir, lines, 10, 110, in.resolve("part-00001.parquet"));
        writePart(dir, lines, 110, 150, in.resolve("part-00002.parquet"));
        assertTrue(Files.size(in.resolve("part-00001.parquet")) > Files.size(in.resolve("part-00002.parquet"))
                && Files.size(in.resolve("part-00002.parquet")) > Files.size(in.resolve("part-00000.parquet")));
        return in;
    }

    /**
     * The output follows the input's order, not Spark's scan order. The same run checks that the master comes from
     * spark-submit's spark.master when --master is not given.
     */
    @Test
    void parquetInputKeepsItsOrderAndTheMasterComesFromSparkSubmit(@TempDir Path dir) throws Exception {
        List<String> lines = Corpus.lines(150, 5);
        Path in = skewedParquet(dir, lines);
        Path out = dir.resolve("out.parquet");
        // what spark-submit --master does for the driver: -Dspark.master (the app must not replace it)
        Result r = runJvm(dir, List.of("-Dspark.master=local[1]"), "--input", in.toString(), "--output", out.toString());
        assertEquals(0, r.code(), r.err());
        List<Row> rows = SparkTestSession.readInOrder(out);
        float[][] want = SparkTestSession.referenceEmbed(lines);
        assertEquals(150, rows.size());
        for (int i = 0; i < rows.size(); i++) {
            assertEquals(i, rows.get(i).getInt(0), "row " + i + " out of input order");
            assertArrayEquals(want[i], floats(rows.get(i), 2), "row " + i);
        }
        assertTrue(r.out().contains("150 rows embedded on local[1]"), r.out());
        assertFalse(r.err().contains("running locally"), r.err());
    }

    /**
     * With --overwrite, a job that fails (a part file whose pages are corrupt: Spark finds it only when a task
     * reads it, after the job has started) leaves the previous output as it was, and nothing beside it.
     */
    @Test
    void aFailedOverwriteKeepsThePreviousOutput(@TempDir Path dir) throws Exception {
        List<String> lines = Corpus.lines(150, 5);
        Path in = skewedParquet(dir, lines);
        Path out = dir.resolve("out.parquet");
        spark.read().parquet(in.toString()).limit(5).coalesce(1).write().parquet(out.toString()); // "the previous output"
        Map<String, byte[]> before = contents(out);
        // the first page header of the big file zeroed: the footer (schema) still reads, the data does not
        try (FileChannel ch = FileChannel.open(in.resolve("part-00001.parquet"), StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(64), 4);
        }
        Result r = runJvm(dir, "--input", in.toString(), "--output", out.toString(), "--overwrite", "--master", "local[2]");
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().strip().lines().reduce((a, b) -> b).orElse("").startsWith("lookupffn spark-embed: "), r.err());
        Map<String, byte[]> after = contents(out);
        assertEquals(before.keySet(), after.keySet(), "the previous output should be kept");
        for (String k : before.keySet()) assertArrayEquals(before.get(k), after.get(k), k);
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(), s.map(p -> p.getFileName().toString()).filter(n -> n.contains("lookupffn-")).toList(),
                    "no temporary output left behind");
        }
    }

    static Map<String, byte[]> contents(Path folder) throws IOException {
        Map<String, byte[]> m = new TreeMap<>();
        try (Stream<Path> s = Files.list(folder)) {
            for (Path p : s.toList()) m.put(p.getFileName().toString(), Files.readAllBytes(p));
        }
        return m;
    }

    /** The model is loaded on the driver before Spark starts: no session, no job, the library's one line. */
    @Test
    void aBadModelFailsOnTheDriverBeforeAnyJob(@TempDir Path dir) throws Exception {
        Path txt = dir.resolve("in.txt");
        Files.write(txt, List.of("one", "two", "three"));
        AtomicInteger jobs = new AtomicInteger();
        SparkListener listener = new SparkListener() {
            @Override
            public void onJobStart(SparkListenerJobStart jobStart) {
                jobs.incrementAndGet();
            }
        };
        spark.sparkContext().addSparkListener(listener);
        try {
            Path bad = dir.resolve("model.onnx");
            Files.write(bad, "not a model".getBytes(StandardCharsets.UTF_8));
            String message = assertThrows(LookupFfnException.class, () -> dev.lookupffn.model.Encoder.load(bad).close()).getMessage();
            Result r = runInProcess("--input", txt.toString(), "--output", dir.resolve("o.parquet").toString(),
                    "--model", bad.toString(), "--master", "local[2]");
            assertEquals(1, r.code(), r.err());
            assertEquals("lookupffn spark-embed: " + message, r.err().strip(), r.err());
            assertFalse(spark.sparkContext().isStopped(), "the command should not have started (and stopped) a Spark session");
            assertEquals(0, jobs.get(), "no Spark job should run for a model that cannot be loaded");
            assertFalse(Files.exists(dir.resolve("o.parquet")));
        } finally {
            spark.sparkContext().removeSparkListener(listener);
        }
    }

    @Test
    void aModelThatCannotBeLoadedExitsOneWithOneLine(@TempDir Path dir) throws Exception {
        Path txt = dir.resolve("in.txt");
        Files.write(txt, List.of("one", "two", "three"));
        Result r = runJvm(dir, "--input", txt.toString(), "--output", dir.resolve("o.parquet").toString(),
                "--model", "/nonexistent/model");
        assertEquals(1, r.code(), r.err());
        String last = r.err().strip().lines().reduce((a, b) -> b).orElse("");
        assertEquals("lookupffn spark-embed: /nonexistent/model: no such file or folder", last, r.err());
    }

    @Test
    void badArgumentsExitTwoWithUsage(@TempDir Path dir) {
        for (String[] args : List.of(new String[] {"--output", "x.parquet"}, new String[] {"--input", "a.txt"},
                new String[] {"--input", "a.csv", "--output", "x.parquet"}, new String[] {"--bogus"},
                new String[] {"--input", "a.txt", "--output", "x.parquet", "--partitions", "0"})) {
            Result r = runInProcess(args);
            assertEquals(2, r.code(), String.join(" ", args) + "\n" + r.err());
            assertTrue(r.err().contains("Usage: spark-embed"), r.err());
        }
        Result r = runInProcess("--input", dir.resolve("missing.txt").toString(), "--output", dir.resolve("o.parquet").toString());
        assertEquals(1, r.code());
        assertTrue(r.err().startsWith("lookupffn spark-embed: ") && r.err().contains("missing.txt: no such file"), r.err());
    }
}
