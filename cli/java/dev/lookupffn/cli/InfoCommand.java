package dev.lookupffn.cli;

import dev.lookupffn.ffi.Kernels;
import dev.lookupffn.ffi.NativeLibrary;
import dev.lookupffn.model.Encoder;
import dev.lookupffn.model.EncoderConfig;
import dev.lookupffn.model.TransformerEncoder;
import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.tensor.DType;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "info", description = {"Print the library version, CPU ISA, threads and native library path; with --model, "
        + "also what a loaded model holds: its layers and its LookupFFN tables' dtype and resident bytes."})
final class InfoCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", paramLabel = "M",
            description = "A model to load and describe (a folder, .safetensors, .ckpt, pytorch_model.bin or .onnx).")
    Path model;

    @Option(names = "--config", paramLabel = "C",
            description = "--model's configuration: a config.json or the authors' Python training config file.")
    Path config;

    @Option(names = "--verbose", description = "Show stack traces on errors.")
    boolean verbose;

    @Override
    public Integer call() {
        var out = spec.commandLine().getOut();
        if (config != null && model == null)
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--config applies to --model only");
        out.printf("lookupffn %s%n", Kernels.version());
        out.printf("native library: %s%n", NativeLibrary.load());
        out.printf("cpu isa:        %s%n", Kernels.cpuIsa());
        out.printf("effective isa:  %s%n", Kernels.effectiveIsa());
        out.printf("threads:        %d (-D%s)%n", WorkerPool.defaultThreads(), WorkerPool.THREADS_PROPERTY);
        out.printf("java:           %s %s%n", System.getProperty("java.vm.name"), Runtime.version());
        out.printf("os:             %s %s %s%n", System.getProperty("os.name"), System.getProperty("os.version"),
                System.getProperty("os.arch"));
        if (model != null)
            try (Encoder enc = Encoder.load(model, Encoder.Options.DEFAULT.withConfig(config))) {
                describe(enc.model(), out);
            }
        return 0;
    }

    /** The model's shape and, per table dtype, its LookupFFN layers and their resident table bytes. */
    private void describe(TransformerEncoder m, PrintWriter out) {
        EncoderConfig c = m.config();
        out.printf("model:          %s (%s, %d layers, hidden %d, %d heads, vocabulary %d)%n", model,
                c.norm() == EncoderConfig.Norm.PRE ? "pre-norm" : "post-norm", c.layers(), c.hidden(), c.heads(), c.vocabSize());
        Map<String, Integer> layersByDType = new TreeMap<>();
        for (int i = 0; i < c.layers(); i++) {
            DType d = m.lookupTableDType(i);
            if (d != null) layersByDType.merge(tableName(d), 1, Integer::sum);
        }
        if (layersByDType.isEmpty()) {
            out.printf("lookupffn:      none (dense feed-forward layers)%n");
            return;
        }
        long bytes = m.lookupTableBytes();
        int lookupLayers = layersByDType.values().stream().mapToInt(Integer::intValue).sum();
        out.printf("lookupffn:      %d of %d layers, tables %s%n", lookupLayers, c.layers(),
                String.join(", ", layersByDType.entrySet().stream().map(e -> e.getKey()
                        + (layersByDType.size() > 1 ? " (" + e.getValue() + " layers)" : "")).toList()));
        out.printf("table bytes:    %d (%.2f MiB resident, %.2f MiB per layer, int8 scales included)%n", bytes,
                bytes / (double) (1 << 20), bytes / (double) (1 << 20) / lookupLayers);
    }

    private static String tableName(DType d) {
        return d == DType.I8 ? "int8" : d.name().toLowerCase(Locale.ROOT);
    }
}
