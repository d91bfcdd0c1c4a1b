package dev.lookupffn.cli;

import dev.lookupffn.LookupFfnException.ShapeException;
import dev.lookupffn.layer.LookupFfn;
import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.safetensors.SafetensorsFile;
import dev.lookupffn.safetensors.SafetensorsWriter;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "layer", mixinStandardHelpOptions = true,
        description = "Run one LookupFFN layer on a 2-D input tensor and write tensor 'output' [B, o].")
final class LayerCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--weights", required = true, paramLabel = "W.safetensors",
            description = "Layer parameters, named as in SPEC.md (LayerNorm.weight, hash.projection.weight, tables, ...).")
    Path weights;

    @Option(names = "--prefix", defaultValue = "", paramLabel = "P",
            description = "Prefix of the parameter names, e.g. encoder.layer.0.FFN. (default: none)")
    String prefix;

    @Option(names = "--input", required = true, paramLabel = "IN.safetensors", description = "File holding the input.")
    Path input;

    @Option(names = "--input-name", defaultValue = "input", description = "Name of the [B, d] input tensor (default: ${DEFAULT-VALUE}).")
    String inputName;

    @Option(names = "--output", required = true, paramLabel = "OUT.safetensors", description = "Where to write tensor 'output'.")
    Path output;

    @Option(names = "--threads", paramLabel = "N", description = "Threads for the native kernels (default: all cores).")
    Integer threads;

    @Option(names = "--dtype", defaultValue = "f32", description = "Table storage: f32 or bf16 (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--eps", defaultValue = "1e-5", description = "LayerNorm epsilon (default: ${DEFAULT-VALUE}).")
    float eps;

    @Option(names = "--verbose", description = "Show stack traces on errors.")
    boolean verbose;

    @Override
    public Integer call() {
        if (threads != null && threads < 1) throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                "--threads must be at least 1, got " + threads);
        DType tableType = switch (dtype.toLowerCase()) {
            case "f32" -> DType.F32;
            case "bf16" -> DType.BF16;
            default -> throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--dtype must be f32 or bf16, got " + dtype);
        };
        LookupFfn.Options options = new LookupFfn.Options(eps, tableType);
        try (SafetensorsFile w = SafetensorsFile.open(weights);
             SafetensorsFile in = input.toAbsolutePath().equals(weights.toAbsolutePath()) ? null : SafetensorsFile.open(input);
             LookupFfn layer = LookupFfn.load(w, prefix, options);
             WorkerPool pool = threads == null ? WorkerPool.shared() : WorkerPool.create(threads)) {
            SafetensorsFile source = in == null ? w : in;
            Tensor x = source.tensor(inputName);
            if (x.dtype() != DType.F32 || x.rank() != 2)
                throw new ShapeException(source.path() + ": tensor '" + inputName + "' should be a 2-D F32 tensor, got "
                        + x.dtype() + " " + java.util.Arrays.toString(x.shape()));
            try (Tensor out = Tensor.allocate(DType.F32, x.dim(0), layer.config().outDim())) {
                layer.forward(x, out, pool);
                SafetensorsWriter.write(output, Map.of("output", out), Map.of("format", "lookupffn-layer-output"));
            }
            spec.commandLine().getErr().printf("wrote %s: output [%d, %d]%n", output, x.dim(0), layer.config().outDim());
        }
        return 0;
    }
}
