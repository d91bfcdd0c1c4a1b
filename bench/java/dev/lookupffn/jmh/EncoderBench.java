package dev.lookupffn.jmh;

import dev.lookupffn.bench.EncoderBenchmark;
import dev.lookupffn.model.TransformerEncoder;
import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.util.Set;
import java.util.concurrent.TimeUnit;
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
 * A whole pre-norm encoder forward call, the same encoders as {@code ./lookupffn bench --encoder} (random weights,
 * shared embeddings and attention): {@code variant} picks the FFN — dense on our GEMM, dense on oneDNN, LookupFFN
 * with fp32, bf16 or int8 tables. Defaults: the training code's smallest LookupFFN encoder (64 × 128 tokens, hidden 512,
 * 8 heads, 4 layers, 64 tables × 256 rows, block 64, dense FFN 2048); {@code -p tables=128} is the paper's layer.
 * One variant per trial (JMH runs trials one after another, not interleaved: compare within one JMH run).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx8g"})
public class EncoderBench {
    @Param({"encoder-dense-own", "encoder-dense-onednn", "encoder-lookupffn", "encoder-lookupffn-bf16",
            "encoder-lookupffn-int8"})
    public String variant;

    @Param({"64"})
    public long tables;

    @Param({"64"})
    public int batch;

    @Param({"128"})
    public int seqLen;

    @Param({"4"})
    public int layers;

    @Param({"2"})
    public int threads;

    WorkerPool pool;
    EncoderBenchmark.Encoders built;
    TransformerEncoder encoder;
    Tensor out;

    @Setup(Level.Trial)
    public void setup() {
        var d = EncoderBenchmark.Config.defaults(threads);
        var config = new EncoderBenchmark.Config(batch, seqLen, layers, d.hidden(), d.heads(), d.ffn(), tables, d.tau(),
                d.block(), threads, d.repetitions(), d.warmup(), "all", d.seed(), Set.of(variant));
        pool = WorkerPool.create(threads);
        built = EncoderBenchmark.Encoders.build(config);
        encoder = built.encoders().get(variant);
        if (encoder == null) throw new IllegalStateException(variant + " cannot run here (oneDNN baseline unavailable?)");
        out = Tensor.allocate(DType.F32, config.tokens(), config.hidden());
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (out != null) out.close();
        if (built != null) built.close();
        if (pool != null) pool.close();
    }

    @Benchmark
    public void forward() {
        encoder.forward(built.batch(), out, pool);
    }
}
