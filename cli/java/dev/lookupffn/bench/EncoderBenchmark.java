package dev.lookupffn.bench;

import dev.lookupffn.LookupFfnException.ShapeException;
import dev.lookupffn.baseline.DenseFfn;
import dev.lookupffn.ffi.OneDnn;
import dev.lookupffn.model.Batch;
import dev.lookupffn.model.EncoderConfig;
import dev.lookupffn.model.TransformerEncoder;
import dev.lookupffn.model.TransformerEncoder.Stage;
import dev.lookupffn.model.Weights;
import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.IntConsumer;

/**
 * What LookupFFN buys a whole encoder: the paper's pre-norm encoder with random weights, built four ways that share
 * the embedding and attention weights — dense FFN on our GEMM (the encoder's own dense path), dense FFN on oneDNN
 * (plugged in per layer as a {@link TransformerEncoder.BatchFfn}), LookupFFN with fp32 tables, with bf16 tables
 * and with int8 tables — run on the same batch of token sequences, interleaved after warm-up.
 *
 * <p>Each round runs every candidate twice: a plain forward call (the throughput numbers) and a profiled one
 * ({@link TransformerEncoder.StageTimer}: every stage a job of its own over the whole batch, timed on the calling
 * thread) that says where the time goes and the share of it spent in the FFN blocks.
 */
public final class EncoderBenchmark {
    /** Rows of the random word embedding: the vocabulary does not change the encoder's cost beyond the lookup. */
    static final int VOCAB = 1000;
    /** The pre-norm model's padding id; positions start at pad + 1 (RoBERTa). */
    static final int PAD = 1;
    static final float EPS = 1e-5f;
    /** Limits that keep a run inside memory: the attention scores of a sequence (seqLen² floats per thread)... */
    static final int MAX_SEQ_LEN = 8192;
    /** ...and the activations (about 8 × tokens × hidden floats, plus tokens × ffn for a dense FFN). */
    static final long MAX_TOKENS = 1L << 20;

