package dev.lookupffn.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lookupffn.tokenizer.Tokenizer;
import dev.lookupffn.tokenizer.Tokenizers;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code tokenize}: one text per stdin line (UTF-8) to one JSON array of token ids per stdout line. Lines end at
 * {@code \n} (or {@code \r\n}); a lone {@code \r} is part of the text, so output lines match input lines.
 */
@Command(name = "tokenize", mixinStandardHelpOptions = true,
        description = {"Tokenize text like HuggingFace tokenizers: reads one text per line on stdin (UTF-8) and "
                + "writes one JSON array of token ids per line.",
                "Give either --tokenizer tokenizer.json or --vocab vocab.json with --merges merges.txt (GPT-2 byte-level BPE)."})
public final class TokenizeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--tokenizer", paramLabel = "FILE", description = "A HuggingFace tokenizer.json.")
    Path tokenizer;

    @Option(names = "--vocab", paramLabel = "vocab.json", description = "Byte-level BPE vocabulary (with --merges).")
    Path vocab;

    @Option(names = "--merges", paramLabel = "merges.txt", description = "Byte-level BPE merges (with --vocab).")
    Path merges;

    @Option(names = "--no-special", description = "Do not add the special tokens of the post-processor (e.g. [CLS] ... [SEP]).")
    boolean noSpecial;

    @Option(names = "--max-length", paramLabel = "N",
            description = "Truncate to N tokens, special tokens included; 0 = no truncation (default: the tokenizer.json setting).")
    Integer maxLength;

    @Option(names = "--verbose", description = "Show stack traces on errors.")
    boolean verbose;

    /** Stdin by default; tests may replace it. */
    InputStream in = System.in;

    public TokenizeCommand() {}

    /** A command reading texts from {@code in} instead of stdin. */
    public TokenizeCommand(InputStream in) {
        this.in = in;
    }

    @Override
    public Integer call() throws Exception {
        boolean bpe = vocab != null || merges != null;
        if (tokenizer != null && bpe)
            throw new ParameterException(spec.commandLine(), "give either --tokenizer or --vocab with --merges, not both");
        if (tokenizer == null && !bpe)
            throw new ParameterException(spec.commandLine(), "missing --tokenizer FILE (or --vocab vocab.json --merges merges.txt)");
        if (bpe && (vocab == null || merges == null))
            throw new ParameterException(spec.commandLine(), "--vocab and --merges must be given together");
        if (maxLength != null && maxLength < 0)
            throw new ParameterException(spec.commandLine(), "--max-length must be >= 0, got " + maxLength);
        Tokenizer tok = tokenizer != null ? Tokenizers.fromTokenizerJson(tokenizer) : Tokenizers.fromBpeFiles(vocab, merges);
        if (maxLength != null) {
            try {
                tok = tok.withMaxLength(maxLength);
            } catch (IllegalArgumentException e) {
                throw new ParameterException(spec.commandLine(), "--max-length: " + e.getMessage());
            }
        }
        ObjectMapper json = new ObjectMapper();
        PrintWriter out = spec.commandLine().getOut();
        LineReader r = new LineReader(new InputStreamReader(in, StandardCharsets.UTF_8));
        String line;
        while ((line = r.readLine()) != null) {
            out.println(json.writeValueAsString(tok.encode(line, !noSpecial).ids()));
        }
        out.flush();
        return 0;
    }
}
