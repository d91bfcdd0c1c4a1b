package dev.lookupffn.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.lookupffn.LookupFfnException.ShapeException;
import dev.lookupffn.model.Encoder;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code fill-mask}: one text per line on stdin; per line one JSON array on stdout with, for each mask token of
 * the text in order, an array of the best tokens: {@code {"token_id", "token", "text", "score"}} (score = softmax
 * probability). Needs a model with a masked-LM head and a tokenizer.json beside it.
 */
@Command(name = "fill-mask", mixinStandardHelpOptions = true,
        description = "Predict the tokens at each <mask> (or [MASK]): one text per line on stdin, one JSON array per line "
                + "on stdout (per mask: the top-k tokens with token_id, token, text, score).")
public final class FillMaskCommand implements Callable<Integer> {
    static final int CHUNK_LINES = 256;
    private static final ObjectMapper JSON = new ObjectMapper();

    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "M",
            description = "A model with a masked-LM head (lm_head.*) and tokenizer.json beside it (or in its folder).")
    Path model;

    @Option(names = "--config", paramLabel = "C", description = "The model's configuration file (config.json or training config).")
    Path config;

    /** More predictions per mask than any vocabulary has tokens is a mistake, not a request. */
    static final int MAX_TOP_K = 1 << 20;

    @Option(names = "--top-k", defaultValue = "5", paramLabel = "K", description = "Tokens per mask (default: ${DEFAULT-VALUE}).")
    int topK;

    @Option(names = "--threads", paramLabel = "N", description = "Threads for the native kernels (default: all cores).")
    Integer threads;

    @Option(names = "--verbose", description = "Show stack traces on errors.")
    boolean verbose;

    private final InputStream stdin;

    public FillMaskCommand() {
        this(System.in);
    }

    /** For tests: read texts from {@code stdin}. */
    public FillMaskCommand(InputStream stdin) {
        this.stdin = stdin;
    }

    @Override
    public Integer call() throws IOException {
        Args.inRange(spec, "--top-k", topK, 1, MAX_TOP_K);
        Args.threads(spec, threads);
        Encoder.Options options = Encoder.Options.DEFAULT.withThreads(threads == null ? 0 : threads).withConfig(config);
        PrintWriter out = spec.commandLine().getOut();
        try (Encoder encoder = Encoder.load(model, options);
             InputStreamReader reader = new InputStreamReader(stdin, StandardCharsets.UTF_8)) {
            LineReader in = new LineReader(reader); // one output line per input line: split at \n only, as embed
            // fail before reading stdin when the model cannot fill masks at all
            if (encoder.tokenizer() == null)
                throw new ShapeException(model + ": no tokenizer.json beside the model; fill-mask needs one to turn text into ids");
            if (!encoder.hasMaskedLmHead()) throw new ShapeException(model + ": the model has no masked-LM head (lm_head.*)");
            List<String> chunk = new ArrayList<>(CHUNK_LINES);
            for (String text; (text = in.readLine()) != null; ) {
                chunk.add(text);
                if (chunk.size() == CHUNK_LINES) flush(encoder, chunk, out);
            }
            flush(encoder, chunk, out);
        }
        return 0;
    }

    private void flush(Encoder encoder, List<String> chunk, PrintWriter out) throws IOException {
        if (chunk.isEmpty()) return;
        for (List<List<Encoder.Prediction>> masks : encoder.fillMask(chunk, topK)) {
            ArrayNode line = JSON.createArrayNode();
            for (List<Encoder.Prediction> best : masks) {
                ArrayNode a = line.addArray();
                for (Encoder.Prediction p : best)
                    a.addObject().put("token_id", p.tokenId()).put("token", p.token()).put("text", p.text()).put("score", p.score());
            }
            out.println(JSON.writeValueAsString(line));
        }
        out.flush();
        chunk.clear();
    }
}