    /**
     * What to run. dtypes: "f32" (dense rows and fp32 LookupFFN), "bf16" (dense rows and bf16-table LookupFFN:
     * the dense rows are the reference of the speedup), "int8" (dense rows and int8-table LookupFFN) or "all";
     * {@code only} (empty: all) narrows the names.
     */
    public record Config(int batch, int seqLen, int layers, int hidden, int heads, long ffn, long tables, int tau,
                         long block, int threads, int repetitions, int warmup, String dtypes, long seed, Set<String> only) {
        /** All candidates, in table order. */
        public static final List<String> NAMES = List.of("encoder-dense-own", "encoder-dense-onednn", "encoder-lookupffn",
                "encoder-lookupffn-bf16", "encoder-lookupffn-int8");

        public Config {
            only = Set.copyOf(only);
            for (String n : only)
                if (!NAMES.contains(n)) throw new ShapeException("--only: unknown encoder candidate '" + n + "'; known: " + NAMES);
            atLeast("--batch", batch, 1);
            atLeast("--seq-len", seqLen, 1);
            if (seqLen > MAX_SEQ_LEN)
                throw new ShapeException("--seq-len must be at most " + MAX_SEQ_LEN + " (attention keeps seqLen² scores per thread), got " + seqLen);
            if ((long) batch * seqLen > MAX_TOKENS)
                throw new ShapeException("--batch × --seq-len must be at most " + MAX_TOKENS + " tokens, got " + batch + " × " + seqLen);
            atLeast("--layers", layers, 1);
            atLeast("--hidden", hidden, 1);
            atLeast("--heads", heads, 1);
            if (hidden % heads != 0)
                throw new ShapeException("--hidden " + hidden + " must be a multiple of --heads " + heads);
            atLeast("--ffn", ffn, 1);
            atLeast("--tables", tables, 1);
            if (tau < 1 || tau > 16) throw new ShapeException("--table-rows must be a power of two in 2..65536, got 2^" + tau);
            atLeast("--block", block, 1);
            long p = paddedWidth(hidden);
            if (p % block != 0) throw new ShapeException("--block " + block + " must divide the padded width " + p + " of --hidden " + hidden);
            atLeast("--threads", threads, 1);
            atLeast("--repetitions", repetitions, 1);
            atLeast("--warmup", warmup, 0);
            if (!List.of("f32", "bf16", "int8", "all").contains(dtypes))
                throw new ShapeException("--dtype must be f32, bf16, int8 or all, got " + dtypes);
            // the weights this run holds at once, a sanity bound against a typo like --hidden 51200
            double bytes = 4.0 * layers * (4.0 * hidden * hidden + 2.0 * hidden * ffn + 2.0 * tables * (1L << tau) * hidden)
                    + 4.0 * batch * seqLen * (8.0 * hidden + ffn);
            if (bytes > 64.0 * (1L << 30))
                throw new ShapeException(String.format("this configuration needs about %.0f GiB of weights and activations; "
                        + "reduce --layers, --hidden, --ffn, --tables, --table-rows or the tokens", bytes / (1L << 30)));
        }

        /** BH4's padded width: the hidden width rounded up to a power of two. */
        private static long paddedWidth(long d) {
            return Long.highestOneBit(d) == d ? d : Long.highestOneBit(d) << 1;
        }

        private static void atLeast(String option, long v, long min) {
            if (v < min) throw new ShapeException(option + " must be at least " + min + ", got " + v);
        }

        /**
         * The training code's smallest LookupFFN encoder: 64 × 128 tokens, hidden 512, 8 heads × 64, 4 layers,
         * 64 tables × 256 rows, BH4 block 64, against a dense FFN of 2048; fp32, 7 repetitions after 2 warm-up.
         */
        public static Config defaults(int threads) {
            return new Config(64, 128, 4, 512, 8, 2048, 64, 8, 64, threads, 7, 2, "f32", 42, Set.of());
        }

        public long tokens() {
            return (long) batch * seqLen;
        }

        public int headSize() {
            return hidden / heads;
        }

        /** Whether candidate {@code name} runs: its dtype is selected, it is in {@code only}, oneDNN is there. */
        public boolean wants(String name) {
            boolean dtypeOk = switch (name) {
                case "encoder-lookupffn" -> dtypes.equals("f32") || dtypes.equals("all");
                case "encoder-lookupffn-bf16" -> dtypes.equals("bf16") || dtypes.equals("all");
                case "encoder-lookupffn-int8" -> dtypes.equals("int8") || dtypes.equals("all");
                default -> true; // the dense rows are the reference of every LookupFFN row
            };
            return dtypeOk && (only.isEmpty() || only.contains(name)) && (!name.equals("encoder-dense-onednn") || OneDnn.available());
        }

        public Config withOnly(Set<String> names) {
            return new Config(batch, seqLen, layers, hidden, heads, ffn, tables, tau, block, threads, repetitions, warmup,
                    dtypes, seed, names);
        }

        /** The same widths as an FFN benchmark configuration (for the LookupFFN parameter distributions). */
        FfnBenchmark.Config ffnConfig() {
            return new FfnBenchmark.Config(tokens(), hidden, ffn, tables, tau, block, threads, repetitions, warmup, "all", seed);
        }
    }

    /**
     * One candidate's timings. speedupVsDense = (the faster dense row's median) / (this median), NaN without a
     * dense row. stageSeconds: median per stage of the profiled calls, summed over layers; profiledS: the median
     * profiled call; ffnShare: the median share of the FFN stage in a profiled call; tableBytesPerLayer: the
     * resident bytes of one layer's LookupFFN tables as the encoder holds them (scales included), 0 for a dense row.
     */
    public record Row(String name, String dtype, double[] seconds, double medianS, double minS, double maxS,
                      double tokensPerS, double speedupVsDense, Map<Stage, Double> stageSeconds, double profiledS,
                      double ffnShare, long tableBytesPerLayer) {}

    /** denseReference: the name of the faster dense row (null without one). */
    public record Result(Config config, Map<String, Object> machine, List<Row> rows, String denseReference,
                         List<String> warnings) {
        public Row row(String name) {
            return rows.stream().filter(r -> r.name().equals(name)).findFirst().orElse(null);
        }
    }

    private EncoderBenchmark() {}

    /** Candidates that run for {@code c}, in table order. */
    public static List<String> candidates(Config c) {
        return Config.NAMES.stream().filter(c::wants).toList();
    }

    /** Progress steps of {@link #run}: (warm-up + repetitions) × candidates × (plain + profiled). */
    public static int steps(Config c) {
        return (c.warmup() + c.repetitions()) * candidates(c).size() * 2;
    }

