package dev.lookupffn.spark;

import dev.lookupffn.model.Encoder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/** One local[2] Spark session and one reference Encoder for all test classes of the run (Spark starts once). */
final class SparkTestSession {
    private static SparkSession spark;
    private static Encoder reference;

    private SparkTestSession() {}

    static synchronized SparkSession get() {
        if (spark == null) {
            spark = SparkSession.builder().appName("lookupffn-spark tests").master("local[2]")
                    .config("spark.ui.enabled", "false")
                    .config("spark.serializer", "org.apache.spark.serializer.KryoSerializer")
                    .config("spark.sql.shuffle.partitions", "4")
                    .getOrCreate();
            Runtime.getRuntime().addShutdownHook(new Thread(spark::stop));
        }
        return spark;
    }

    /** The single-JVM reference: the library's own Encoder (default options: shared pool, batches of 32). */
    static synchronized float[][] referenceEmbed(List<String> lines) {
        if (reference == null) reference = Encoder.loadDefault();
        return reference.embed(lines);
    }

    /**
     * The rows of a Parquet folder as a reader that takes its part files in name order sees them (part-00000
     * first; each file small enough to be one read task, so its rows come back in file order). Spark itself
     * schedules a folder's files largest first, so a plain {@code read().parquet(folder)} is not that order.
     */
    static List<Row> readInOrder(Path folder) throws IOException {
        List<Path> parts;
        try (Stream<Path> s = Files.list(folder)) {
            parts = s.filter(p -> p.getFileName().toString().startsWith("part-")).sorted().toList();
        }
        List<Row> rows = new ArrayList<>();
        for (Path p : parts) rows.addAll(get().read().parquet(p.toString()).collectAsList());
        return rows;
    }
}
