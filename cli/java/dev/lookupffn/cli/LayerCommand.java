package dev.lookupffn.cli;

import dev.lookupffn.LookupFfnException.ShapeException;
import dev.lookupffn.io.OutputFile;
import dev.lookupffn.layer.LookupFfn;
import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.safetensors.SafetensorsFile;
import dev.lookupffn.safetensors.SafetensorsFile.OpenMode;
import dev.lookupffn.safetensors.SafetensorsWriter;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.io.IOException;
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

    @Option(names = "--dtype", defaultValue = "f32", description = "Table storage: f32, bf16 or int8 (default: ${DEFAULT-VALUE}). "
            + "Tables stored int8 in the file (convert --dtype int8) need --dtype int8.")
    String dtype;

    @Option(names = "--eps", defaultValue = "1e-5", description = "LayerNorm epsilon (default: ${DEFAULT-VALUE}).")
    float eps;

    @Option(names = "--verbose", description = "Show stack traces on errors.")
    boolean verbose;

    /** Test seam: runs once the files are open, before the layer is loaded (a test truncates them here). */
    static volatile Runnable afterFilesOpened = () -> {};

    @Override
    public Integer call() throws IOException {
        Args.threads(spec, threads);
        if (!(eps >= 0) || Float.isInfinite(eps))
            throw Args.usage(spec, "--eps must be a finite number >= 0, got " + eps);
        DType tableType = switch (dtype.toLowerCase()) {
            case "f32" -> DType.F32;
            case "bf16" -> DType.BF16;
            case "int8" -> DType.I8;
            default -> throw Args.usage(spec, "--dtype must be f32, bf16 or int8, got " + dtype);
        };
        LookupFfn.Options options = new LookupFfn.Options(eps, tableType);
        OutputFile.checkWritable(output); // a missing folder is found before the work, not after it
        boolean sameFile = input.toAbsolutePath().equals(weights.toAbsolutePath());
        // The input goes to native kernels, so it is read into memory this process owns: mapped, a file rewritten
        // in place meanwhile would SIGBUS the JVM. The weights may stay mapped: loading copies them (Java-side reads
        // of a shrunken mapping are an InternalError, reported as one line), unless they share the input's file.
        try (SafetensorsFile w = SafetensorsFile.open(weights, sameFile ? OpenMode.COPY : OpenMode.MAP);
             SafetensorsFile in = sameFile ? null : SafetensorsFile.open(input, OpenMode.COPY)) {
            afterFilesOpened.run();
            try (LookupFfn layer = LookupFfn.load(w, prefix, options);
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
                spec.commandLine().getErr().printf("wrote %s: output [%d, %d]; tables %s, %.2f MiB%n", output, x.dim(0),
                        layer.config().outDim(), dtype.toLowerCase(), layer.tableBytes() / (double) (1 << 20));
            }
        }
        return 0;
    }
}
