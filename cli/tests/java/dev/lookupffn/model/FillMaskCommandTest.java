package dev.lookupffn.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lookupffn.cli.FillMaskCommand;
import dev.lookupffn.tensor.Tensor;
import dev.lookupffn.tokenizer.Encoding;
import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * fill-mask on the authors' BH4 checkpoint with a small RoBERTa-style tokenizer beside it: one JSON array per line,
 * one array of top-k tokens per mask, equal to the softmax of the Encoder API's masked-LM logits at that position.
 */
class FillMaskCommandTest {
    static final Path FIXTURE = Path.of("tests/resources/fixtures/authors-checkpoints/pub-bh4r2");

    static String[] run(String stdin, String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        CommandLine cli = new CommandLine(new FillMaskCommand(new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8))));
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        int code = cli.execute(args);
        return new String[] {String.valueOf(code), out.toString(), err.toString()};
    }

    /** A WordPiece tokenizer.json with RoBERTa's special tokens and <mask> as id 199 (the model's vocabulary is 200). */
    static void writeTokenizer(Path file) throws Exception {
        ObjectMapper json = new ObjectMapper();
        var root = json.createObjectNode();
        root.put("version", "1.0").putNull("truncation");
        root.putNull("padding");
        var added = root.putArray("added_tokens");
        String[][] specials = {{"0", "<s>"}, {"1", "<pad>"}, {"2", "</s>"}, {"3", "<unk>"}, {"199", "<mask>"}};
        for (String[] s : specials)
            added.addObject().put("id", Integer.parseInt(s[0])).put("content", s[1]).put("single_word", false).put("lstrip", false)
                    .put("rstrip", false).put("normalized", false).put("special", true);
        root.putNull("normalizer");
        root.putObject("pre_tokenizer").put("type", "Whitespace");
        var post = root.putObject("post_processor");
        post.put("type", "RobertaProcessing").put("trim_offsets", true).put("add_prefix_space", false);
        post.putArray("sep").add("</s>").add(2);
        post.putArray("cls").add("<s>").add(0);
        root.putObject("decoder").put("type", "WordPiece").put("prefix", "##").put("cleanup", true);
        var model = root.putObject("model");
        model.put("type", "WordPiece").put("unk_token", "<unk>").put("continuing_subword_prefix", "##")
                .put("max_input_chars_per_word", 100);
        var vocab = model.putObject("vocab");
        for (String[] s : specials) vocab.put(s[1], Integer.parseInt(s[0]));
        String[] words = "the cat sat on mat a dog ran . big small red".split(" ");
        for (int i = 0; i < words.length; i++) vocab.put(words[i], 4 + i);
        json.writeValue(file.toFile(), root);
    }

    @Test
    void printsTheTopTokensOfEachMask(@TempDir Path dir) throws Exception {
        Files.copy(FIXTURE.resolve("last.ckpt"), dir.resolve("last.ckpt"));
        Files.copy(FIXTURE.resolve("config.json"), dir.resolve("config.json"));
        writeTokenizer(dir.resolve("tokenizer.json"));
        List<String> texts = List.of("the cat <mask> on the mat .", "<mask> dog ran <mask>", "no masks here");
        String[] r = run(String.join("\n", texts) + "\n", "--model", dir.resolve("last.ckpt").toString(), "--top-k", "3",
                "--threads", "2");
        assertEquals("0", r[0], r[2]);
        String[] lines = r[1].split("\n");
        assertEquals(3, lines.length);
        ObjectMapper json = new ObjectMapper();
        try (Encoder enc = Encoder.load(dir.resolve("last.ckpt"))) {
            for (int i = 0; i < texts.size(); i++) {
                JsonNode masks = json.readTree(lines[i]);
                Encoding e = enc.tokenizer().encode(texts.get(i), true);
                int[] ids = Arrays.copyOf(e.ids(), e.realLength());
                int expectedMasks = (int) Arrays.stream(ids).filter(id -> id == 199).count();
                assertEquals(List.of(1, 2, 0).get(i), expectedMasks, "the tokenizer keeps <mask> as one token");
                assertEquals(expectedMasks, masks.size(), "line " + i);
                int m = 0;
                try (Tensor seq = enc.forward(Batch.single(ids)); Tensor logits = enc.maskedLmLogits(seq)) {
                    float[] z = logits.toFloatArray();
                    for (int pos = 0; pos < ids.length; pos++) {
                        if (ids[pos] != 199) continue;
                        double max = Double.NEGATIVE_INFINITY, sum = 0;
                        for (int v = 0; v < 200; v++) max = Math.max(max, z[pos * 200 + v]);
                        for (int v = 0; v < 200; v++) sum += Math.exp(z[pos * 200 + v] - max);
                        JsonNode best = masks.get(m++);
                        assertEquals(3, best.size());
                        double previous = 1;
                        for (JsonNode p : best) {
                            int id = p.get("token_id").asInt();
                            double want = Math.exp(z[pos * 200 + id] - max) / sum;
                            assertEquals(want, p.get("score").asDouble(), 1e-6, "line " + i + " token " + id);
                            assertTrue(p.get("score").asDouble() <= previous, "sorted best first");
                            previous = p.get("score").asDouble();
                        }
                        // nothing outside the top 3 scores higher than the third
                        int third = best.get(2).get("token_id").asInt();
                        int higher = 0;
                        for (int v = 0; v < 200; v++) if (z[pos * 200 + v] > z[pos * 200 + third]) higher++;
                        assertEquals(2, higher);
                    }
                }
            }
        }
    }

    @Test
    void withoutATokenizerItSaysSo() {
        String[] r = run("the <mask>\n", "--model", FIXTURE.toString());
        assertEquals("1", r[0]);
        assertTrue(r[2].contains("no tokenizer.json"), r[2]);
        String[] k = run("", "--model", FIXTURE.toString(), "--top-k", "0");
        assertEquals("2", k[0], k[2]);
        // thread counts in range before any model is loaded (35000 threads used to end in an OutOfMemoryError)
        String[] t = run("", "--model", FIXTURE.toString(), "--threads", "35000");
        assertEquals("2", t[0], t[2]);
        assertTrue(t[2].contains("--threads"), t[2]);
    }

    @Test
    void oneOutputLinePerInputLineWhateverTheCarriageReturns(@TempDir Path dir) throws Exception {
        Files.copy(FIXTURE.resolve("last.ckpt"), dir.resolve("last.ckpt"));
        Files.copy(FIXTURE.resolve("config.json"), dir.resolve("config.json"));
        writeTokenizer(dir.resolve("tokenizer.json"));
        String[] r = run("the <mask>\rcat\r\n<mask> dog\n", "--model", dir.resolve("last.ckpt").toString());
        assertEquals("0", r[0], r[2]);
        assertEquals(2, r[1].split("\n").length, r[1]);
    }
}
