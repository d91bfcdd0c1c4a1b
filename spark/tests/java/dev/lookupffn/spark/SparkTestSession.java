package dev.lookupffn.spark;

import dev.lookupffn.model.Encoder;
import java.util.List;
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
}
