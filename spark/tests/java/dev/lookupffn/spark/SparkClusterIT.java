package dev.lookupffn.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.spark.sql.Row;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code spark-embed} on a real standalone cluster: a master and a worker, each its own JVM on 127.0.0.1, started
 * from the jars Maven resolved for this module (a SPARK_HOME whose {@code jars/} links to them); the application
 * is the {@code -all} jar submitted through spark-submit's main class, so the driver and its executor are two more
 * JVMs. Every process is bounded in time and killed (with its children: the worker's executors) after the tests,
 * whatever their outcome.
 */
class SparkClusterIT {
    /** Bounds, not timings: each step takes seconds on an idle machine, much longer on a heavily shared one. */
    static final long START_SECONDS = 120, SUBMIT_SECONDS = 300;

    static Path home, work, logs;
    static String masterUrl;
    static Process master, worker;
    static final List<Process> processes = new ArrayList<>();
    static final Thread killer = new Thread(SparkClusterIT::killAll);

    @BeforeAll
    static void startCluster(@TempDir Path dir) throws Exception {
        Runtime.getRuntime().addShutdownHook(killer); // also when the test JVM dies before @AfterAll
        home = sparkHome(Path.of(System.getProperty("lookupffn.spark.target")));
        work = Files.createDirectories(dir.resolve("work"));
        logs = Files.createDirectories(dir.resolve("logs"));
        int port = freePort();
        masterUrl = "spark://127.0.0.1:" + port;
        master = start(logs.resolve("master.log"), List.of("-Dspark.master.rest.enabled=false"),
                "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", Integer.toString(port), "--webui-port", "0");
        awaitLine(master, logs.resolve("master.log"), "I have been elected leader");
        worker = start(logs.resolve("worker.log"), List.of(), "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                "--port", "0", "--webui-port", "0", "--cores", "2", "--memory", "2g", "--work-dir", work.toString(), masterUrl);
        awaitLine(worker, logs.resolve("worker.log"), "Successfully registered with master");
    }

    @AfterAll
    static void stopCluster() {
        killAll();
        Runtime.getRuntime().removeShutdownHook(killer);
    }

    static synchronized void killAll() {
        for (Process p : processes) {
            p.descendants().forEach(ProcessHandle::destroyForcibly); // the worker's executors, spark-submit's children
            p.destroyForcibly();
        }
        for (Process p : processes) {
            try {
                p.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** A SPARK_HOME made of links to the Spark jars of this build (the worker builds executors' class path from it). */
    static Path sparkHome(Path target) throws IOException {
        Path jars = Files.createDirectories(target.resolve("spark-home/jars"));
        List<String> cp = new ArrayList<>(List.of(Files.readString(target.resolve("classpath-provided.txt")).strip().split(":")));
        // Spark needs Jackson, which Maven lists with the library's (runtime) dependencies
        for (String j : Files.readString(target.resolve("classpath-runtime.txt")).strip().split(":"))
            if (j.contains("/com/fasterxml/jackson/")) cp.add(j);
        for (String j : cp) {
            Path link = jars.resolve(Path.of(j).getFileName());
            if (!Files.exists(link, java.nio.file.LinkOption.NOFOLLOW_LINKS)) Files.createSymbolicLink(link, Path.of(j));
        }
        return target.resolve("spark-home");
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    static List<String> jvmArgs() {
        return List.of(System.getProperty("lookupffn.spark.jvm.args", "--enable-native-access=ALL-UNNAMED").trim().split("\\s+"));
    }

    /** A JVM on the Spark jars, loopback only, output to {@code log}. */
    static Process start(Path log, List<String> jvmOptions, String mainClass, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(java()));
        cmd.addAll(jvmArgs());
        cmd.add("-Xmx512m");
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-cp", home.resolve("jars") + "/*", mainClass));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        Map<String, String> env = pb.environment();
        env.put("SPARK_HOME", home.toString());
        env.put("SPARK_SCALA_VERSION", "2.13");
        env.put("SPARK_LOCAL_IP", "127.0.0.1"); // every service, web UIs included, on the loopback interface
        env.put("SPARK_LOCAL_HOSTNAME", "127.0.0.1");
        env.put("SPARK_PUBLIC_DNS", "127.0.0.1");
        Process p = pb.start();
        synchronized (SparkClusterIT.class) {
            processes.add(p);
        }
        return p;
    }

    static void awaitLine(Process p, Path log, String line) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(START_SECONDS);
        while (!Files.readString(log).contains(line)) {
            if (!p.isAlive()) throw new AssertionError("process exited (" + p.exitValue() + "):\n" + Files.readString(log));
            if (System.nanoTime() > deadline) throw new AssertionError("no '" + line + "' within " + START_SECONDS + " s:\n" + Files.readString(log));
            Thread.sleep(200);
        }
    }

    record Result(int code, String out, String err) {}

    /**
     * spark-submit (its main class, on the same jars) of the -all jar's SparkEmbedCommand, client mode, with
     * {@code conf} replacing the default Spark properties given here.
     */
    static Result submit(Path dir, Map<String, String> conf, String... appArgs) throws Exception {
        Map<String, String> all = new LinkedHashMap<>();
        all.put("spark.ui.enabled", "false");
        all.put("spark.executor.memory", "1g");
        all.put("spark.executor.extraJavaOptions", String.join(" ", jvmArgs()) + " -Dlookupffn.cache.dir=" + System.getProperty("lookupffn.cache.dir"));
        all.putAll(conf);
        List<String> args = new ArrayList<>(List.of("--master", masterUrl));
        all.forEach((k, v) -> args.addAll(List.of("--conf", k + "=" + v)));
        args.addAll(List.of("--class", SparkEmbedCommand.class.getName(), System.getProperty("lookupffn.spark.allJar")));
        args.addAll(List.of(appArgs));
        Path out = Files.createTempFile(dir, "submit", ".out"), err = Files.createTempFile(dir, "submit", ".err");
        List<String> cmd = new ArrayList<>(List.of(java()));
        cmd.addAll(jvmArgs());
        cmd.addAll(List.of("-Xmx1g", "-Dlookupffn.cache.dir=" + System.getProperty("lookupffn.cache.dir"),
                "-cp", home.resolve("jars") + "/*", "org.apache.spark.deploy.SparkSubmit"));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectOutput(out.toFile()).redirectError(err.toFile());
        pb.environment().put("SPARK_HOME", home.toString());
        pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
        pb.environment().put("SPARK_LOCAL_HOSTNAME", "127.0.0.1");
        Process p = pb.start();
        synchronized (SparkClusterIT.class) {
            processes.add(p);
        }
        if (!p.waitFor(SUBMIT_SECONDS, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            throw new AssertionError("spark-submit did not finish in " + SUBMIT_SECONDS + " s:\n" + Files.readString(err));
        }
        return new Result(p.exitValue(), Files.readString(out), Files.readString(err));
    }

    /** The applications the worker has run executors for (one work folder each). */
    static List<Path> applications() throws IOException {
        try (Stream<Path> s = Files.list(work)) {
            return s.filter(p -> p.getFileName().toString().startsWith("app-")).sorted().toList();
        }
    }

    static String lastLine(String s) {
        return s.strip().lines().reduce((a, b) -> b).orElse("");
    }

    @Test
    void submittedWithoutAppMasterItRunsOnTheClusterBitIdenticalToEmbed(@TempDir Path dir) throws Exception {
        List<String> lines = Corpus.lines(60, 13);
        Path txt = dir.resolve("in.txt");
        Files.write(txt, lines, StandardCharsets.UTF_8);
        Path out = dir.resolve("out.parquet");
        int appsBefore = applications().size();
        Result r = submit(dir, Map.of(), "--input", txt.toString(), "--output", out.toString(), "--partitions", "3");
        assertEquals(0, r.code(), r.err());
        // spark-submit's master, not a local one of the app's
        assertEquals(appsBefore + 1, applications().size(), "the worker should have run this application's executor");
        assertTrue(r.out().contains("60 rows embedded on " + masterUrl), r.out());
        // the driver's log: Spark's INFO silenced, the model line (the driver's check) kept
        for (String line : r.err().lines().toList())
            assertFalse(line.contains(" INFO ") && !line.contains(ExecutorModels.LOADED), "Spark's INFO log on the driver:\n" + r.err());

        // the executor (one JVM, 3 tasks on 2 cores) loaded the model once and said so, once, in its log
        Path app = applications().getLast();
        List<Path> executors;
        try (Stream<Path> s = Files.list(app)) {
            executors = s.filter(Files::isDirectory).toList();
        }
        assertEquals(1, executors.size(), executors.toString());
        String executorLog = Files.readString(executors.getFirst().resolve("stderr"));
        assertEquals(1, executorLog.lines().filter(l -> l.contains(" INFO ") && l.contains(ExecutorModels.LOADED)
                && l.contains("native library")).count(), executorLog);

        List<Row> rows = SparkTestSession.readInOrder(out);
        float[][] want = SparkTestSession.referenceEmbed(lines);
        assertEquals(lines.size(), rows.size());
        for (int i = 0; i < rows.size(); i++) {
            assertEquals(lines.get(i), rows.get(i).getString(0), "row " + i + " out of input order");
            assertArrayEquals(want[i], SparkEmbedCommandTest.floats(rows.get(i), 1), "row " + i);
        }
    }

    @Test
    void aBadModelFailsOnTheDriverBeforeTheClusterRunsAnything(@TempDir Path dir) throws Exception {
        Path txt = dir.resolve("in.txt");
        Files.write(txt, List.of("one", "two"));
        int appsBefore = applications().size();
        Result r = submit(dir, Map.of(), "--input", txt.toString(), "--output", dir.resolve("o.parquet").toString(),
                "--model", "/nonexistent/model");
        assertEquals(1, r.code(), r.err());
        assertEquals("lookupffn spark-embed: /nonexistent/model: no such file or folder", lastLine(r.err()), r.err());
        assertEquals(appsBefore, applications().size(), "no executor should have been started for a model the driver cannot load");
    }

    @Test
    void noExecutorGivesOneLineNamingTheMaster(@TempDir Path dir) throws Exception {
        Path txt = dir.resolve("in.txt");
        Files.write(txt, List.of("one", "two"));
        // a worker too small for the application: no executor ever starts (Spark alone would wait forever);
        // bounded by --executor-timeout
        Result r = submit(dir, Map.of("spark.executor.memory", "64g"), "--input", txt.toString(),
                "--output", dir.resolve("o.parquet").toString(), "--executor-timeout", "15");
        assertEquals(1, r.code(), r.err());
        assertTrue(lastLine(r.err()).startsWith("lookupffn spark-embed: no executor registered with " + masterUrl + " within 15 s"),
                r.err());
        assertFalse(Files.exists(dir.resolve("o.parquet")));
    }
}
