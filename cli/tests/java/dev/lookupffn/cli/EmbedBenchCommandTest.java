package dev.lookupffn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lookupffn.cli.LayerCommandTest.Run;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bench --embed}: ours against ONNX Runtime on the embedded MiniLM and the embedded corpus, with ORT on the
 * class path (the test class path has it: a provided dependency) and without it (a child JVM whose class path
 * leaves ORT's jar out, as the launcher's is when the jar is not in the local Maven repository).
 */
class EmbedBenchCommandTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String ORT_MISSING = "ONNX Runtime (com.microsoft.onnxruntime:onnxruntime) is not on the class path: our rows alone";

    @TempDir
    Path dir;

    /** A seconds-long run: 8 texts, one pass, no warm-up, 1 thread, 2 callers. */
    static List<String> tiny(String... more) {
        List<String> args = new ArrayList<>(List.of("bench", "--embed", "--no-progress", "--texts", "8", "--repetitions", "1",
                "--warmup", "0", "--threads", "1", "--callers", "2"));
        args.addAll(List.of(more));
        return args;
    }

    @Test
    void oursAndOrtSideBySideWithMatchingEmbeddings() throws Exception {
        Path json = dir.resolve("embed.json"), chart = dir.resolve("embed.png");
        Run r = LayerCommandTest.run(tiny("--json", json.toString(), "--chart", chart.toString()).toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        assertFalse(r.out().contains("not on the class path"), r.out());
        JsonNode root = JSON.readTree(json.toFile());
        assertTrue(root.get("ort_missing").isNull(), root.toString());
        assertEquals(8, root.at("/config/texts").asInt());
        assertTrue(root.at("/config/tokens").asLong() > 8 * 2, "special tokens alone are 2 per text");
        assertEquals("1.20.0", root.at("/machine/onnxruntime").asText());
        Set<String> pairs = new java.util.TreeSet<>();
        for (JsonNode row : root.get("rows")) {
            pairs.add(row.get("name").asText() + "/" + row.get("mode").asText());
            assertTrue(row.get("tokens_per_s").asDouble() > 0, row.toString());
            if (row.get("name").asText().equals("ours")) {
                assertTrue(row.get("ours_over_ort").asDouble() > 0, row.toString());
                // exact fp32 on both sides: the same embeddings up to rounding
                assertTrue(row.get("worst_cosine_vs_ort").asDouble() >= 0.99999, row.toString());
            } else {
                assertTrue(row.get("ours_over_ort").isNull(), row.toString());
            }
        }
        assertEquals(Set.of("ort/batch", "ort/callers", "ort/one", "ours/batch", "ours/callers", "ours/one"), pairs);
        assertTrue(r.out().contains("one text per call") && r.out().contains("sorted batches of 32")
                && r.out().contains("2 callers x 1 thread"), r.out());
        assertTrue(Files.size(chart) > 1000);
    }

    @Test
    void bf16WeightsAreARowOfTheirOwnCloseToOrt() throws Exception {
        Path json = dir.resolve("all.json");
        Run r = LayerCommandTest.run("bench", "--embed", "--no-progress", "--texts", "4", "--repetitions", "1", "--warmup", "0",
                "--threads", "1", "--dtype", "all", "--json", json.toString());
        assertEquals(0, r.code(), r.err());
        List<String> names = new ArrayList<>();
        for (JsonNode row : JSON.readTree(json.toFile()).get("rows")) {
            names.add(row.get("name").asText() + "/" + row.get("dtype").asText() + "/" + row.get("mode").asText());
            // bf16 weights (or fp32 where the CPU lacks AVX512_BF16) stay near ORT's fp32 embeddings
            if (!row.get("name").asText().equals("ort")) assertTrue(row.get("worst_cosine_vs_ort").asDouble() >= 0.999, row.toString());
        }
        assertEquals(List.of("ours/f32/one", "ours-bf16/bf16/one", "ort/f32/one", "ours/f32/batch", "ours-bf16/bf16/batch",
                "ort/f32/batch"), names);
    }

    @Test
    void withoutOrtOnTheClassPathItPrintsOursAloneAndSaysSo() throws Exception {
        String classPath = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .filter(e -> !Path.of(e).getFileName().toString().startsWith("onnxruntime"))
                .collect(Collectors.joining(File.pathSeparator));
        assertFalse(classPath.equals(System.getProperty("java.class.path")), "ORT should be on the test class path");
        Path json = dir.resolve("alone.json");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow", "-cp", classPath,
                Main.class.getName()));
        cmd.addAll(tiny("--json", json.toString()));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        assertEquals(1, out.lines().filter(l -> l.contains("ONNX Runtime")).filter(l -> l.contains("not on the class path")).count(), out);
        assertTrue(out.contains(ORT_MISSING), out);
        JsonNode root = JSON.readTree(json.toFile());
        assertEquals(ORT_MISSING, root.get("ort_missing").asText());
        assertEquals("not on the class path", root.at("/machine/onnxruntime").asText());
        List<String> names = new ArrayList<>();
        for (JsonNode row : root.get("rows")) {
            names.add(row.get("name").asText() + "/" + row.get("mode").asText());
            assertTrue(row.get("ours_over_ort").isNull() && row.get("worst_cosine_vs_ort").isNull(), row.toString());
        }
        assertEquals(List.of("ours/one", "ours/batch", "ours/callers"), names);
    }

    @Test
    void badArgumentsExit2BeforeAnyWork() {
        String[][] cases = {
                {"--callers", "0", "--callers must be in 1..1024"}, {"--callers", "5000", "--callers must be in 1..1024"},
                {"--texts", "0", "--texts must be in 1.."}, {"--batch", "0", "--batch must be in 1..4096"},
                {"--threads", "0", "--threads must be in 1..1024"}, {"--tokens", "16", "--tokens does not apply to --embed"},
                {"--encoder", null, "--encoder does not apply to --embed"}, {"--dtype", "f16", "--dtype must be f32, bf16 or all"}};
        for (String[] c : cases) {
            List<String> args = new ArrayList<>(List.of("bench", "--embed", "--no-progress", c[0]));
            if (c[1] != null) args.add(c[1]);
            Run r = LayerCommandTest.run(args.toArray(String[]::new));
            assertEquals(2, r.code(), String.join(" ", args) + ": " + r.err());
            assertTrue(r.err().contains(c[2]), String.join(" ", args) + ": " + r.err());
            assertEquals("", r.out(), "nothing ran");
        }
        for (String o : List.of("--corpus", "--model", "--texts", "--callers")) {
            Run r = LayerCommandTest.run("bench", "--no-progress", o, o.equals("--corpus") || o.equals("--model") ? "x" : "2");
            assertEquals(2, r.code(), o + ": " + r.err());
            assertTrue(r.err().contains(o + " applies to the embedding benchmark only: add --embed"), r.err());
        }
    }

    @Test
    void aMissingOrBlankCorpusIsOneLineAndExit1() throws Exception {
        Run r = LayerCommandTest.run(tiny("--corpus", dir.resolve("none.txt").toString()).toArray(String[]::new));
        assertEquals(1, r.code(), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("none.txt: no such file"), r.err());
        Path blank = Files.writeString(dir.resolve("blank.txt"), "\n   \n\n");
        r = LayerCommandTest.run(tiny("--corpus", blank.toString()).toArray(String[]::new));
        assertEquals(1, r.code(), r.err());
        assertTrue(r.err().contains("blank.txt: no text"), r.err());
    }

    @Test
    void aCorpusFileIsReadLineByLine() throws Exception {
        Path corpus = Files.writeString(dir.resolve("c.txt"), "The first sentence.\n\nA second one, longer than the first.\r\nThird.\n");
        Path json = dir.resolve("c.json");
        List<String> args = tiny("--corpus", corpus.toString(), "--json", json.toString());
        args.set(args.indexOf("--texts") + 1, "100");
        Run r = LayerCommandTest.run(args.toArray(String[]::new));
        assertEquals(0, r.code(), r.err());
        JsonNode root = JSON.readTree(json.toFile());
        assertEquals(3, root.at("/config/texts").asInt(), "blank lines are skipped, --texts beyond the file takes all");
        assertEquals(corpus.toString(), root.at("/config/corpus").asText());
        assertNotNull(root.get("rows"));
    }
}
