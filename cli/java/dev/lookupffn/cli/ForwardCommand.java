package dev.lookupffn.cli;

import dev.lookupffn.LookupFfnException.FormatException;
import dev.lookupffn.model.Batch;
import dev.lookupffn.model.Encoder;
import dev.lookupffn.safetensors.SafetensorsFile;
import dev.lookupffn.safetensors.SafetensorsWriter;
import dev.lookupffn.tensor.Tensor;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code forward}: an encoder on token ids from a safetensors file. Reads {@code input_ids} [B, T] (I32 or I64) and,
 * when present, {@code attention_mask} and {@code token_type_ids}; positions are 0..T-1 as the training code's
 * collator gives them (a {@code position_ids} tensor is ignored). Writes {@code sequence_output} F32 [B, T, hidden]
 * and, when the model has a masked-LM head, {@code mlm_logits} F32 [B, T, vocab].
 */
@Command(name = "forward", mixinStandardHelpOptions = true,
        description = "Run an encoder on token ids (input_ids [B, T], optional attention_mask, token_type_ids) and write "
                + "sequence_output [B, T, hidden] and, with a masked-LM head, mlm_logits [B, T, vocab].")
final class ForwardCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "M",
            description = "A Lightning .ckpt, a pytorch_model.bin, a .safetensors file, or a folder with config.json and "
                    + "pytorch_model.bin or model.safetensors.")
    Path model;

    @Option(names = "--config", paramLabel = "C",
            description = "The model's configuration: a config.json or the authors' Python training config file "
                    + "(default: the file's metadata, else config.json beside the weights).")
    Path config;

    @Option(names = "--input", required = true, paramLabel = "IN.safetensors", description = "File holding input_ids and optionally attention_mask, token_type_ids.")
    Path input;

    @Option(names = "--output", required = true, paramLabel = "OUT.safetensors", description = "Where to write the outputs.")
    Path output;

    @Option(names = "--threads", paramLabel = "N", description = "Threads for the native kernels (default: all cores).")
    Integer threads;

    @Option(names = "--dtype", paramLabel = "f32|bf16|int8", description = Args.DTYPE_HELP)
    String dtype;

    @Option(names = "--verbose", description = "Show stack traces on errors.")
    boolean verbose;

    @Override
    public Integer call() {
        Args.threads(spec, threads);
        Encoder.Options options = Encoder.Options.DEFAULT.withThreads(threads == null ? 0 : threads).withConfig(config)
                .withDType(Args.dtype(spec, dtype));
        try (SafetensorsFile in = SafetensorsFile.open(input); Encoder encoder = Encoder.load(model, options)) {
            if (!in.contains("input_ids")) throw new FormatException(input + ": no tensor 'input_ids'");
            long[] shape = in.entry("input_ids").shape();
            if (shape.length != 2 || shape[0] < 1 || shape[1] < 1 || shape[0] * shape[1] > Integer.MAX_VALUE)
                throw new FormatException(input + ": tensor 'input_ids' should be [batch, sequence], got " + Arrays.toString(shape));
            int b = (int) shape[0], t = (int) shape[1];
            int[] ids = ints(in, "input_ids", shape, 0);
            int[] mask = ints(in, "attention_mask", shape, 1);
            int[] types = ints(in, "token_type_ids", shape, 0);
            Batch batch = new Batch(b, t, ids, mask, types);
            Map<String, Tensor> out = new LinkedHashMap<>();
            try (Tensor seq = encoder.forward(batch);
                 Tensor logits = encoder.hasMaskedLmHead() ? encoder.maskedLmLogits(seq) : null) {
                out.put("sequence_output", seq.reshape(b, t, seq.dim(1)));
                if (logits != null) out.put("mlm_logits", logits.reshape(b, t, logits.dim(1)));
                SafetensorsWriter.write(output, out, Map.of("format", "lookupffn-forward-output",
                        "model", model.getFileName().toString()));
            }
            spec.commandLine().getErr().printf("wrote %s: %s%n", output, String.join(", ", out.keySet()));
        }
        return 0;
    }

    /** An I32/I64 tensor of {@code shape} as ints, or {@code fill} everywhere when the file does not have it. */
    private int[] ints(SafetensorsFile in, String name, long[] shape, int fill) {
        int n = (int) (shape[0] * shape[1]);
        int[] out = new int[n];
        if (!in.contains(name)) {
            Arrays.fill(out, fill);
            return out;
        }
        Tensor t = in.tensor(name);
        if (!Arrays.equals(t.shape(), shape))
            throw new FormatException(input + ": tensor '" + name + "' is " + Arrays.toString(t.shape()) + ", input_ids is "
                    + Arrays.toString(shape));
        for (int i = 0; i < n; i++) {
            long v = switch (t.dtype()) {
                case I32 -> t.segment().getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i);
                case I64 -> t.segment().getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i);
                default -> throw new FormatException(input + ": tensor '" + name + "' is " + t.dtype() + ", should be I32 or I64");
            };
            if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE)
                throw new FormatException(input + ": tensor '" + name + "' holds " + v + " at index " + i + ", out of range");
            out[i] = (int) v;
        }
        return out;
    }
}
