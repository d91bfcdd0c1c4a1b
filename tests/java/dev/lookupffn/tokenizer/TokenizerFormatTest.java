package dev.lookupffn.tokenizer;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lookupffn.LookupFfnException.FormatException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Malformed or unsupported files fail with a FormatException naming the file and the problem. */
class TokenizerFormatTest {
    static JsonNode miniLm;

    @TempDir
    Path dir;

    @BeforeAll
    static void load() throws IOException {
        try (InputStream in = TestTokenizers.miniLmStream()) {
            miniLm = TestTokenizers.JSON.readTree(in);
        }
    }

    /** Loads the MiniLM tokenizer.json after {@code edit}; expects a FormatException mentioning all {@code words}. */
    private static void rejects(Consumer<ObjectNode> edit, String... words) {
        ObjectNode copy = miniLm.deepCopy();
        edit.accept(copy);
        byte[] bytes = copy.toString().getBytes(StandardCharsets.UTF_8);
        rejectsBytes(bytes, words);
    }

    private static void rejectsBytes(byte[] bytes, String... words) {
        FormatException e = assertThrows(FormatException.class,
                () -> Tokenizers.fromTokenizerJson(new ByteArrayInputStream(bytes), "my-tokenizer.json"));
        String m = e.getMessage();
        assertTrue(m.startsWith("my-tokenizer.json: "), m);
        for (String w : words) assertTrue(m.contains(w), "'" + m + "' should mention " + w);
    }

    @Test
    void structuralErrors() {
        rejects(r -> r.remove("model"), "no \"model\"");
        rejects(r -> r.put("model", 3), "model must be an object");
        rejects(r -> ((ObjectNode) r.get("model")).remove("vocab"), "model", "vocab");
        rejects(r -> ((ObjectNode) r.get("model")).put("vocab", "x"), "model.vocab must be an object");
        rejects(r -> ((ObjectNode) r.get("model").get("vocab")).put("hello", "one"), "model.vocab[\"hello\"]", "integer");
        rejects(r -> ((ObjectNode) r.get("model").get("vocab")).put("hello", -3), "non-negative");
        rejects(r -> ((ObjectNode) r.get("model").get("vocab")).remove("[UNK]"), "[UNK]", "not in model.vocab");
        rejects(r -> ((ObjectNode) r.get("model")).put("max_input_chars_per_word", "lots"), "max_input_chars_per_word");
        rejects(r -> r.put("added_tokens", "none"), "added_tokens must be an array");
        rejects(r -> ((ObjectNode) r.get("added_tokens").get(0)).remove("id"), "added_tokens[0].id is missing");
        rejects(r -> ((ObjectNode) r.get("added_tokens").get(1)).put("special", "yes"), "added_tokens[1].special", "true or false");
        rejects(r -> ((ObjectNode) r.get("normalizer")).put("lowercase", 1), "normalizer.lowercase");
        rejects(r -> ((ObjectNode) r.get("normalizer")).remove("type"), "normalizer.type is missing");
        rejects(r -> ((ArrayNode) r.get("post_processor").get("single")).remove(1), "sequence A");
        rejects(r -> ((ObjectNode) r.get("post_processor").get("special_tokens")).remove("[SEP]"), "[SEP]", "special_tokens");
        rejects(r -> ((ObjectNode) r.get("truncation")).put("max_length", "long"), "truncation.max_length");
        rejects(r -> ((ObjectNode) r.get("truncation")).put("max_length", 1), "truncation.max_length", "special tokens");
        rejects(r -> ((ObjectNode) r.get("padding")).put("direction", "Up"), "padding.direction");
        rejectsBytes("[1, 2]".getBytes(StandardCharsets.UTF_8), "the top level must be an object");
        rejectsBytes(new byte[0], "empty");
    }

    @Test
    void truncatedJson() {
        byte[] whole = miniLm.toString().getBytes(StandardCharsets.UTF_8);
        rejectsBytes(java.util.Arrays.copyOf(whole, whole.length / 2), "not valid JSON", "line");
        rejectsBytes("{\"model\": {".getBytes(StandardCharsets.UTF_8), "not valid JSON");
    }

