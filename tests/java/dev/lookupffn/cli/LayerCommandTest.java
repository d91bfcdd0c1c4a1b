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
}
