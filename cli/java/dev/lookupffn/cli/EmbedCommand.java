package dev.lookupffn.cli;

import dev.lookupffn.model.Encoder;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code embed}: one text per line on stdin (UTF-8), one JSON array of floats per line on stdout, in order.
 * Lines end at {@code \n} (or {@code \r\n}); a lone {@code \r} is part of the text, so output lines match input lines.
 * The default model is the embedded all-MiniLM-L6-v2 (mean pooling, L2-normalised).
 */
@Command(name = "embed", mixinStandardHelpOptions = true,
        description = "Embed texts: one text per line on stdin (UTF-8), one JSON array per line on stdout.")
public final class EmbedCommand implements Callable<Integer> {
    /** Lines embedded per chunk: output starts before stdin ends, memory stays bounded. */
    static final int CHUNK_LINES = 1024;
    /** A forward pass holds batch × sequence × width activations; beyond this a batch only costs memory. */
    static final int MAX_BATCH_SIZE = 4096;

    @Spec
    CommandSpec spec;

    @Option(names = "--model", paramLabel = "DIR|FILE",
            description = "A HuggingFace folder (config.json, model.safetensors, pytorch_model.bin or model.onnx, "
                    + "tokenizer.json), an .onnx, .safetensors, .ckpt or .bin file with tokenizer.json beside it "
                    + "(default: the embedded all-MiniLM-L6-v2).")
    Path model;

    @Option(names = "--config", paramLabel = "C",
            description = "The model's configuration (config.json or the training config file), when it is not beside --model.")
    Path config;

    @Option(names = "--pooling", paramLabel = "mean|cls",
            description = "Token pooling (default: the model's, else mean).")
    String pooling;

    @Option(names = "--normalize", negatable = true,
            description = "L2-normalise the embeddings (default: the model's, else yes).")
    Boolean normalize;

    @Option(names = "--threads", paramLabel = "N", description = "Threads for the native kernels (default: all cores).")
    Integer threads;

    @Option(names = "--dtype", paramLabel = "f32|bf16|int8", description = Args.DTYPE_HELP)
    String dtype;

    @Option(names = "--batch-size", paramLabel = "N", defaultValue = "32",
            description = "Texts per forward pass (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--verbose", description = "Show stack traces on errors.")
    boolean verbose;

    private final InputStream stdin;

    public EmbedCommand() {
        this(System.in);
    }

    /** For tests: read texts from {@code stdin} instead of System.in. */
    public EmbedCommand(InputStream stdin) {
        this.stdin = stdin;
    }

    @Override
    public Integer call() throws IOException {
        Args.threads(spec, threads);
        Args.inRange(spec, "--batch-size", batchSize, 1, MAX_BATCH_SIZE);
        var weights = Args.dtype(spec, dtype);
        Encoder.Pooling p = null;
        if (pooling != null) {
            p = switch (pooling.toLowerCase(Locale.ROOT)) {
                case "mean" -> Encoder.Pooling.MEAN;
                case "cls" -> Encoder.Pooling.CLS;
                default -> throw new ParameterException(spec.commandLine(), "--pooling must be mean or cls, got " + pooling);
            };
        }
        if (config != null && model == null) throw new ParameterException(spec.commandLine(), "--config needs --model");
        Encoder.Options options = new Encoder.Options(p, normalize, batchSize, threads == null ? 0 : threads).withConfig(config)
                .withDType(weights);
        PrintWriter out = spec.commandLine().getOut();
        try (Encoder encoder = model == null ? Encoder.loadDefault(options) : Encoder.load(model, options);
             InputStreamReader reader = new InputStreamReader(stdin, StandardCharsets.UTF_8)) {
            LineReader in = new LineReader(reader);
            List<String> chunk = new ArrayList<>(CHUNK_LINES);
            StringBuilder line = new StringBuilder();
            for (String text; (text = in.readLine()) != null; ) {
                chunk.add(text);
                if (chunk.size() == CHUNK_LINES) flush(encoder, chunk, out, line);
            }
            flush(encoder, chunk, out, line);
        }
        return 0;
    }

    private static void flush(Encoder encoder, List<String> chunk, PrintWriter out, StringBuilder sb) {
        if (chunk.isEmpty()) return;
        for (float[] v : encoder.embed(chunk)) {
            sb.setLength(0);
            sb.append('[');
            for (int i = 0; i < v.length; i++) {
                if (i > 0) sb.append(',');
                sb.append(v[i]);
            }
            out.println(sb.append(']'));
        }
        out.flush();
        chunk.clear();
    }
}
