package dev.lookupffn.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lookupffn.cli.EmbedCommand;
import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The embed command: stdin lines in, one JSON array per line out, equal to the Java API's embeddings. */
class EmbedCommandTest {
    static String[] run(String stdin, String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        CommandLine cli = new CommandLine(new EmbedCommand(new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8))));
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        int code = cli.execute(args);
        return new String[] {String.valueOf(code), out.toString(), err.toString()};
    }

    @Test
    void embedsEachLineAsAJsonArray() throws Exception {
        List<String> texts = List.of("hello world", "", "Grüße 🍕", "the last line");
        String[] r = run(String.join("\n", texts) + "\n", "--threads", "2", "--batch-size", "3");
        assertEquals("0", r[0], r[2]);
        String[] lines = r[1].split("\n");
        assertEquals(texts.size(), lines.length);
        try (Encoder enc = Encoder.loadDefault()) {
            float[][] want = enc.embed(texts);
            ObjectMapper json = new ObjectMapper();
            for (int i = 0; i < lines.length; i++) {
                JsonNode arr = json.readTree(lines[i]);
                assertEquals(384, arr.size());
                double norm = 0;
                for (int k = 0; k < arr.size(); k++) {
                    assertEquals(want[i][k], arr.get(k).floatValue(), 1e-6f, "line " + i + " value " + k);
                    norm += arr.get(k).doubleValue() * arr.get(k).doubleValue();
                }
                assertEquals(1.0, norm, 1e-5, "normalised by default");
            }
        }
    }

    /** --dtype bf16 gives the Java API's bf16 embeddings: close to f32, not equal to it; int8 needs LookupFFN layers. */
    @Test
    void dtypeSelectsTheWeights() throws Exception {
        List<String> texts = List.of("hello world", "The licensee may copy and distribute verbatim copies.");
        String[] r = run(String.join("\n", texts) + "\n", "--threads", "2", "--dtype", "bf16");
        assertEquals("0", r[0], r[2]);
        String[] lines = r[1].split("\n");
        try (Encoder f32 = Encoder.loadDefault();
             Encoder bf16 = Encoder.loadDefault(Encoder.Options.DEFAULT.withDType(dev.lookupffn.tensor.DType.BF16))) {
            float[][] want = bf16.embed(texts), full = f32.embed(texts);
            ObjectMapper json = new ObjectMapper();
            for (int i = 0; i < lines.length; i++) {
                JsonNode arr = json.readTree(lines[i]);
                double dot = 0, differ = 0;
                for (int k = 0; k < arr.size(); k++) {
                    assertEquals(want[i][k], arr.get(k).floatValue(), 1e-6f, "line " + i + " value " + k);
                    dot += arr.get(k).doubleValue() * full[i][k];
                    differ += Math.abs(arr.get(k).doubleValue() - full[i][k]);
                }
                assertTrue(dot >= 0.999 && differ > 0, "line " + i + ": cosine to f32 " + dot + ", L1 difference " + differ);
            }
        }
        assertEquals("0", run("x\n", "--dtype", "F32")[0]);
        String[] bad = run("x\n", "--dtype", "f16");
        assertEquals("2", bad[0], bad[2]);
        assertTrue(bad[2].contains("--dtype must be f32, bf16 or int8, got f16"), bad[2]);
        String[] int8 = run("x\n", "--dtype", "int8");
        assertEquals("1", int8[0], int8[2]);
        assertTrue(int8[2].contains("no LookupFFN layers"), int8[2]);
    }

    @Test
    void clsPoolingWithoutNormalisation() throws Exception {
        String[] r = run("hello world\n", "--pooling", "cls", "--no-normalize");
        assertEquals("0", r[0], r[2]);
        JsonNode arr = new ObjectMapper().readTree(r[1].trim());
        double norm = 0;
        for (JsonNode v : arr) norm += v.doubleValue() * v.doubleValue();
        assertTrue(Math.abs(Math.sqrt(norm) - 1) > 1e-3, "not normalised: norm " + Math.sqrt(norm));
    }

    @Test
    void badArgumentsAreUsageErrors() {
        assertEquals("2", run("", "--pooling", "max")[0]);
        assertEquals("2", run("", "--threads", "0")[0]);
        assertEquals("2", run("", "--batch-size", "0")[0]);
        String[] r = run("", "--threads", "35000");
        assertEquals("2", r[0], r[2]);
        assertTrue(r[2].contains("--threads must be in 1..1024"), r[2]);
        r = run("", "--batch-size", "1000000");
        assertEquals("2", r[0], r[2]);
        assertTrue(r[2].contains("--batch-size must be in 1..4096"), r[2]);
    }

    /** Lines end at \n or \r\n only: a lone \r (or U+2028, U+0085) stays in its text; one output line per input line. */
    @Test
    void oneOutputLinePerInputLineWhateverTheCarriageReturns() throws Exception {
        List<String> texts = List.of("a\rb", "c", "old mac\rline\rbreaks", "nel\u0085ls\u2028ps", "last\r");
        String[] r = run("a\rb\nc\r\nold mac\rline\rbreaks\nnel\u0085ls\u2028ps\r\nlast\r", "--threads", "2");
        assertEquals("0", r[0], r[2]);
        String[] lines = r[1].split("\n");
        assertEquals(texts.size(), lines.length, r[1]);
        try (Encoder enc = Encoder.loadDefault()) {
            float[][] want = enc.embed(texts);
            ObjectMapper json = new ObjectMapper();
            for (int i = 0; i < lines.length; i++) {
                JsonNode arr = json.readTree(lines[i]);
                for (int k = 0; k < arr.size(); k++) assertEquals(want[i][k], arr.get(k).floatValue(), 1e-6f, "line " + i);
            }
        }
    }

    @Test
    void configGoesToTheModelLoader(@TempDir Path dir) throws Exception {
        // a checkpoint alone: without --config its configuration is missing; with it the model loads and what is
        // missing next is the tokenizer (the authors' checkpoints ship none)
        Path run = Path.of("tests/resources/fixtures/authors-checkpoints/pub-bh4r2");
        Path ckpt = Files.copy(run.resolve("last.ckpt"), dir.resolve("last.ckpt"));
        String[] without = run("x\n", "--model", ckpt.toString());
        assertEquals("1", without[0], without[2]);
        assertTrue(without[2].contains("num_attention_heads"), without[2]);
        String[] with = run("x\n", "--model", ckpt.toString(), "--config", run.resolve("training-config.py").toString());
        assertEquals("1", with[0], with[2]);
        assertTrue(with[2].toLowerCase(java.util.Locale.ROOT).contains("tokenizer") && !with[2].contains("num_attention_heads"),
                with[2]);
        assertEquals("2", run("x\n", "--config", run.resolve("training-config.py").toString())[0]);
    }

    @Test
    void aMissingModelIsAnError() {
        String[] r = run("x\n", "--model", "/nonexistent/model.onnx");
        assertTrue(!r[0].equals("0"), "exit code " + r[0]);
    }
}
