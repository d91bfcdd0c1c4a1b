package dev.lookupffn.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The held-out corpus is the file its README describes (the sha256 it lists), in the repository and in the CLI's
 * jar alike: changing a sentence changes what every recorded number was measured on, so it must be deliberate.
 */
class EmbedCorpusTest {
    static final Path DIR = Path.of("docs/bench/corpus");

    @Test
    void theEmbeddedCorpusIsTheDocumentedFile() throws Exception {
        Matcher m = Pattern.compile("\\| sha256 \\| `([0-9a-f]{64})` \\|").matcher(Files.readString(DIR.resolve("README.md")));
        assertTrue(m.find(), "docs/bench/corpus/README.md lists no sha256");
        byte[] file = Files.readAllBytes(DIR.resolve("europarl-en-2000.txt"));
        assertEquals(m.group(1), sha256(file), "the corpus file differs from the one its README describes");
        try (InputStream in = EmbedBenchmark.class.getClassLoader().getResourceAsStream(EmbedBenchmark.DEFAULT_CORPUS_RESOURCE)) {
            assertEquals(m.group(1), sha256(in.readAllBytes()), "the CLI carries another corpus than docs/bench/corpus");
        }
        List<String> texts = EmbedBenchmark.readCorpus(null, 0);
        assertEquals(2000, texts.size());
        assertEquals(List.of("Citizens of the countries of the Western Balkans experience significant problems in travelling around Europe."),
                EmbedBenchmark.readCorpus(null, 1));
    }

    static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }
}
