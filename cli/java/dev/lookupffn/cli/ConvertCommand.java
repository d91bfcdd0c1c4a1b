package dev.lookupffn.cli;

import dev.lookupffn.LookupFfnException.FormatException;
import dev.lookupffn.model.EncoderConfig;
import dev.lookupffn.model.ModelSource;
import dev.lookupffn.model.TransformerEncoder;
import dev.lookupffn.safetensors.SafetensorsWriter;
import dev.lookupffn.tensor.DType;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code convert}: a checkpoint (Lightning .ckpt, pytorch_model.bin, a folder) to one safetensors file under the
 * authors' names ({@code roberta.…}, {@code lm_head.…}) with the configuration in its metadata, so it loads with no
 * config file beside it. The model is built once first, so a file that would not load is not written. With
 * {@code --dtype int8|bf16} the LookupFFN tables are stored compactly (and the choice recorded in the metadata), so a
 * model loaded from the file holds a quarter (half) of the fp32 table bytes.
 */
@Command(name = "convert", mixinStandardHelpOptions = true,
        description = "Convert a PyTorch checkpoint (.ckpt, pytorch_model.bin, folder) into one .safetensors file that "
                + "carries its configuration in the metadata.")
final class ConvertCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "M", description = "The checkpoint or folder to convert.")
    Path model;

    @Option(names = "--config", paramLabel = "C",
            description = "The model's configuration: a config.json or the authors' Python training config file "
                    + "(default: config.json beside the weights).")
    Path config;

    @Option(names = "--output", required = true, paramLabel = "OUT.safetensors", description = "The file to write.")
    Path output;

    @Option(names = "--dtype", defaultValue = "f32", paramLabel = "f32|int8|bf16",
            description = {"How the LookupFFN tables are stored (default: ${DEFAULT-VALUE}): f32; int8 (symmetric, one fp32 "
                    + "scale per table row and 64 columns, beside the tables as …FFN.tables_scale: a quarter of the bytes); "
                    + "bf16 (half). Loading the file keeps them so, memory-mapped and packed with no fp32 copy. Other "
                    + "weights are written as they are."})
    String dtype;

    @Option(names = "--verbose", description = "Show stack traces on errors.")
    boolean verbose;

    @Override
    public Integer call() throws IOException {
        DType tables = switch (dtype.toLowerCase(Locale.ROOT)) {
            case "f32" -> DType.F32;
            case "int8" -> DType.I8;
            case "bf16" -> DType.BF16;
            default -> throw new ParameterException(spec.commandLine(), "--dtype must be f32, int8 or bf16, got '" + dtype + "'");
        };
        try (ModelSource source = ModelSource.open(model, config)) {
            for (Path in : new Path[] {source.weightsFile(), config})
                if (in != null && (in.toAbsolutePath().normalize().equals(output.toAbsolutePath().normalize())
                        || Files.exists(output) && Files.isSameFile(in, output)))
                    throw new FormatException(output + ": is the input " + in + "; convert never overwrites its input");
            if (tables != DType.F32 && !source.hasLookupTables())
                throw new FormatException(source.weightsFile() + ": has no LookupFFN tables to store as " + dtype
                        + " (a dense model's weights are written as they are: drop --dtype)");
            try (TransformerEncoder ignored = source.build()) {
                // built only to check every shape before anything is written
            }
            try (Arena arena = Arena.ofConfined()) {
                var tensors = source.exportTensors(tables, arena);
                SafetensorsWriter.write(output, tensors, source.exportMetadata(tables));
                spec.commandLine().getErr().printf("wrote %s: %d tensors, %s encoder, %d layers, LookupFFN tables %s%n", output,
                        tensors.size(), source.config().norm() == EncoderConfig.Norm.PRE ? "pre-norm" : "post-norm",
                        source.config().layers(), source.hasLookupTables() ? dtype.toLowerCase(Locale.ROOT) : "none");
            }
        }
        return 0;
    }
}
