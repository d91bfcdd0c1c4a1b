package dev.lookupffn.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Behaviour of the public API that does not need the reference implementation. */
class TokenizerTest {
    static Tokenizer miniLm, gpt2;

    @BeforeAll
    static void load() throws IOException {
        try (InputStream in = TestTokenizers.miniLmStream()) {
            miniLm = Tokenizers.fromTokenizerJson(in, TestTokenizers.MINILM_RESOURCE);
        }
        gpt2 = Tokenizers.fromBpeFiles(TestTokenizers.GPT2_VOCAB, TestTokenizers.GPT2_MERGES);
    }

    @Test
    void bertBasics() {
        Encoding e = miniLm.encode("Hello, World! unaffable", true);
        assertArrayEquals(new String[] {"[CLS]", "hello", ",", "world", "!", "una", "##ffa", "##ble", "[SEP]"}, e.tokens());
        assertArrayEquals(new int[] {101, 7592, 1010, 2088, 999, 14477, 20961, 3468, 102}, e.ids());
        assertArrayEquals(new int[9], e.typeIds());
        assertEquals(9, e.realLength());
        assertArrayEquals(new int[] {7592, 1010, 2088, 999, 14477, 20961, 3468}, miniLm.encode("Hello, World! unaffable", false).ids());
        assertArrayEquals(new int[] {101, 102}, miniLm.encode("").ids());
        assertArrayEquals(new int[] {101, 100, 102}, miniLm.encode("a".repeat(101)).ids(), "words over 100 chars are [UNK]");
        assertEquals(30522, miniLm.vocabSize());
        assertEquals(0, miniLm.padId());
        assertEquals("[PAD]", miniLm.padToken());
        assertEquals(100, miniLm.unkId());
        assertEquals(2, miniLm.numSpecialTokens());
        assertEquals(101, miniLm.tokenToId("[CLS]"));
        assertEquals(-1, miniLm.tokenToId("no such token"));
        assertEquals("##ble", miniLm.idToToken(3468));
        assertNull(miniLm.idToToken(-1));
        assertNull(miniLm.idToToken(1 << 20));
        assertTrue(miniLm.isSpecial(102));
        assertFalse(miniLm.isSpecial(7592));
    }

    @Test
    void gpt2Basics() {
        Encoding e = gpt2.encode("Hello world<|endoftext|> it's", true);
        assertArrayEquals(new int[] {15496, 995, 50256, 340, 338}, e.ids());
        assertArrayEquals(new String[] {"Hello", "Ġworld", "<|endoftext|>", "Ġit", "'s"}, e.tokens());
        assertEquals(50257, gpt2.vocabSize());
        assertEquals(0, gpt2.numSpecialTokens());
        assertEquals(-1, gpt2.unkId());
        assertTrue(gpt2.isSpecial(50256));
        assertEquals(0, gpt2.encode("").length());
    }

    @Test
    void decodeRoundTrips() {
        for (String text : TestTokenizers.corpus()) {
            int[] ids = gpt2.encode(text).ids();
            String back = gpt2.decode(ids, false);
            // byte-level BPE is lossless, except that an unpaired surrogate cannot be encoded as UTF-8
            assertEquals(text, back, "GPT-2 round trip");
        }
        assertEquals("hello world", gpt2.decode(gpt2.encode("hello<|endoftext|> world").ids(), true));
        assertEquals("hello, world! unaffable.", miniLm.decode(miniLm.encode("Hello, World! Unaffable.").ids()));
        assertEquals("[CLS] hello world [SEP]", miniLm.decode(miniLm.encode("Hello world").ids(), false));
        assertEquals("cafe creme", miniLm.decode(miniLm.encode("Café Crème").ids()));
        assertEquals("", miniLm.decode(new int[] {-5, 1 << 20}), "unknown ids are skipped");
    }