    @Test
    void unsupportedFeaturesAreNamed() {
        rejects(r -> ((ObjectNode) r.get("model")).put("type", "Unigram"), "unsupported model type 'Unigram'");
        rejects(r -> ((ObjectNode) r.get("normalizer")).put("type", "Precompiled"), "unsupported normalizer type 'Precompiled'");
        rejects(r -> ((ObjectNode) r.get("pre_tokenizer")).put("type", "Metaspace"), "unsupported pre_tokenizer type 'Metaspace'");
        rejects(r -> ((ObjectNode) r.get("post_processor")).put("type", "Fancy"), "unsupported post_processor type 'Fancy'");
        rejects(r -> ((ObjectNode) r.get("decoder")).put("type", "Metaspace"), "unsupported decoder type 'Metaspace'");
    }

    @Test
    void badBpeFiles() throws IOException {
        Path vocab = TestTokenizers.GPT2_VOCAB, merges = TestTokenizers.GPT2_MERGES;
        Path missing = dir.resolve("missing.json");
        FormatException e = assertThrows(FormatException.class, () -> Tokenizers.fromBpeFiles(missing, merges));
        assertTrue(e.getMessage().contains("missing.json: no such file"), e.getMessage());
        e = assertThrows(FormatException.class, () -> Tokenizers.fromTokenizerJson(missing));
        assertTrue(e.getMessage().contains("missing.json: no such file"), e.getMessage());

        Path badMerges = Files.writeString(dir.resolve("merges.txt"), "#version: 0.2\nĠ t\nthree tokens here\n");
        e = assertThrows(FormatException.class, () -> Tokenizers.fromBpeFiles(vocab, badMerges));
        assertTrue(e.getMessage().contains("merges.txt: line 3") && e.getMessage().contains("two tokens"), e.getMessage());

        Path unknownMerge = Files.writeString(dir.resolve("merges2.txt"), "#version: 0.2\nĠ t\nq\u4e00 z\n");
        e = assertThrows(FormatException.class, () -> Tokenizers.fromBpeFiles(vocab, unknownMerge));
        assertTrue(e.getMessage().contains("missing from the vocabulary"), e.getMessage());

        Path badVocab = Files.writeString(dir.resolve("vocab.json"), "{\"a\": 0, \"b\": [1]}");
        e = assertThrows(FormatException.class, () -> Tokenizers.fromBpeFiles(badVocab, merges));
        assertTrue(e.getMessage().startsWith(badVocab + ": ") && e.getMessage().contains("\"b\""), e.getMessage());

        Path cut = Files.writeString(dir.resolve("cut.json"), Files.readString(vocab).substring(0, 1000));
        e = assertThrows(FormatException.class, () -> Tokenizers.fromBpeFiles(cut, merges));
        assertTrue(e.getMessage().contains("not valid JSON"), e.getMessage());

        e = assertThrows(FormatException.class, () -> Tokenizers.fromTokenizerJson(null, "nothing.json"));
        assertTrue(e.getMessage().contains("nothing.json"), e.getMessage());
    }

    @Test
    void badBpeTokenizerJson() {
        ObjectNode model = TestTokenizers.JSON.createObjectNode();
        model.put("type", "BPE");
        model.putObject("vocab").put("a", 0).put("b", 1).put("ab", 2);
        model.putArray("merges").add("a b").add("ab");
        ObjectNode root = TestTokenizers.JSON.createObjectNode();
        root.set("model", model);
        rejectsBytes(root.toString().getBytes(StandardCharsets.UTF_8), "model.merges[1]");
        ((ArrayNode) model.get("merges")).remove(1);
        model.put("byte_fallback", true);
        rejectsBytes(root.toString().getBytes(StandardCharsets.UTF_8), "byte_fallback");
        model.put("byte_fallback", false);
        model.put("unk_token", "<unk>");
        rejectsBytes(root.toString().getBytes(StandardCharsets.UTF_8), "unk_token '<unk>'");
        model.putNull("unk_token");
        Tokenizer t = Tokenizers.fromTokenizerJson(new ByteArrayInputStream(root.toString().getBytes(StandardCharsets.UTF_8)), "ok.json");
        org.junit.jupiter.api.Assertions.assertArrayEquals(new int[] {2, 0}, t.encode("aba").ids(), "merges as strings; no pre-tokenizer");
    }
}
