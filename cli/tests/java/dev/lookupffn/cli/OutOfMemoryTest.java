package dev.lookupffn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** An allocation that cannot be satisfied is one line on stderr and exit 1, never a stack trace. */
class OutOfMemoryTest {
    @Test
    void aLineLargerThanTheHeapIsOneLineAndExit1() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-Xmx64m", "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                Main.class.getName(), "tokenize", "--vocab", "tests/resources/tokenizers/gpt2/vocab.json",
                "--merges", "tests/resources/tokenizers/gpt2/merges.txt").redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        CompletableFuture<Void> feed = CompletableFuture.runAsync(() -> {
            byte[] chunk = new byte[1 << 20];
            Arrays.fill(chunk, (byte) 'a');
            try (OutputStream in = p.getOutputStream()) {
                for (int i = 0; i < 256; i++) in.write(chunk); // one 256 MiB line, no newline
            } catch (IOException e) {
                // the child ended before reading it all: expected
            }
        });
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        feed.get(30, TimeUnit.SECONDS);
        List<String> lines = err.strip().lines().filter(l -> !l.startsWith("WARNING")).toList();
        assertEquals(1, p.exitValue(), err);
        assertEquals(1, lines.size(), err);
        assertTrue(lines.get(0).startsWith("lookupffn tokenize: out of memory"), err);
    }
}
