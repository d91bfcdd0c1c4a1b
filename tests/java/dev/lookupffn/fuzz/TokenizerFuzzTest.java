package dev.lookupffn.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.lookupffn.LookupFfnException;
import dev.lookupffn.tokenizer.Encoding;
import dev.lookupffn.tokenizer.Tokenizer;
import dev.lookupffn.tokenizer.Tokenizers;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/**
 * Tokenizer loaders take any bytes (a typed error or a tokenizer, nothing else); the encoders take any text
 * (no exception, ids in range, masks consistent; byte-level BPE decodes back to the exact text).
 * Seeds: tests/resources/dev/lookupffn/fuzz/TokenizerFuzzTestInputs/.
 */
class TokenizerFuzzTest {
    private static final Tokenizer WORDPIECE = load();
    private static final Tokenizer GPT2 = Tokenizers.fromBpeFiles(Path.of("tests/resources/tokenizers/gpt2/vocab.json"),
            Path.of("tests/resources/tokenizers/gpt2/merges.txt"));

    private static Tokenizer load() {
        try (InputStream in = TokenizerFuzzTest.class.getClassLoader().getResourceAsStream("all-minilm-l6-v2-tokenizer.json")) {
            return Tokenizers.fromTokenizerJson(in, "all-minilm-l6-v2-tokenizer.json");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @FuzzTest(maxDuration = "60s")
    void loadAnyTokenizerJson(FuzzedDataProvider data) {
        byte[] bytes = data.consumeRemainingAsBytes();
        try {
            Tokenizer t = Tokenizers.fromTokenizerJson(new ByteArrayInputStream(bytes), "fuzz.json");
            t.encode("hello world, ünïcödé 你好 🙂", true);
        } catch (LookupFfnException expected) {
            // a typed error is the correct answer to a bad file
        }
    }

    @FuzzTest(maxDuration = "60s")
    void encodeAnyText(FuzzedDataProvider data) {
        String text = data.consumeRemainingAsString();
        for (Tokenizer t : List.of(WORDPIECE, GPT2)) {
            Encoding e = t.encode(text, true);
            assertEquals(e.ids().length, e.attentionMask().length);
            for (int id : e.ids())
                if (id < 0 || id >= t.vocabSize()) throw new AssertionError("id " + id + " outside the vocabulary");
            t.decode(e.ids(), true);
        }
        // byte-level BPE is lossless for well-formed text
        if (StandardCharsets.UTF_8.newEncoder().canEncode(text))
            assertEquals(text, GPT2.decode(GPT2.encode(text, false).ids(), false));
    }
}
