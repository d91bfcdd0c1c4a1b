package dev.lookupffn.spark;

import java.io.Serializable;

/**
 * How {@link LookupFfnSpark#withEmbeddings} embeds. Shipped to the executors inside the task closure, so it holds
 * only a model <em>location</em>, never a model.
 *
 * @param model          where each executor loads the model from: null for the embedded all-MiniLM-L6-v2 (inside
 *                       the library jar), else a HuggingFace folder, an .onnx or a .safetensors file as
 *                       {@link dev.lookupffn.model.Encoder#load(java.nio.file.Path)} takes it, on the
 *                       <em>executor's</em> file system (a shared mount, or shipped with --files/--archives)
 * @param batchSize      texts per forward pass (after sorting a chunk by token count)
 * @param threadsPerTask native-kernel threads of one task; 0 = the task's {@code spark.task.cpus}
 * @param chunkRows      rows of a partition read, sorted and embedded together (bounds a task's memory)
 */
public record EmbedOptions(String model, int batchSize, int threadsPerTask, int chunkRows) implements Serializable {
    private static final long serialVersionUID = 1L;

    /** The embedded default model, batches of 32, spark.task.cpus threads per task, chunks of 1024 rows. */
    public static final EmbedOptions DEFAULT = new EmbedOptions(null, 32, 0, 1024);

    public EmbedOptions {
        if (model != null && model.isBlank()) model = null;
        if (batchSize < 1) throw new IllegalArgumentException("batch size must be at least 1, got " + batchSize);
        if (threadsPerTask < 0) throw new IllegalArgumentException("threads per task must be >= 0, got " + threadsPerTask);
        if (chunkRows < 1) throw new IllegalArgumentException("chunk rows must be at least 1, got " + chunkRows);
    }

    public EmbedOptions withModel(String m) {
        return new EmbedOptions(m, batchSize, threadsPerTask, chunkRows);
    }

    public EmbedOptions withBatchSize(int b) {
        return new EmbedOptions(model, b, threadsPerTask, chunkRows);
    }

    public EmbedOptions withThreadsPerTask(int t) {
        return new EmbedOptions(model, batchSize, t, chunkRows);
    }

    public EmbedOptions withChunkRows(int c) {
        return new EmbedOptions(model, batchSize, threadsPerTask, c);
    }
}