    @Test
    void batchPadsToTheLongestAndTruncates() {
        List<String> texts = List.of("short", "a somewhat longer sentence with more words in it", "");
        List<Encoding> batch = miniLm.withMaxLength(0).encodeBatch(texts);
        int longest = miniLm.withMaxLength(0).encode(texts.get(1)).length();
        for (int i = 0; i < texts.size(); i++) {
            Encoding e = batch.get(i), alone = miniLm.encode(texts.get(i));
            assertEquals(longest, e.length());
            assertEquals(alone.length(), e.realLength());
            for (int k = 0; k < longest; k++) {
                boolean real = k < alone.length();
                assertEquals(real ? 1 : 0, e.attentionMask()[k]);
                assertEquals(real ? alone.ids()[k] : 0, e.ids()[k]);
                if (!real) assertEquals("[PAD]", e.tokens()[k]);
            }
        }
        List<Encoding> cut = miniLm.withMaxLength(5).encodeBatch(texts);
        assertArrayEquals(new int[] {5, 5, 5}, cut.stream().mapToInt(Encoding::length).toArray());
        assertArrayEquals(new int[] {101, 2460, 102, 0, 0}, cut.get(0).ids());
        assertArrayEquals(new int[] {1, 1, 1, 0, 0}, cut.get(0).attentionMask());
        assertEquals(102, cut.get(1).ids()[4], "truncation keeps the closing [SEP]");
        assertEquals(5, miniLm.withMaxLength(5).encode(texts.get(1), false).length(), "without specials all 5 are text");
        assertTrue(miniLm.encodeBatch(List.of()).isEmpty());
        List<Encoding> g = gpt2.encodeBatch(List.of("a b c", "a"));
        assertArrayEquals(new int[] {64, 0, 0}, g.get(1).ids(), "GPT-2 has no pad token: pads with id 0, mask 0");
        assertArrayEquals(new int[] {1, 0, 0}, g.get(1).attentionMask());
    }

    @Test
    void withMaxLengthValidates() {
        assertThrows(IllegalArgumentException.class, () -> miniLm.withMaxLength(-1));
        assertThrows(IllegalArgumentException.class, () -> miniLm.withMaxLength(1));
        assertEquals(512, miniLm.withMaxLength(512).maxLength());
        assertEquals(128, miniLm.maxLength(), "withMaxLength returns a copy");
        assertThrows(IllegalArgumentException.class, () -> miniLm.encode(null, true));
    }

    @Test
    void gpt2SplitterEqualsTheRegex() {
        Pattern p = Pattern.compile(PreTokenizer.GPT2_PATTERN, Pattern.UNICODE_CHARACTER_CLASS);
        List<String> texts = new ArrayList<>(TestTokenizers.corpus());
        String alphabet = "aZ9 \t\n\u00a0\u2003'srtvmld!.,-_é٣½中😀\u200d\u0301\u3000";
        Random rnd = new Random(7);
        for (int i = 0; i < 5000; i++) {
            StringBuilder b = new StringBuilder();
            int n = rnd.nextInt(20);
            for (int k = 0; k < n; k++) b.appendCodePoint(alphabet.codePointAt(alphabet.offsetByCodePoints(0, rnd.nextInt(alphabet.codePointCount(0, alphabet.length())))));
            texts.add(b.toString());
        }
        for (String t : texts) {
            List<String> want = new ArrayList<>(), got = new ArrayList<>();
            Matcher m = p.matcher(t);
            while (m.find()) want.add(m.group());
            Gpt2Splitter.split(t, got::add);
            assertEquals(want, got, t);
        }
    }

    @Test
    void threadSafe() throws Exception {
        List<String> corpus = TestTokenizers.corpus();
        List<int[]> want = corpus.stream().map(t -> gpt2.encode(t).ids()).toList();
        Tokenizer fresh = Tokenizers.fromBpeFiles(TestTokenizers.GPT2_VOCAB, TestTokenizers.GPT2_MERGES);
        try (var pool = java.util.concurrent.Executors.newFixedThreadPool(8)) {
            List<java.util.concurrent.Future<Boolean>> fs = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                fs.add(pool.submit(() -> {
                    for (int r = 0; r < 5; r++)
                        for (int i = 0; i < corpus.size(); i++)
                            if (!java.util.Arrays.equals(want.get(i), fresh.encode(corpus.get(i)).ids())) return false;
                    return true;
                }));
            }
            for (var f : fs) assertTrue(f.get());
        }
    }

    @Test
    void fastEnough() {
        // ~1 MB of mixed text must tokenize well under the time of embedding it
        StringBuilder b = new StringBuilder();
        List<String> corpus = TestTokenizers.corpus();
        while (b.length() < 1_000_000) for (String t : corpus) b.append(t).append(' ');
        String big = b.toString();
        for (Tokenizer t : List.of(miniLm.withMaxLength(0), gpt2)) {
            t.encode(big.substring(0, 100_000));
            long t0 = System.nanoTime();
            int n = t.encode(big).length();
            double ms = (System.nanoTime() - t0) / 1e6;
            assertTrue(n > 100_000);
            assertTrue(ms < 5_000, "1 MB took " + ms + " ms");
        }
    }
}
