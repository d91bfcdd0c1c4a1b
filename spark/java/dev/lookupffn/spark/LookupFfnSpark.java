package dev.lookupffn.spark;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StringType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * Sentence embeddings as a Spark column.
 *
 * <pre>{@code
 * Dataset<Row> out = LookupFfnSpark.withEmbeddings(df, "text", "embedding", EmbedOptions.DEFAULT);
 * // out: df's columns + embedding array<float> (null where text is null), rows in df's order
 * }</pre>
 *
 * <p>How it runs, per partition ({@code mapPartitions}): rows are read in chunks of {@link EmbedOptions#chunkRows()},
 * each chunk is tokenized, sorted by token count, embedded in batches of {@link EmbedOptions#batchSize()} (padding
 * only to the longest text of a batch), and emitted in the input order. The model is loaded once per executor JVM
 * (on first use, shared by all its tasks, closed at JVM exit; see {@link ExecutorModels}). Each task runs the native
 * kernels on its own thread budget: a per-task {@code WorkerPool} of {@link EmbedOptions#threadsPerTask()} threads,
 * by default {@code spark.task.cpus} (1 unless configured), so an executor with C cores runs C tasks on C threads
 * and never oversubscribes them.
 */
public final class LookupFfnSpark {
    private LookupFfnSpark() {}

    /** The type of the embedding column: array&lt;float&gt; without null elements. */
    public static final ArrayType EMBEDDING_TYPE = DataTypes.createArrayType(DataTypes.FloatType, false);

    /**
     * {@code df} with one more column, {@code outputColumn} (array&lt;float&gt;, nullable), the embedding of the
     * string column {@code textColumn}. Lazy, like any transformation: the model is loaded by the executors when an
     * action runs, and a model that cannot be loaded fails that action with the library's message (call
     * {@link #loadModelOnDriver} first to find a bad model on the driver, before any task runs).
     *
     * @throws IllegalArgumentException when {@code textColumn} is missing or not a string, or {@code outputColumn}
     *                                  exists already
     */
    public static Dataset<Row> withEmbeddings(Dataset<Row> df, String textColumn, String outputColumn, EmbedOptions options) {
        StructType schema = df.schema();
        List<String> names = List.of(schema.fieldNames());
        if (!names.contains(textColumn))
            throw new IllegalArgumentException("no column '" + textColumn + "' (columns: " + String.join(", ", names) + ")");
        StructField text = schema.apply(textColumn);
        if (!(text.dataType() instanceof StringType))
            throw new IllegalArgumentException("column '" + textColumn + "' should be a string, it is " + text.dataType().simpleString());
        if (names.contains(outputColumn)) throw new IllegalArgumentException("column '" + outputColumn + "' exists already");
        StructType out = schema.add(outputColumn, EMBEDDING_TYPE, true);
        return df.mapPartitions(new EmbedPartition(schema.fieldIndex(textColumn), options), Encoders.row(out));
    }

    /**
     * Loads the model of {@code options} in this JVM (the driver), so that a wrong path or a corrupt model fails
     * here, in seconds, with the library's message, before any job (executors would otherwise find it only when
     * their tasks run, after Spark's task retries). The model stays loaded for this JVM (in local mode the driver
     * is the executor: its tasks use this copy); a model that exists only on the executors (shipped with
     * {@code --archives}) cannot be checked this way.
     *
     * @throws dev.lookupffn.LookupFfnException the library's error when the model cannot be loaded
     */
    public static void loadModelOnDriver(EmbedOptions options) {
        ExecutorModels.withModel(options.model(), encoder -> encoder.dimension());
    }

    /** Same, with the default options. */
    public static Dataset<Row> withEmbeddings(Dataset<Row> df, String textColumn, String outputColumn) {
        return withEmbeddings(df, textColumn, outputColumn, EmbedOptions.DEFAULT);
    }

    /** The per-partition function (what is shipped to executors: a column index and the options). */
    static final class EmbedPartition implements MapPartitionsFunction<Row, Row> {
        private static final long serialVersionUID = 1L;
        private final int textIndex;
        private final EmbedOptions options;

        EmbedPartition(int textIndex, EmbedOptions options) {
            this.textIndex = textIndex;
            this.options = options;
        }

        @Override
        public Iterator<Row> call(Iterator<Row> input) {
            TaskContext task = TaskContext.get();
            int threads = options.threadsPerTask() > 0 ? options.threadsPerTask() : task != null ? Math.max(1, task.cpus()) : 1;
            TaskEmbedder embedder = new TaskEmbedder(threads, options.batchSize());
            if (task != null) task.addTaskCompletionListener((org.apache.spark.util.TaskCompletionListener) ctx -> embedder.close());
            return new ChunkIterator(input, textIndex, options, embedder);
        }
    }

    /** Reads a chunk, embeds it, emits it; closes the task's embedder when the input runs out. */
    private static final class ChunkIterator implements Iterator<Row> {
        private final Iterator<Row> input;
        private final int textIndex;
        private final EmbedOptions options;
        private final TaskEmbedder embedder;
        private final List<Row> rows = new ArrayList<>();
        private final List<String> texts = new ArrayList<>();
        private float[][] vectors;
        private int next;

        ChunkIterator(Iterator<Row> input, int textIndex, EmbedOptions options, TaskEmbedder embedder) {
            this.input = input;
            this.textIndex = textIndex;
            this.options = options;
            this.embedder = embedder;
        }

        @Override
        public boolean hasNext() {
            if (next < rows.size()) return true;
            rows.clear();
            texts.clear();
            next = 0;
            while (rows.size() < options.chunkRows() && input.hasNext()) {
                Row r = input.next();
                rows.add(r);
                texts.add(r.isNullAt(textIndex) ? null : r.getString(textIndex));
            }
            if (rows.isEmpty()) {
                embedder.close();
                return false;
            }
            vectors = ExecutorModels.withModel(options.model(), encoder -> embedder.embed(encoder, texts));
            return true;
        }

        @Override
        public Row next() {
            if (!hasNext()) throw new NoSuchElementException();
            Row r = rows.get(next);
            int n = r.size();
            Object[] values = new Object[n + 1];
            for (int i = 0; i < n; i++) values[i] = r.get(i);
            values[n] = vectors[next];
            next++;
            return RowFactory.create(values);
        }
    }
}