    /**
     * The five encoders of a configuration (those {@link Config#wants} selects), the batch they run, and what they
     * own. Close it to free them. The oneDNN dense FFNs are built for exactly this batch and thread count.
     */
    public static final class Encoders implements AutoCloseable {
        private final Map<String, TransformerEncoder> encoders = new LinkedHashMap<>();
        private final List<DenseFfn> oneDnnFfns = new ArrayList<>();
        private final Batch batch;
        private final EncoderConfig encoderConfig;

        private Encoders(Config c) {
            encoderConfig = new EncoderConfig(EncoderConfig.Norm.PRE, VOCAB, c.hidden(), c.layers(), c.heads(),
                    c.seqLen() + PAD + 1, 1, PAD, PAD + 1, EPS, EncoderConfig.PRENORM_MASK_VALUE, "lookupffn-prenorm-bench");
            SplittableRandom rnd = new SplittableRandom(c.seed());
            batch = randomBatch(rnd.split(), c);
            boolean dense = c.wants("encoder-dense-own") || c.wants("encoder-dense-onednn");
            boolean lookup = c.wants("encoder-lookupffn") || c.wants("encoder-lookupffn-bf16") || c.wants("encoder-lookupffn-int8");
            Map<String, Tensor> shared = new HashMap<>(), denseFfn = new HashMap<>(), lookupFfn = new HashMap<>();
            try {
                sharedWeights(rnd.split(), c, shared);
                SplittableRandom ffnRnd = rnd.split();
                for (int i = 0; i < c.layers(); i++) {
                    // one FFN LayerNorm for both kinds; each kind's own parameters from its own stream, so that
                    // every candidate gets the same weights whichever others run
                    SplittableRandom layerRnd = ffnRnd.split(), denseRnd = layerRnd.split(), lookupRnd = layerRnd.split();
                    String p = "encoder.layer." + i + ".FFN.";
                    layerNorm(layerRnd, shared, p + "LayerNorm", c.hidden());
                    if (lookup) {
                        Map<String, Tensor> lookupParams = FfnBenchmark.lookupParams(lookupRnd, c.ffnConfig());
                        lookupParams.remove("LayerNorm.weight").close();
                        lookupParams.remove("LayerNorm.bias").close();
                        lookupParams.forEach((k, v) -> lookupFfn.put(p + k, v));
                    }
                    if (dense) {
                        denseFfn.put(p + "fc1.weight", FfnBenchmark.gaussian(denseRnd, 1 / Math.sqrt(c.hidden()), c.ffn(), c.hidden()));
                        denseFfn.put(p + "fc1.bias", FfnBenchmark.gaussian(denseRnd, 0.1, c.ffn()));
                        denseFfn.put(p + "fc2.weight", FfnBenchmark.gaussian(denseRnd, 1 / Math.sqrt(c.ffn()), c.hidden(), c.ffn()));
                        denseFfn.put(p + "fc2.bias", FfnBenchmark.gaussian(denseRnd, 0.1, c.hidden()));
                    }
                }
                Weights denseWeights = overlay("random dense encoder", shared, denseFfn);
                Weights lookupWeights = overlay("random LookupFFN encoder", shared, lookupFfn);
                if (c.wants("encoder-dense-own"))
                    encoders.put("encoder-dense-own", TransformerEncoder.create(encoderConfig, denseWeights));
                if (c.wants("encoder-dense-onednn")) {
                    for (int i = 0; i < c.layers(); i++) {
                        String p = "encoder.layer." + i + ".FFN.";
                        oneDnnFfns.add(DenseFfn.oneDnn(new DenseFfn.Weights(shared.get(p + "LayerNorm.weight"),
                                shared.get(p + "LayerNorm.bias"), denseFfn.get(p + "fc1.weight"), denseFfn.get(p + "fc1.bias"),
                                denseFfn.get(p + "fc2.weight"), denseFfn.get(p + "fc2.bias")), EPS, c.tokens(), false, c.threads()));
                    }
                    var options = TransformerEncoder.Options.DEFAULT.withExternalFfn(i -> oneDnnFfns.get(i)::forward);
                    encoders.put("encoder-dense-onednn", TransformerEncoder.create(encoderConfig, denseWeights, options));
                }
                if (c.wants("encoder-lookupffn"))
                    encoders.put("encoder-lookupffn", TransformerEncoder.create(encoderConfig, lookupWeights));
                if (c.wants("encoder-lookupffn-bf16"))
                    encoders.put("encoder-lookupffn-bf16", TransformerEncoder.create(encoderConfig, lookupWeights,
                            TransformerEncoder.Options.DEFAULT.withLookupTableDType(DType.BF16)));
                if (c.wants("encoder-lookupffn-int8"))
                    encoders.put("encoder-lookupffn-int8", TransformerEncoder.create(encoderConfig, lookupWeights,
                            TransformerEncoder.Options.DEFAULT.withLookupTableDType(DType.I8)));
            } catch (RuntimeException | Error e) {
                close();
                throw e;
            } finally {
                // the encoders and the oneDNN FFNs copied what they need
                for (Map<String, Tensor> m : List.of(shared, denseFfn, lookupFfn)) m.values().forEach(Tensor::close);
            }
        }

