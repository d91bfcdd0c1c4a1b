package dev.lookupffn.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.LookupFfnException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A model that cannot be loaded fails the job with the library's message: no hang, no crash, the session lives on. */
class FailureTest {
    static SparkSession spark;

    @BeforeAll
    static void setUp() {
        spark = SparkTestSession.get();
    }

    static Dataset<Row> texts(int n, int partitions) {
        return spark.createDataset(Corpus.lines(n, 3), Encoders.STRING()).toDF("text").repartition(partitions);
    }

    /** The chain of {@code t}, messages joined, and whether a LookupFfnException is in it. */
    static String chain(Throwable t, boolean[] library) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            sb.append(c.getClass().getName()).append(": ").append(c.getMessage()).append('\n');
            if (c instanceof LookupFfnException) library[0] = true;
        }
        return sb.toString();
    }

    void assertFailsWith(String model, String message) {
        Dataset<Row> job = LookupFfnSpark.withEmbeddings(texts(40, 3), "text", "embedding", EmbedOptions.DEFAULT.withModel(model));
        Exception e = assertTimeoutPreemptively(Duration.ofSeconds(90), () -> assertThrows(Exception.class, job::collectAsList));
        boolean[] library = {false};
        String chain = chain(e, library);
        assertTrue(chain.contains(message), "expected '" + message + "' in the exception chain:\n" + chain);
        assertTrue(library[0], "expected the library's LookupFfnException in the chain:\n" + chain);
        // one line for the CLI, the library's message
        assertTrue(SparkEmbedCommand.oneLine(e).contains(message), SparkEmbedCommand.oneLine(e));
        // the JVM and the session are fine: the next job runs
        assertEquals(10, LookupFfnSpark.withEmbeddings(texts(10, 2), "text", "embedding").collectAsList().size());
    }

    @Test
    void unreadableModelPathFailsTheJobWithTheLibraryMessage() {
        String missing = "/nonexistent/lookupffn-model-dir";
        assertFailsWith(missing, missing + ": no such file or folder");
    }

    @Test
    void corruptModelFileFailsTheJobWithTheLibraryMessage(@TempDir Path dir) throws IOException {
        Path bad = dir.resolve("model.onnx");
        Files.write(bad, "this is not an ONNX protobuf".getBytes());
        Exception probe = assertThrows(LookupFfnException.class, () -> dev.lookupffn.model.Encoder.load(bad).close());
        assertFailsWith(bad.toString(), probe.getMessage());
    }

    @Test
    void badArgumentsAreRejectedOnTheDriver() {
        Dataset<Row> df = texts(4, 1);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> LookupFfnSpark.withEmbeddings(df, "nope", "e"))
                .getMessage().contains("no column 'nope'"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> LookupFfnSpark.withEmbeddings(df, "text", "text"))
                .getMessage().contains("exists already"));
        Dataset<Row> numbers = spark.range(3).toDF("text");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> LookupFfnSpark.withEmbeddings(numbers, "text", "e"))
                .getMessage().contains("should be a string"));
        List<String> none = new ArrayList<>();
        assertEquals(0, LookupFfnSpark.withEmbeddings(spark.createDataset(none, Encoders.STRING()).toDF("text"), "text", "e")
                .collectAsList().size());
    }
}
