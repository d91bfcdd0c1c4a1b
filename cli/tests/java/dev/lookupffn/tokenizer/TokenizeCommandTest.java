package dev.lookupffn.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.cli.TokenizeCommand;
import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The tokenize command end to end, run as Main would run it (same exception handler and exit codes). */
class TokenizeCommandTest {
    @TempDir
    Path dir;

    record Run(int code, String out, String err) {}

    static Run run(String stdin, String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        CommandLine cli = new CommandLine(new TokenizeCommand(new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8))));
        cli.setOut(new PrintWriter(out, true));
        PrintWriter errWriter = new PrintWriter(err, true);
        cli.setErr(errWriter);
        cli.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            errWriter.println("lookupffn " + commandLine.getCommandName() + ": " + ex.getMessage());
            return 1;
        });
        return new Run(cli.execute(args), out.toString(), err.toString());
    }

    static String expected(Tokenizer t, List<String> lines, boolean special) {
        return lines.stream().map(l -> Arrays.stream(t.encode(l, special).ids()).mapToObj(Integer::toString)
                .collect(Collectors.joining(",", "[", "]"))).collect(Collectors.joining("\n", "", "\n"));
    }

    @Test
    void tokenizesEachLine() {
        Path json = TestTokenizers.miniLmFile(dir);
        List<String> lines = List.of("Hello, world!", "", "Grüße aus Köln 😀", "中文 text");
        String stdin = String.join("\n", lines) + "\n";
        Tokenizer miniLm = Tokenizers.fromTokenizerJson(json);
        Run r = run(stdin, "--tokenizer", json.toString());
        assertEquals(0, r.code(), r.err());
        assertEquals(expected(miniLm, lines, true), r.out());
        assertTrue(r.out().startsWith("[101,7592,1010,2088,999,102]\n[101,102]\n"), r.out());
        r = run(stdin, "--tokenizer", json.toString(), "--no-special");
        assertEquals(expected(miniLm, lines, false), r.out());
        r = run("a b c d e f g\n", "--tokenizer", json.toString(), "--max-length", "4");
        assertEquals("[101,1037,1038,102]\n", r.out());
    }

    @Test
    void bpeFiles() {
        List<String> lines = List.of("Hello world<|endoftext|>", "  spaces\tand tabs ", "naïve café 🇩🇪");
        Run r = run(String.join("\r\n", lines), "--vocab", TestTokenizers.GPT2_VOCAB.toString(),
                "--merges", TestTokenizers.GPT2_MERGES.toString());
        assertEquals(0, r.code(), r.err());
        assertEquals(expected(Tokenizers.fromBpeFiles(TestTokenizers.GPT2_VOCAB, TestTokenizers.GPT2_MERGES), lines, true), r.out());
        assertTrue(r.out().startsWith("[15496,995,50256]\n"), r.out());
    }

    /** Lines end at \n or \r\n only: a lone \r stays in its text, so output lines match input lines. */
    @Test
    void aLoneCarriageReturnDoesNotSplitALine() {
        List<String> lines = List.of("one\rtwo", "three", "\r", "four\r\rfive", "end\r");
        Run r = run("one\rtwo\nthree\r\n\r\r\nfour\r\rfive\nend\r", "--vocab", TestTokenizers.GPT2_VOCAB.toString(),
                "--merges", TestTokenizers.GPT2_MERGES.toString());
        assertEquals(0, r.code(), r.err());
        assertEquals(lines.size(), r.out().lines().count(), r.out());
        assertEquals(expected(Tokenizers.fromBpeFiles(TestTokenizers.GPT2_VOCAB, TestTokenizers.GPT2_MERGES), lines, true), r.out());
    }

    @Test
    void badArgumentsExit2() {
        Path json = TestTokenizers.miniLmFile(dir);
        String vocab = TestTokenizers.GPT2_VOCAB.toString(), merges = TestTokenizers.GPT2_MERGES.toString();
        for (String[] args : new String[][] {{}, {"--vocab", vocab}, {"--merges", merges},
                {"--tokenizer", json.toString(), "--vocab", vocab, "--merges", merges}, {"--tokenizer", json.toString(), "--max-length", "-1"},
                {"--tokenizer", json.toString(), "--max-length", "1"}, {"--tokenizer"}, {"--bogus"}}) {
            Run r = run("x\n", args);
            assertEquals(2, r.code(), String.join(" ", args) + ": " + r.err());
            assertEquals("", r.out());
        }
        assertEquals(0, run("", "--help").code());
    }

    @Test
    void badFilesExit1WithOneLine() throws Exception {
        Run r = run("x\n", "--tokenizer", dir.resolve("nope.json").toString());
        assertEquals(1, r.code());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("nope.json: no such file"), r.err());
        Path bad = Files.writeString(dir.resolve("bad.json"), "{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}");
        r = run("x\n", "--tokenizer", bad.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("bad.json") && r.err().contains("Unigram"), r.err());
        assertEquals("", r.out());
    }
}