        /** Builds the encoders {@code c} selects (random weights from {@code c.seed()}). */
        public static Encoders build(Config c) {
            return new Encoders(c);
        }

        /** The encoders by candidate name, in table order. */
        public Map<String, TransformerEncoder> encoders() {
            return java.util.Collections.unmodifiableMap(encoders);
        }

        public Batch batch() {
            return batch;
        }

        public EncoderConfig encoderConfig() {
            return encoderConfig;
        }

        @Override
        public void close() {
            for (TransformerEncoder e : encoders.values()) e.close();
            encoders.clear();
            for (DenseFfn f : oneDnnFfns) f.close();
            oneDnnFfns.clear();
        }
    }

    /** The shared map first, then the FFN map: each encoder sees the embeddings, attention and its own FFN. */
    private static Weights overlay(String source, Map<String, Tensor> shared, Map<String, Tensor> ffn) {
        return new Weights(source, n -> ffn.containsKey(n) ? ffn.get(n) : shared.get(n), Set.of());
    }

    /**
     * Embeddings and attention with the magnitudes of a trained model: LayerNorm weights near 1, linear weights
     * of standard deviation 1/sqrt(fan-in) (activations keep their scale), small biases.
     */
    private static void sharedWeights(SplittableRandom rnd, Config c, Map<String, Tensor> m) {
        int h = c.hidden();
        m.put("embeddings.word_embeddings.weight", FfnBenchmark.gaussian(rnd, 1, VOCAB, h));
        m.put("embeddings.position_embeddings.weight", FfnBenchmark.gaussian(rnd, 0.5, c.seqLen() + PAD + 1, h));
        m.put("embeddings.token_type_embeddings.weight", FfnBenchmark.gaussian(rnd, 0.5, 1, h));
        layerNorm(rnd, m, "embeddings.LayerNorm", h);
        for (int i = 0; i < c.layers(); i++) {
            String p = "encoder.layer." + i + ".attention.";
            layerNorm(rnd, m, p + "LayerNorm", h);
            for (String s : List.of("query", "key", "value", "dense")) {
                m.put(p + s + ".weight", FfnBenchmark.gaussian(rnd, 1 / Math.sqrt(h), h, h));
                m.put(p + s + ".bias", FfnBenchmark.gaussian(rnd, 0.1, h));
            }
        }
        layerNorm(rnd, m, "encoder.LayerNorm", h);
    }

    private static void layerNorm(SplittableRandom rnd, Map<String, Tensor> m, String base, int h) {
        Tensor w = FfnBenchmark.gaussian(rnd, 0.2, h);
        for (long i = 0; i < h; i++) w.setFloat(i, 1 + w.getFloat(i));
        m.put(base + ".weight", w);
        m.put(base + ".bias", FfnBenchmark.gaussian(rnd, 0.1, h));
    }

