package dev.lookupffn.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The fixtures are the files their README says they are: every one listed, with the checksum of its original. */
class FixtureProvenanceTest {
    static final Path FIXTURES = Path.of("tests/resources/fixtures");

    @Test
    void everyFixtureIsListedWithItsChecksum() throws Exception {
        Map<String, String> listed = new TreeMap<>();
        Matcher m = Pattern.compile("^\\| `([^`/]+)` \\| `([0-9a-f]{64})` \\|$", Pattern.MULTILINE)
                .matcher(Files.readString(FIXTURES.resolve("README.md")));
        while (m.find()) listed.put(m.group(1), m.group(2));
        Map<String, String> actual = new TreeMap<>();
        try (Stream<Path> files = Files.list(FIXTURES)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".safetensors")).toList())
                actual.put(f.getFileName().toString(),
                        HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(f))));
        }
        assertEquals(actual, listed, "tests/resources/fixtures/README.md lists other files or checksums than the folder holds");
    }
}
