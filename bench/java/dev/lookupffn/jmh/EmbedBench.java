package dev.lookupffn.jmh;

import dev.lookupffn.bench.EmbedBenchmark;
import dev.lookupffn.model.Encoder;
import dev.lookupffn.tensor.DType;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Sentence embeddings of the embedded all-MiniLM-L6-v2, ours against ONNX Runtime, on the same texts (the first
 * {@code texts} sentences of the held-out corpus, docs/bench/corpus) with the same thread count, as
 * {@code ./lookupffn bench --embed} runs them: {@code mode} one = one text per call, calls one after another;
 * batch = the texts sorted by token length in batches of 32. One operation is one pass over the texts; the
 * {@code tokens} counter gives tokens/s (special tokens included, padding not). One engine per trial (JMH runs
 * trials one after another, not interleaved: compare within one JMH run, or use bench --embed, which interleaves).
 * <pre>
 * ./lookupffn jmh EmbedBench -p threads=1,2
 * ./lookupffn jmh EmbedBench -p engine=ours -p dtype=bf16
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 3)
@Measurement(iterations = 5, time = 3)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow", "-Xmx4g"})
public class EmbedBench {
    @Param({"ours", "ort"})
    public String engine;

    @Param({"one", "batch"})
    public String mode;

    @Param({"2"})
    public int threads;

    @Param({"200"})
    public int texts;

    /** Our weights: f32, or bf16 GEMM weights ({@code -p dtype=bf16}); ORT always runs the fp32 file. */
    @Param({"f32"})
    public String dtype;

    Encoder encoder;
    EmbedBenchmark.Engine run;
    List<int[]> ids;
    List<List<int[]>> batches;
    long tokens;

    /** Tokens embedded, reported by JMH as a rate next to the passes per second. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Tokens {
        public long tokens;
    }

    @Setup(Level.Trial)
    public void setup() {
        var config = new EmbedBenchmark.Config(null, null, texts, threads, 0, 32, 1, 0, "f32");
        encoder = EmbedBenchmark.loadOurs(config, threads, DType.valueOf(dtype.toUpperCase(java.util.Locale.ROOT)));
        var corpus = EmbedBenchmark.tokenize("embedded", EmbedBenchmark.readCorpus(null, texts), encoder.tokenizer());
        ids = corpus.ids();
        tokens = corpus.tokens();
        batches = new ArrayList<>();
        for (List<Integer> batch : EmbedBenchmark.sortedBatches(ids, 32)) batches.add(batch.stream().map(ids::get).toList());
        if (engine.equals("ours")) {
            run = EmbedBenchmark.ours(encoder);
        } else if (engine.equals("ort")) {
            String missing = EmbedBenchmark.ortMissingReason();
            if (missing != null) throw new IllegalStateException(missing);
            run = EmbedBenchmark.ort(null, encoder, threads);
        } else {
            throw new IllegalArgumentException("engine must be ours or ort, got " + engine);
        }
        if (!mode.equals("one") && !mode.equals("batch")) throw new IllegalArgumentException("mode must be one or batch, got " + mode);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (run != null && engine.equals("ort")) run.close();
        if (encoder != null) encoder.close();
    }

    /** One pass over the texts; returns the last embedding so that nothing is optimised away. */
    @Benchmark
    public float[] pass(Tokens counter) {
        float[] last = null;
        if (mode.equals("one")) {
            for (int[] text : ids) last = run.embed(List.of(text))[0];
        } else {
            for (List<int[]> batch : batches) last = run.embed(batch)[0];
        }
        counter.tokens += tokens;
        return last;
    }
}