    /** Full-length sequences of random token ids (no padding: every token costs the same in every candidate). */
    private static Batch randomBatch(SplittableRandom rnd, Config c) {
        int n = (int) c.tokens();
        int[] ids = new int[n], mask = new int[n], types = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = PAD + 1 + rnd.nextInt(VOCAB - PAD - 1);
            mask[i] = 1;
        }
        return new Batch(c.batch(), c.seqLen(), ids, mask, types);
    }

    /** Runs the comparison; {@code progress} receives each finished forward call (warm-up, timed, profiled). */
    public static Result run(Config c, IntConsumer progress) {
        List<String> warnings = new ArrayList<>();
        if (!OneDnn.available() && (c.only().isEmpty() || c.only().contains("encoder-dense-onednn")))
            warnings.add("oneDNN baseline unavailable: encoder-dense-onednn skipped");
        try (WorkerPool pool = WorkerPool.create(c.threads()); Encoders built = Encoders.build(c)) {
            List<String> names = new ArrayList<>(built.encoders().keySet());
            List<TransformerEncoder> encoders = new ArrayList<>(built.encoders().values());
            int k = names.size(), reps = c.repetitions();
            long n = c.tokens();
            long[] tableBytes = new long[k];
            for (int i = 0; i < k; i++) tableBytes[i] = encoders.get(i).lookupTableBytes() / c.layers();
            Tensor[] outs = new Tensor[k];
            try {
                for (int i = 0; i < k; i++) outs[i] = Tensor.allocate(DType.F32, n, c.hidden());
                double[][] plain = new double[k][reps], profiled = new double[k][reps], ffnShares = new double[k][reps];
                double[][][] stages = new double[k][Stage.values().length][reps];
                long[] stageNanos = new long[Stage.values().length];
                TransformerEncoder.StageTimer timer = (stage, nanos) -> stageNanos[stage.ordinal()] += nanos;
                for (int rep = -c.warmup(); rep < reps; rep++) {
                    for (int i = 0; i < k; i++) {
                        long t0 = System.nanoTime();
                        encoders.get(i).forward(built.batch(), outs[i], pool);
                        long t1 = System.nanoTime();
                        if (rep >= 0) plain[i][rep] = (t1 - t0) * 1e-9;
                        progress.accept(1);
                    }
                    for (int i = 0; i < k; i++) {
                        Arrays.fill(stageNanos, 0);
                        long t0 = System.nanoTime();
                        encoders.get(i).forward(built.batch(), outs[i], pool, timer);
                        long t1 = System.nanoTime();
                        if (rep >= 0) {
                            profiled[i][rep] = (t1 - t0) * 1e-9;
                            long total = Arrays.stream(stageNanos).sum();
                            for (Stage s : Stage.values()) stages[i][s.ordinal()][rep] = stageNanos[s.ordinal()] * 1e-9;
                            ffnShares[i][rep] = total == 0 ? Double.NaN : (double) stageNanos[Stage.FFN.ordinal()] / total;
                        }
                        progress.accept(1);
                    }
                }
                return result(c, names, plain, profiled, stages, ffnShares, tableBytes, warnings);
            } finally {
                for (Tensor t : outs) if (t != null) t.close();
            }
        }
    }

    private static Result result(Config c, List<String> names, double[][] plain, double[][] profiled, double[][][] stages,
                                 double[][] ffnShares, long[] tableBytes, List<String> warnings) {
        double dense = Double.NaN;
        String reference = null;
        for (int i = 0; i < names.size(); i++) {
            double m = FfnBenchmark.median(plain[i]);
            if (names.get(i).startsWith("encoder-dense") && !(m >= dense)) {
                dense = m;
                reference = names.get(i);
            }
        }
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            String name = names.get(i);
            double[] t = plain[i];
            double median = FfnBenchmark.median(t);
            double min = Arrays.stream(t).min().orElseThrow(), max = Arrays.stream(t).max().orElseThrow();
            if (t.length >= 3 && (max - min) / median > 0.25)
                warnings.add(String.format("%s: times spread %.0f%% around the median: the machine was noisy; "
                        + "compare ratios, or run again with more --repetitions", name, 100 * (max - min) / median));
            Map<Stage, Double> perStage = new EnumMap<>(Stage.class);
            for (Stage s : Stage.values()) perStage.put(s, FfnBenchmark.median(stages[i][s.ordinal()]));
            double profiledMedian = FfnBenchmark.median(profiled[i]);
            if (profiledMedian > 1.10 * median)
                warnings.add(String.format("%s: a profiled call took %.0f%% longer than a plain one: read its stage shares, "
                        + "not its stage times, against the plain median", name, 100 * (profiledMedian / median - 1)));
            String dtype = name.endsWith("-bf16") ? "bf16" : name.endsWith("-int8") ? "int8" : "f32";
            rows.add(new Row(name, dtype, t, median, min, max, c.tokens() / median, dense / median, perStage, profiledMedian,
                    FfnBenchmark.median(ffnShares[i]), tableBytes[i]));
        }
        return new Result(c, FfnBenchmark.machine(c.ffnConfig()), rows, reference, warnings);
    }
}
