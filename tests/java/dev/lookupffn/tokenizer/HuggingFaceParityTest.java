package dev.lookupffn.tokenizer;

import static dev.lookupffn.tokenizer.TestTokenizers.longs;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Our tokenizers give exactly the ids (and tokens, masks, type ids, decoded text) of HuggingFace's Rust tokenizers via DJL. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HuggingFaceParityTest {
    Path dir;
    Path miniLmJson, gpt2Json;
    HuggingFaceTokenizer djlMiniLm, djlGpt2;
    Tokenizer miniLm, gpt2FromJson, gpt2FromFiles;

    @BeforeAll
    void setUp() throws IOException {
        dir = Files.createTempDirectory("tokenizer-parity");
        miniLmJson = TestTokenizers.miniLmFile(dir);
        gpt2Json = TestTokenizers.gpt2File(dir);
        djlMiniLm = TestTokenizers.djl(miniLmJson);
        djlGpt2 = TestTokenizers.djl(gpt2Json);
        try (var in = TestTokenizers.miniLmStream()) {
            miniLm = Tokenizers.fromTokenizerJson(in, TestTokenizers.MINILM_RESOURCE).withMaxLength(0);
        }
        gpt2FromJson = Tokenizers.fromTokenizerJson(gpt2Json);
        gpt2FromFiles = Tokenizers.fromBpeFiles(TestTokenizers.GPT2_VOCAB, TestTokenizers.GPT2_MERGES);
    }

    @AfterAll
    void tearDown() throws IOException {
        djlMiniLm.close();
        djlGpt2.close();
        try (var files = Files.list(dir)) {
            for (Path f : files.toList()) Files.delete(f);
        }
        Files.delete(dir);
    }

    private Tokenizer ours(String kind) {
        return switch (kind) {
            case "minilm" -> miniLm;
            case "gpt2-json" -> gpt2FromJson;
            case "gpt2-files" -> gpt2FromFiles;
            default -> throw new IllegalArgumentException(kind);
        };
    }

    private HuggingFaceTokenizer djl(String kind) {
        return kind.equals("minilm") ? djlMiniLm : djlGpt2;
    }

    private static String show(String s) {
        StringBuilder b = new StringBuilder();
        s.codePoints().limit(80).forEach(c -> {
            if (c < 0x20 || (c >= 0x7F && c < 0xA0)) b.append(String.format("\\u%04X", c));
            else b.appendCodePoint(c);
        });
        return b.toString();
    }

    /** Compares one text; returns a description of the difference or null. */
    private static String compare(Tokenizer ours, HuggingFaceTokenizer djl, String text, boolean special) {
        ai.djl.huggingface.tokenizers.Encoding want = djl.encode(text, special, false);
        Encoding got = ours.encode(text, special);
        if (!Arrays.equals(longs(got.ids()), want.getIds()))
            return "ids of '" + show(text) + "' (special " + special + "): want " + Arrays.toString(want.getIds())
                    + " " + Arrays.toString(want.getTokens()) + ", got " + Arrays.toString(got.ids()) + " " + Arrays.toString(got.tokens());
        if (!Arrays.equals(got.tokens(), want.getTokens()))
            return "tokens of '" + show(text) + "': want " + Arrays.toString(want.getTokens()) + ", got " + Arrays.toString(got.tokens());
        if (!Arrays.equals(longs(got.typeIds()), want.getTypeIds()) || !Arrays.equals(longs(got.attentionMask()), want.getAttentionMask()))
            return "type ids / attention mask of '" + show(text) + "' differ";
        return null;
    }

    private static void assertNoDifferences(List<String> diffs, int checked) {
        assertTrue(diffs.isEmpty(), diffs.size() + " of " + checked + " differ, e.g.:\n" + String.join("\n", diffs.subList(0, Math.min(10, diffs.size()))));
    }

    @ParameterizedTest
    @ValueSource(strings = {"minilm", "gpt2-json", "gpt2-files"})
    void corpusEncodesIdentically(String kind) {
        List<String> diffs = new ArrayList<>();
        List<String> corpus = TestTokenizers.corpus();
        for (String text : corpus) {
            for (boolean special : new boolean[] {true, false}) {
                String d = compare(ours(kind), djl(kind), text, special);
                if (d != null) diffs.add(d);
            }
        }
        assertNoDifferences(diffs, corpus.size() * 2);
    }

    @ParameterizedTest
    @ValueSource(strings = {"minilm", "gpt2-json", "gpt2-files"})
    void corpusDecodesIdentically(String kind) {
        List<String> diffs = new ArrayList<>();
        List<String> corpus = TestTokenizers.corpus();
        for (String text : corpus) {
            int[] ids = ours(kind).encode(text, true).ids();
            for (boolean skip : new boolean[] {true, false}) {
                String want = djl(kind).decode(longs(ids), skip), got = ours(kind).decode(ids, skip);
                if (!want.equals(got)) diffs.add("decode of '" + show(text) + "' (skip " + skip + "): want '" + show(want) + "', got '" + show(got) + "'");
            }
        }
        assertNoDifferences(diffs, corpus.size() * 2);
    }

    /** Random mixtures of fragments that stress splitting: scripts, marks, spaces, quotes, digits, emoji, controls. */
    @ParameterizedTest
    @ValueSource(strings = {"minilm", "gpt2-json"})
    void randomTextsEncodeIdentically(String kind) {
        String[] pool = {" ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "'", "'s", "'ll", "'RE", "\"", "a", "Ab", "ZZ",
                "hello", "world", "ing", "##", "1", "42", "3.5", "٣", "½", ",", ".", "!?", "...", "-", "_", "(", ")", "@",
                "#", "$", "%", "€", "é", "e\u0301", "ß", "İ", "Σ", "ς", "я", "Ж", "ع", "ال", "中", "文字", "の", "カ", "한",
                "글", "ไทย", "😀", "👍🏽", "👩‍💻", "\u200d", "\u200b", "\ufeff", "\u0000", "\u0007", "\u0085", "\ufffd",
                "\ud835\udc1b", "𠀀", "[CLS]", "[SEP]", "[UNK]", "[MASK]", "<|endoftext|>", "<|endoftext", "x".repeat(120)};
        Random rnd = new Random(42);
        List<String> diffs = new ArrayList<>();
        int n = 3000;
        for (int i = 0; i < n; i++) {
            StringBuilder b = new StringBuilder();
            int parts = 1 + rnd.nextInt(12);
            for (int k = 0; k < parts; k++) b.append(pool[rnd.nextInt(pool.length)]);
            String d = compare(ours(kind), djl(kind), b.toString(), rnd.nextBoolean());
            if (d != null) diffs.add(d);
        }
        assertNoDifferences(diffs, n);
    }

    /** A random word of {@code n} code points drawn from {@code alphabet} (few letters: many merges apply). */
    private static String randomWord(Random rnd, String alphabet, int n) {
        int[] letters = alphabet.codePoints().toArray();
        StringBuilder b = new StringBuilder(n);
        for (int i = 0; i < n; i++) b.appendCodePoint(letters[rnd.nextInt(letters.length)]);
        return b.toString();
    }

    /**
     * Very long words: BPE's merge loop must stay O(n log n) (a 40,000-letter word took 40 s with the quadratic
     * one) and still give HF's ids; WordPiece turns a word over max_input_chars_per_word (100) into [UNK], as HF.
     * The timeout turns a hang into a failure; it is not a speed requirement.
     */
    @ParameterizedTest
    @ValueSource(strings = {"minilm", "gpt2-json", "gpt2-files"})
    @Timeout(value = 20, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void longWordsEncodeIdentically(String kind) {
        Random rnd = new Random(7);
        List<String> texts = List.of("a".repeat(100_000), randomWord(rnd, "ab", 100_000), randomWord(rnd, "etaoinshrdlu", 100_000),
                randomWord(rnd, "abcdefghijklmnopqrstuvwxyz", 60_000), randomWord(rnd, "éàü", 30_000),
                randomWord(rnd, "中文字の", 30_000), "x" + "😀".repeat(20_000), "1234567890".repeat(5_000),
                "hello " + randomWord(rnd, "ab", 50_000) + " world " + randomWord(rnd, "xyz", 50_000) + "!");
        List<String> diffs = new ArrayList<>();
        for (String text : texts) {
            String d = compare(ours(kind), djl(kind), text, true);
            if (d != null) diffs.add(d.length() > 400 ? d.substring(0, 400) + "..." : d);
        }
        assertNoDifferences(diffs, texts.size());
    }

    /**
     * WordPiece without its usual 100-character cap (max_input_chars_per_word raised to a million). Ours tries at
     * most as many lengths per piece as the longest vocabulary entry has, so a 100,000-letter word stays linear in
     * its length; HF tries every length down from the word's end (quadratic: the reason for its cap), so the
     * comparison with HF uses 1,000-letter words, and the 100,000-letter ones are checked to split back into the word.
     */
    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void wordPieceWithoutTheLengthCapStaysLinearAndIdentical() throws IOException {
        var root = (com.fasterxml.jackson.databind.node.ObjectNode) TestTokenizers.JSON.readTree(miniLmJson.toFile());
        ((com.fasterxml.jackson.databind.node.ObjectNode) root.get("model")).put("max_input_chars_per_word", 1_000_000);
        Path uncapped = dir.resolve("uncapped-tokenizer.json");
        TestTokenizers.JSON.writeValue(uncapped.toFile(), root);
        Tokenizer ours = Tokenizers.fromTokenizerJson(uncapped).withMaxLength(0);
        Random rnd = new Random(5);
        String[] alphabets = {"a", "abcdefghijklmnopqrstuvwxyz", "etaoinshrdlu", "中文字", "xq"};
        List<String> diffs = new ArrayList<>();
        try (HuggingFaceTokenizer djl = TestTokenizers.djl(uncapped)) {
            for (String alphabet : alphabets) {
                String text = randomWord(rnd, alphabet, 1_000);
                String d = compare(ours, djl, text, true);
                if (d != null) diffs.add(d.length() > 400 ? d.substring(0, 400) + "..." : d);
            }
        }
        assertNoDifferences(diffs, alphabets.length);
        for (String alphabet : List.of("a", "abcdefghijklmnopqrstuvwxyz", "etaoinshrdlu", "xq")) { // one word each (CJK is split per char)
            String word = randomWord(rnd, alphabet, 100_000);
            Encoding e = ours.encode(word, false);
            StringBuilder back = new StringBuilder();
            for (String t : e.tokens()) back.append(t.startsWith("##") ? t.substring(2) : t);
            assertEquals(word, back.toString(), "the pieces of a 100,000-letter word of '" + alphabet + "' spell it");
        }
    }

    /** Random mixed text whose words are long (hundreds to thousands of letters), compared with HF. */
    @ParameterizedTest
    @ValueSource(strings = {"minilm", "gpt2-json"})
    @Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void randomTextWithLongWordsEncodesIdentically(String kind) {
        String[] alphabets = {"ab", "abc", "etaoin", "abcdefghijklmnopqrstuvwxyz", "ABCabc", "0123456789", "éèêë",
                "αβγ", "中文", "😀👍", "'s", ".,!?"};
        String[] separators = {" ", "  ", "\n", "\t", "", "-", "'"};
        Random rnd = new Random(11);
        List<String> diffs = new ArrayList<>();
        int n = 200;
        for (int i = 0; i < n; i++) {
            StringBuilder b = new StringBuilder();
            int words = 1 + rnd.nextInt(6);
            for (int w = 0; w < words; w++) {
                b.append(randomWord(rnd, alphabets[rnd.nextInt(alphabets.length)], 1 + rnd.nextInt(rnd.nextBoolean() ? 50 : 3000)));
                b.append(separators[rnd.nextInt(separators.length)]);
            }
            String d = compare(ours(kind), djl(kind), b.toString(), rnd.nextBoolean());
            if (d != null) diffs.add(d.length() > 400 ? d.substring(0, 400) + "..." : d);
        }
        assertNoDifferences(diffs, n);
    }

    /** Every code point of planes 0-3 and the tag/variation-selector block, in context, as one text each. */
    @ParameterizedTest
    @ValueSource(strings = {"minilm", "gpt2-json"})
    void everyCodePointEncodesIdentically(String kind) {
        Tokenizer ours = ours(kind);
        HuggingFaceTokenizer djl = djl(kind);
        List<String> diffs = new ArrayList<>();
        List<String> batch = new ArrayList<>();
        int checked = 0;
        for (int cp = 0; cp <= 0xE01EF; cp++) {
            if (cp == 0xD800) cp = 0xE000;
            if (cp == 0x323B0) cp = 0xE0000;
            String c = Character.toString(cp);
            batch.add("x" + c + "y" + c + " " + c + "Ab");
            if (batch.size() == 4096 || cp == 0xE01EF) {
                var want = djl.batchEncode(batch, false, false);
                for (int i = 0; i < batch.size(); i++) {
                    int[] got = ours.encode(batch.get(i), false).ids();
                    if (!Arrays.equals(longs(got), want[i].getIds()))
                        diffs.add("U+" + Integer.toHexString(batch.get(i).codePointAt(1)).toUpperCase() + ": want "
                                + Arrays.toString(want[i].getTokens()) + ", got " + Arrays.toString(ours.encode(batch.get(i), false).tokens()));
                }
                checked += batch.size();
                batch.clear();
            }
        }
        assertNoDifferences(diffs, checked);
    }

    @ParameterizedTest
    @ValueSource(ints = {3, 8, 16, 128})
    void truncationMatches(int maxLength) throws IOException {
        for (Path json : List.of(miniLmJson, gpt2Json)) {
            Tokenizer ours = Tokenizers.fromTokenizerJson(json).withMaxLength(maxLength);
            try (HuggingFaceTokenizer djl = HuggingFaceTokenizer.builder().optTokenizerPath(json).optAddSpecialTokens(true)
                    .optTruncation(true).optMaxLength(maxLength).optPadding(false).build()) {
                List<String> diffs = new ArrayList<>();
                for (String text : TestTokenizers.corpus()) {
                    for (boolean special : new boolean[] {true, false}) {
                        String d = compare(ours, djl, text, special);
                        if (d != null) diffs.add(d);
                    }
                }
                assertNoDifferences(diffs, TestTokenizers.corpus().size() * 2);
            }
        }
    }

    @Test
    void miniLmUsesTheTruncationOfItsTokenizerJson() {
        Tokenizer t = Tokenizers.fromTokenizerJson(miniLmJson);
        assertEquals(128, t.maxLength());
        String longText = "A very long sentence ".repeat(100);
        Encoding e = t.encode(longText);
        assertEquals(128, e.length());
        assertEquals(101, e.ids()[0]);
        assertEquals(102, e.ids()[127]);
        long[] want = djlMiniLm.encode(longText, true, false).getIds();
        assertArrayEquals(Arrays.copyOf(want, 127), longs(Arrays.copyOf(e.ids(), 127)));
    }

    @Test
    void batchPaddingMatches() throws IOException {
        List<String> texts = TestTokenizers.corpus().subList(0, 12);
        try (HuggingFaceTokenizer djl = HuggingFaceTokenizer.builder().optTokenizerPath(miniLmJson).optAddSpecialTokens(true)
                .optTruncation(true).optMaxLength(32).optPadding(true).build()) {
            var want = djl.batchEncode(texts, true, false);
            List<Encoding> got = miniLm.withMaxLength(32).encodeBatch(texts);
            assertEquals(want.length, got.size());
            for (int i = 0; i < want.length; i++) {
                assertArrayEquals(want[i].getIds(), longs(got.get(i).ids()), texts.get(i));
                assertArrayEquals(want[i].getAttentionMask(), longs(got.get(i).attentionMask()), texts.get(i));
                assertArrayEquals(want[i].getTypeIds(), longs(got.get(i).typeIds()), texts.get(i));
                assertArrayEquals(want[i].getTokens(), got.get(i).tokens(), texts.get(i));
            }
        }
    }
}
