package dev.lookupffn.cli;

import dev.lookupffn.LookupFfnException.FormatException;
import dev.lookupffn.model.ModelSource;
import dev.lookupffn.model.TransformerEncoder;
import dev.lookupffn.safetensors.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code convert}: a checkpoint (Lightning .ckpt, pytorch_model.bin, a folder) to one safetensors file under the
 * authors' names ({@code roberta.…}, {@code lm_head.…}) with the configuration in its metadata, so it loads with no
 * config file beside it. The model is built once first, so a file that would not load is not written.
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

    @Option(names = "--verbose", description = "Show stack traces on errors.")
    boolean verbose;

    @Override
    public Integer call() throws IOException {
        try (ModelSource source = ModelSource.open(model, config)) {
            for (Path in : new Path[] {source.weightsFile(), config})
                if (in != null && (in.toAbsolutePath().normalize().equals(output.toAbsolutePath().normalize())
                        || Files.exists(output) && Files.isSameFile(in, output)))
                    throw new FormatException(output + ": is the input " + in + "; convert never overwrites its input");
            try (TransformerEncoder ignored = source.build()) {
                // built only to check every shape before anything is written
            }
            var tensors = source.exportTensors();
            SafetensorsWriter.write(output, tensors, source.exportMetadata());
            spec.commandLine().getErr().printf("wrote %s: %d tensors, %s encoder, %d layers%n", output, tensors.size(),
                    source.config().norm() == dev.lookupffn.model.EncoderConfig.Norm.PRE ? "pre-norm" : "post-norm",
                    source.config().layers());
        }
        return 0;
    }
}
