package dev.lookupffn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.ffi.Reference;
import dev.lookupffn.safetensors.SafetensorsFile;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class LayerCommandTest {
    @TempDir
    Path dir;

    record Run(int code, String out, String err) {}

    static Run run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Run(code, out.toString(), err.toString());
    }

    @ParameterizedTest
    @ValueSource(strings = {"lookupffn-bh4-small.safetensors", "lookupffn-dense-small.safetensors"})
    void reproducesTheFixtureOutput(String fixture) {
        Path f = Path.of("tests/resources/fixtures", fixture), out = dir.resolve("out.safetensors");
        Run r = run("layer", "--weights", f.toString(), "--input", f.toString(), "--output", out.toString(), "--threads", "2");
        assertEquals(0, r.code(), r.err());
        try (SafetensorsFile want = SafetensorsFile.open(f); SafetensorsFile got = SafetensorsFile.open(out)) {
            double err = Reference.relativeError(got.floats("output"), want.floats("output"));
            assertTrue(err <= 1e-5, "relative error " + err);
        }
    }

    @Test
    void badArgumentsExit2AndBadFilesExit1WithOneLine() throws Exception {
        Path f = Path.of("tests/resources/fixtures/lookupffn-bh4-small.safetensors"), out = dir.resolve("o.safetensors");
        Run r = run("layer", "--weights", f.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("Missing required option"), r.err());
        r = run("layer", "--weights", f.toString(), "--input", f.toString(), "--output", out.toString(), "--threads", "0");
        assertEquals(2, r.code(), r.err());
        r = run("layer", "--weights", dir.resolve("nope.safetensors").toString(), "--input", f.toString(), "--output", out.toString());
        assertEquals(1, r.code());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("nope.safetensors") && r.err().contains("no such file"), r.err());
        byte[] bytes = Files.readAllBytes(f);
        Path cut = Files.write(dir.resolve("cut.safetensors"), java.util.Arrays.copyOf(bytes, bytes.length / 2));
        r = run("layer", "--weights", cut.toString(), "--input", f.toString(), "--output", out.toString());
        assertEquals(1, r.code());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertFalse(Files.exists(out), "a failed run must not leave an output file");
        r = run("layer", "--weights", f.toString(), "--input", f.toString(), "--input-name", "ln_outx", "--output", out.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("ln_outx"), r.err());
    }

    record Child(int code, String err, List<Path> crashLogs) {}

    /** Runs {@code main} in a child JVM (this test's class path) with hs_err files directed into {@code dir}. */
    Child child(Class<?> main, String... args) throws Exception {
        String javaCommand = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(javaCommand, "--enable-native-access=ALL-UNNAMED",
                "-XX:ErrorFile=" + dir.resolve("hs_err_%p.log"), "-XX:-CreateCoredumpOnCrash", "-cp",
                System.getProperty("java.class.path"), main.getName()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        try (var files = Files.list(dir)) {
            return new Child(p.exitValue(), err, files.filter(f -> f.getFileName().toString().startsWith("hs_err")).toList());
        }
    }

    /**
     * The input file shrinks after the CLI opened it and before the layer runs (TruncatingLayerMain's hook, in a
     * child JVM): the CLI computed from its own copy, so it writes the right output. Mapped, the kernel read the
     * vanished pages and the JVM died of SIGBUS (exit 134 with an hs_err file).
     */
    @Test
    void anInputTruncatedWhileTheCliRunsIsHarmless() throws Exception {
        Path fixture = Path.of("tests/resources/fixtures/lookupffn-bh4-small.safetensors");
        Path weights = Files.copy(fixture, dir.resolve("w.safetensors")), input = Files.copy(fixture, dir.resolve("in.safetensors"));
        Path out = dir.resolve("out.safetensors");
        Child c = child(TruncatingLayerMain.class, input.toString(), "layer", "--weights", weights.toString(), "--input",
                input.toString(), "--output", out.toString(), "--threads", "2");
        assertEquals(List.of(), c.crashLogs(), c.err());
        assertEquals(0, c.code(), c.err());
        assertEquals(0, Files.size(input), "the hook truncated the input");
        try (SafetensorsFile want = SafetensorsFile.open(fixture); SafetensorsFile got = SafetensorsFile.open(out)) {
            double err = Reference.relativeError(got.floats("output"), want.floats("output"));
            assertTrue(err <= 1e-5, "relative error " + err);
        }
        // weights and input in one file: also copied
        Path both = Files.copy(fixture, dir.resolve("both.safetensors"));
        c = child(TruncatingLayerMain.class, both.toString(), "layer", "--weights", both.toString(), "--input",
                both.toString(), "--output", out.toString(), "--threads", "2");
        assertEquals(List.of(), c.crashLogs(), c.err());
        assertEquals(0, c.code(), c.err());
    }

    /** Mapped weights truncated before the layer loads them: Java copies them, so it is one line and exit 1, not a crash. */
    @Test
    void weightsTruncatedBeforeLoadingAreOneLineAndExit1() throws Exception {
        Path fixture = Path.of("tests/resources/fixtures/lookupffn-bh4-small.safetensors");
        Path weights = Files.copy(fixture, dir.resolve("w.safetensors")), input = Files.copy(fixture, dir.resolve("in.safetensors"));
        Path out = dir.resolve("out.safetensors");
        Child c = child(TruncatingLayerMain.class, weights.toString(), "layer", "--weights", weights.toString(), "--input",
                input.toString(), "--output", out.toString());
        assertEquals(List.of(), c.crashLogs(), c.err());
        assertEquals(1, c.code(), c.err());
        List<String> lines = c.err().strip().lines().filter(l -> !l.startsWith("truncated ")).toList();
        assertEquals(1, lines.size(), c.err());
        assertTrue(lines.get(0).startsWith("lookupffn layer: ") && lines.get(0).contains("shrank"), c.err());
        assertFalse(Files.exists(out));
    }

    @Test
    void numericOptionsOutOfRangeAreUsageErrorsNamingTheRange() {
        Path f = Path.of("tests/resources/fixtures/lookupffn-bh4-small.safetensors"), out = dir.resolve("o.safetensors");
        for (String[] bad : new String[][] {{"--eps", "-1"}, {"--eps", "NaN"}, {"--eps", "Infinity"}, {"--threads", "35000"},
                {"--threads", "0"}, {"--threads", "-3"}}) {
            Run r = run("layer", "--weights", f.toString(), "--input", f.toString(), "--output", out.toString(), bad[0], bad[1]);
            assertEquals(2, r.code(), String.join(" ", bad) + ": " + r.err());
            assertTrue(r.err().contains(bad[0] + " must be"), r.err());
            assertTrue(r.err().contains("Usage:"), r.err());
        }
        assertTrue(run("layer", "--weights", f.toString(), "--input", f.toString(), "--output", out.toString(), "--threads", "35000")
                .err().contains("1..1024"));
        assertFalse(Files.exists(out));
    }

    @Test
    void aMissingOutputFolderIsOneLineAndExit1BeforeAnyWork() {
        Path f = Path.of("tests/resources/fixtures/lookupffn-bh4-small.safetensors"), out = dir.resolve("no/such/o.safetensors");
        Run r = run("layer", "--weights", f.toString(), "--input", f.toString(), "--output", out.toString());
        assertEquals(1, r.code(), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("does not exist") && r.err().contains(dir.resolve("no/such").toString()), r.err());
        assertFalse(Files.exists(dir.resolve("no")), "the folder was created");
    }

    @Test
    void anOutputSymlinkIsFollowed() throws Exception {
        Path f = Path.of("tests/resources/fixtures/lookupffn-bh4-small.safetensors");
        Path real = Files.writeString(dir.resolve("real.safetensors"), "old"), link = dir.resolve("o.safetensors");
        Files.createSymbolicLink(link, real);
        Run r = run("layer", "--weights", f.toString(), "--input", f.toString(), "--output", link.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.isSymbolicLink(link), "the link was replaced");
        try (SafetensorsFile got = SafetensorsFile.open(real)) {
            assertTrue(got.contains("output"));
        }
    }
}

