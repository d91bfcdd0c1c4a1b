package dev.lookupffn.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
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
    static SparkSession spark;

    @BeforeAll
    static void setUp() {
        spark = SparkTestSession.get();
    }

    record Result(int code, String out, String err) {}

    /** Runs SparkEmbedCommand in a new JVM, as ./lookupffn spark-embed does. */
    static Result runJvm(Path dir, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String a : System.getProperty("lookupffn.spark.jvm.args", "--enable-native-access=ALL-UNNAMED").trim().split("\\s+"))
            cmd.add(a);
        cmd.add("-Xmx1g");
        String cache = System.getProperty("lookupffn.cache.dir");
        if (cache != null) cmd.add("-Dlookupffn.cache.dir=" + cache);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(SparkEmbedCommand.class.getName());
        cmd.addAll(List.of(args));
        Path out = dir.resolve("stdout.txt"), err = dir.resolve("stderr.txt");
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("spark-embed did not finish in 120 s: " + Files.readString(err));
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

    @Test
    void txtToParquetThenParquetToParquet(@TempDir Path dir) throws Exception {
        List<String> lines = Corpus.lines(150, 11);
        Path txt = dir.resolve("in.txt");
        Files.write(txt, lines, StandardCharsets.UTF_8);
        Path out1 = dir.resolve("out.parquet");
        Result r = runJvm(dir, "--input", txt.toString(), "--output", out1.toString(), "--partitions", "3");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("150 rows embedded"), r.out());
        assertFalse(r.err().contains(" INFO "), "Spark's INFO log should be silenced:\n" + r.err());

        float[][] want = SparkTestSession.referenceEmbed(lines);
        List<Row> rows = spark.read().parquet(out1.toString()).collectAsList();
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
        rows = spark.read().parquet(out2.toString()).collectAsList();
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
