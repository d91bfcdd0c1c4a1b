package dev.lookupffn.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Spark embeddings vs the single-JVM {@code Encoder.embed} on the same lines: bit for bit, whatever the partition
 * count, chunk size, batch size or per-task thread count. (The library's kernels are row-invariant: a row's
 * result does not depend on which other rows share its batch, how much padding the batch has, or which thread
 * computes it; this test is what establishes it for the Spark path, where every partition batches differently.)
 */
class EmbeddingParityTest {
    static final int LINES = 1000;
    static List<String> lines;
    static float[][] expected;
    static SparkSession spark;

    @BeforeAll
    static void setUp() {
        spark = SparkTestSession.get();
        lines = Corpus.lines(LINES, 7);
        expected = SparkTestSession.referenceEmbed(lines);
    }

    static Dataset<Row> input(int partitions) {
        StructType schema = new StructType().add("id", DataTypes.IntegerType, false).add("text", DataTypes.StringType, true);
        List<Row> rows = new ArrayList<>(LINES);
        for (int i = 0; i < LINES; i++) rows.add(RowFactory.create(i, lines.get(i)));
        // round-robin: every partition gets a mix of lengths, and rows arrive in an order unlike the reference's
        return spark.createDataFrame(rows, schema).repartition(partitions);
    }

    @ParameterizedTest(name = "{0} partitions, chunks of {1}, batches of {2}, {3} thread(s) per task")
    @CsvSource({"1, 1024, 32, 0", "3, 1024, 32, 0", "7, 1024, 32, 0", "2, 100, 7, 2"})
    void sparkMatchesTheSingleJvmEncoderBitForBit(int partitions, int chunk, int batch, int threads) {
        EmbedOptions o = EmbedOptions.DEFAULT.withChunkRows(chunk).withBatchSize(batch).withThreadsPerTask(threads);
        Dataset<Row> in = input(partitions);
        assertEquals(partitions, in.rdd().getNumPartitions());
        List<Row> out = LookupFfnSpark.withEmbeddings(in, "text", "embedding", o).collectAsList();
        assertEquals(LINES, out.size());
        boolean[] seen = new boolean[LINES];
        int differing = 0;
        double maxAbs = 0;
        for (Row r : out) {
            int id = r.getInt(0);
            assertEquals(lines.get(id), r.getString(1));
            List<Float> v = r.getList(2);
            float[] want = expected[id];
            assertEquals(want.length, v.size());
            boolean same = true;
            for (int c = 0; c < want.length; c++) {
                float got = v.get(c);
                same &= Float.floatToRawIntBits(got) == Float.floatToRawIntBits(want[c]);
                maxAbs = Math.max(maxAbs, Math.abs(got - want[c]));
            }
            if (!same) differing++;
            seen[id] = true;
        }
        for (boolean s : seen) assertTrue(s);
        System.out.printf("parity: %d partitions, chunk %d, batch %d, threads %d: %d/%d rows differ, max |diff| %.3g%n",
                partitions, chunk, batch, threads, differing, LINES, maxAbs);
        assertEquals(0, differing, "rows not bit-identical to Encoder.embed (max |diff| " + maxAbs + ")");
    }

    @Test
    void inputOrderAndColumnsAreKeptNullTextGivesNullEmbedding() {
        StructType schema = new StructType().add("k", DataTypes.LongType, false).add("text", DataTypes.StringType, true)
                .add("extra", DataTypes.DoubleType, true);
        List<Row> rows = List.of(RowFactory.create(1L, "short", 0.5), RowFactory.create(2L, null, null),
                RowFactory.create(3L, "a much longer sentence than the others, by a good margin", 1.5),
                RowFactory.create(4L, "", 2.5));
        List<Row> out = LookupFfnSpark.withEmbeddings(spark.createDataFrame(rows, schema).coalesce(1), "text", "e",
                EmbedOptions.DEFAULT.withBatchSize(2)).collectAsList();
        assertEquals(4, out.size());
        float[][] ref = SparkTestSession.referenceEmbed(List.of("short", "a much longer sentence than the others, by a good margin", ""));
        for (int i = 0; i < 4; i++) {
            assertEquals(i + 1L, out.get(i).getLong(0));
            assertEquals(rows.get(i).get(2), out.get(i).get(2));
        }
        assertNull(out.get(1).get(3));
        int[] refIndex = {0, -1, 1, 2};
        for (int i : new int[] {0, 2, 3}) {
            List<Float> v = out.get(i).getList(3);
            assertNotNull(v);
            float[] got = new float[v.size()];
            for (int c = 0; c < got.length; c++) got[c] = v.get(c);
            assertArrayEquals(ref[refIndex[i]], got);
        }
    }

    @Test
    void theModelIsLoadedOncePerJvm() {
        // two jobs of 4 tasks each on local[2]'s two task threads; local mode's executor is this JVM
        Dataset<Row> small = input(4).limit(64).repartition(4);
        LookupFfnSpark.withEmbeddings(small, "text", "embedding").count();
        LookupFfnSpark.withEmbeddings(small, "text", "embedding").write().format("noop").mode("overwrite").save();
        assertTrue(ExecutorModels.isLoaded(null));
        assertEquals(1, ExecutorModels.loads(), "the default model should be loaded once by this JVM");
    }
}
