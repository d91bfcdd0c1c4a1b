package dev.lookupffn.bench;

import dev.lookupffn.LookupFfnException.FormatException;
import dev.lookupffn.LookupFfnException.ShapeException;
import dev.lookupffn.ffi.Kernels;
import dev.lookupffn.model.Encoder;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tokenizer.Encoding;
import dev.lookupffn.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;

/**
 * Sentence embeddings, ours against ONNX Runtime: the same model (the embedded all-MiniLM-L6-v2 or a model folder
 * with an .onnx file), the same texts tokenized once by our tokenizer (both get the same ids), the same thread
 * count (our {@link Encoder} with {@code threads}; ORT with that many intra-op threads, one inter-op thread,
 * sequential execution). Modes, each a timed pass over the whole corpus:
 * <ul>
 * <li>{@link Mode#ONE}: one text per call, calls one after another (how most services call an embedding model);</li>
 * <li>{@link Mode#BATCH}: the texts sorted by token length and cut into batches (as a serving batcher does);</li>
 * <li>{@link Mode#CALLERS}: N caller threads, each embedding one text per call on one shared model whose calls
 * use a single thread (our Encoder with {@code threads 1}; one ORT session with one intra-op thread).</li>
 * </ul>
 * Repetitions are interleaved (ours, ORT, ours, ORT, ...) so that machine noise hits both alike. Only the model
 * call is timed (tokenization is the same for both and done up front); tokens/s counts real tokens, special
 * tokens included, padding not. ORT's token vectors are pooled as the model card says (mean over the attention
 * mask, L2-normalised; CLS or unnormalised when the model folder says so, as our Encoder does), and the worst
 * cosine between the two embeddings of a text is reported per mode.
 *
 * <p>ONNX Runtime is optional: when it is not on the class path (or cannot load) the result holds our rows alone
 * and {@link Result#ortMissing()} says why.
 */
public final class EmbedBenchmark {
    /** The held-out corpus in the CLI's jar: docs/bench/corpus/README.md says where it comes from. */
    public static final String DEFAULT_CORPUS_RESOURCE = "dev/lookupffn/bench/europarl-en-2000.txt";
    /** Warm-up passes run over at most this many texts (the first ones): enough to reach steady state. */
    static final int WARMUP_TEXTS = 256;
    static final int MAX_CALLERS = 1024;

    public enum Mode {
        ONE("one text per call"), BATCH("sorted batches"), CALLERS("callers, one text per call");

        public final String label;

        Mode(String label) {
            this.label = label;
        }

        public String key() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** A way to embed token sequences (special tokens included), one call per list. */
    public interface Engine extends AutoCloseable {
        float[][] embed(List<int[]> ids);

        @Override
        void close();
    }

    /**
     * What to run. model null: the embedded default; corpus null: the embedded corpus; texts 0: all of the corpus;
     * callers 0: no callers mode; dtypes "f32", "bf16" or "all" (our weights; ORT always runs the fp32 file).
     */
    public record Config(Path model, Path corpus, int texts, int threads, int callers, int batchSize, int repetitions,
                         int warmup, String dtypes) {
        public Config {
            if (texts < 0) throw new ShapeException("--texts must be >= 0 (0: the whole corpus), got " + texts);
            if (threads < 1) throw new ShapeException("--threads must be at least 1, got " + threads);
            if (callers < 0 || callers > MAX_CALLERS)
                throw new ShapeException("--callers must be in 0.." + MAX_CALLERS + ", got " + callers);
            if (batchSize < 1 || batchSize > 4096) throw new ShapeException("--batch must be in 1..4096, got " + batchSize);
            if (repetitions < 1) throw new ShapeException("--repetitions must be at least 1, got " + repetitions);
            if (warmup < 0) throw new ShapeException("--warmup must be >= 0, got " + warmup);
            if (!List.of("f32", "bf16", "all").contains(dtypes))
                throw new ShapeException("--dtype must be f32, bf16 or all, got '" + dtypes + "'");
        }

        public List<Mode> modes() {
            return callers > 0 ? List.of(Mode.ONE, Mode.BATCH, Mode.CALLERS) : List.of(Mode.ONE, Mode.BATCH);
        }

        /** Our weight types, in row order. */
        public List<DType> ourDTypes() {
            return switch (dtypes) {
                case "bf16" -> List.of(DType.BF16);
                case "all" -> List.of(DType.F32, DType.BF16);
                default -> List.of(DType.F32);
            };
        }
    }

    /** The texts of a run, tokenized once: ids per text (in corpus order) and their token count. */
    public record Corpus(String source, List<String> texts, List<int[]> ids, long tokens) {
        public double averageTokens() {
            return (double) tokens / ids.size();
        }
    }

    /**
     * One (engine, mode) pair. threadsPerCall: the thread budget of each call; seconds: one full pass per
     * repetition; vsOrt: ORT's median time over ours (NaN for ORT's rows or without ORT), with the range of the
     * per-repetition ratios; worstCosine: the smallest cosine between our and ORT's embedding of one text.
     */
    public record Row(String name, String dtype, Mode mode, int threadsPerCall, int callers, double[] seconds,
                      double medianS, double tokensPerS, double vsOrt, double vsOrtMin, double vsOrtMax,
                      double worstCosine) {
        public boolean isOrt() {
            return name.equals("ort");
        }
    }

    public record Result(Config config, Corpus corpus, Map<String, Object> machine, String ortMissing, List<Row> rows,
                         List<String> warnings) {
        public Row row(String name, Mode mode) {
            return rows.stream().filter(r -> r.name().equals(name) && r.mode() == mode).findFirst().orElse(null);
        }
    }

    private EmbedBenchmark() {}

    /** Timed and warm-up passes in total, for a progress bar: one step per pass of one engine over one mode. */
    public static int steps(Config c, boolean withOrt) {
        return (c.warmup() + c.repetitions()) * c.modes().size() * (c.ourDTypes().size() + (withOrt ? 1 : 0));
    }

    /**
     * Why ONNX Runtime cannot run here (not on the class path), or null when it is there. Checked by name so this
     * class loads without it.
     */
    public static String ortMissingReason() {
        try {
            Class.forName("ai.onnxruntime.OrtEnvironment", false, EmbedBenchmark.class.getClassLoader());
            return null;
        } catch (ClassNotFoundException | LinkageError e) {
            return "ONNX Runtime (com.microsoft.onnxruntime:onnxruntime) is not on the class path: our rows alone";
        }
    }

    // ------------------------------------------------------------------------------------------------ inputs

    /** Non-blank lines of the corpus file (or the embedded corpus), the first {@code texts} of them when positive. */
    public static List<String> readCorpus(Path file, int texts) {
        List<String> lines;
        try {
            if (file == null) {
                try (InputStream in = EmbedBenchmark.class.getClassLoader().getResourceAsStream(DEFAULT_CORPUS_RESOURCE)) {
                    if (in == null) throw new FormatException("the embedded corpus " + DEFAULT_CORPUS_RESOURCE + " is missing from the class path");
                    lines = new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
                }
            } else {
                if (!Files.isRegularFile(file)) throw new FormatException(file + ": no such file");
                lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            }
        } catch (IOException e) {
            throw new FormatException((file == null ? DEFAULT_CORPUS_RESOURCE : file) + ": cannot read: " + e.getMessage(), e);
        }
        List<String> out = lines.stream().filter(l -> !l.isBlank()).toList();
        if (out.isEmpty()) throw new FormatException((file == null ? DEFAULT_CORPUS_RESOURCE : file) + ": no text (every line is blank)");
        return texts > 0 && texts < out.size() ? out.subList(0, texts) : out;
    }

    /** Token ids of each text by the model's own tokenizer (truncated to the model's length, as embed does). */
    public static Corpus tokenize(String source, List<String> texts, Tokenizer tokenizer) {
        List<int[]> ids = new ArrayList<>(texts.size());
        long tokens = 0;
        for (String t : texts) {
            Encoding e = tokenizer.encode(t, true);
            int[] seq = Arrays.copyOf(e.ids(), e.realLength());
            ids.add(seq);
            tokens += seq.length;
        }
        return new Corpus(source, texts, ids, tokens);
    }

    /**
     * Batches of the text indices sorted by token length (ties in corpus order), {@code size} per batch: what a
     * serving batcher that groups similar lengths sends.
     */
    public static List<List<Integer>> sortedBatches(List<int[]> ids, int size) {
        Integer[] order = new Integer[ids.size()];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Arrays.sort(order, Comparator.comparingInt(i -> ids.get(i).length));
        List<List<Integer>> batches = new ArrayList<>();
        for (int s = 0; s < order.length; s += size)
            batches.add(List.of(Arrays.copyOfRange(order, s, Math.min(order.length, s + size))));
        return batches;
    }

    /** Encoder options for our weights of type {@code dtype}: BF16 = bf16 GEMM weights (and LookupFFN tables). */
    static Encoder.Options withDType(Encoder.Options options, DType dtype) {
        return options.withDType(dtype);
    }

    /** Our encoder for a run's model with {@code threads} threads and weights of type {@code dtype}. */
    public static Encoder loadOurs(Config c, int threads, DType dtype) {
        Encoder.Options o = withDType(Encoder.Options.DEFAULT.withThreads(threads).withBatchSize(c.batchSize()), dtype);
        return c.model() == null ? Encoder.loadDefault(o) : Encoder.load(c.model(), o);
    }

    /** Our encoder as an engine: {@link Encoder#embedIds} (it sorts and batches by {@link Encoder.Options#batchSize()}). */
    public static Engine ours(Encoder encoder) {
        return new Engine() {
            @Override
            public float[][] embed(List<int[]> ids) {
                return encoder.embedIds(ids, null);
            }

            @Override
            public void close() {
                encoder.close();
            }
        };
    }

    /**
     * ONNX Runtime on the ONNX file of {@code model} (null: the embedded default) with {@code threads} intra-op
     * threads, pooling as {@code ours} does for that model; null when the model has no .onnx file. Call only when
     * {@link #ortMissingReason()} is null.
     */
    public static Engine ort(Path model, Encoder ours, int threads) {
        byte[] onnx = onnxBytes(model);
        return onnx == null ? null : OrtEngine.open(onnx, threads, ours.pooling() == Encoder.Pooling.CLS, ours.normalizes(),
                ours.tokenizer() == null ? 0 : ours.tokenizer().padId());
    }

    /** The ONNX bytes ORT runs: the embedded model's, or the model's .onnx file; null when the model has none. */
    static byte[] onnxBytes(Path model) {
        try {
            if (model == null) {
                try (InputStream in = EmbedBenchmark.class.getClassLoader().getResourceAsStream(Encoder.DEFAULT_MODEL_RESOURCE.substring(1))) {
                    if (in == null) throw new FormatException("the default model is not on the class path (" + Encoder.DEFAULT_MODEL_ARTIFACT + ")");
                    return in.readAllBytes();
                }
            }
            Path onnx = onnxFile(model);
            return onnx == null ? null : Files.readAllBytes(onnx);
        } catch (IOException e) {
            throw new FormatException(model + ": cannot read the ONNX file: " + e.getMessage(), e);
        }
    }

    /** The .onnx file of a --model: the file itself, or model.onnx / onnx/model.onnx in a folder; else null. */
    static Path onnxFile(Path model) {
        if (Files.isRegularFile(model)) return model.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".onnx") ? model : null;
        for (Path p : List.of(model.resolve("model.onnx"), model.resolve("onnx").resolve("model.onnx")))
            if (Files.isRegularFile(p)) return p;
        return null;
    }

    // ------------------------------------------------------------------------------------------------ running

    /** A row's engines: one per mode (the callers mode has its own single-threaded model). */
    private record Candidate(String name, String dtype, Map<Mode, Engine> engines) {}

    /** Runs the comparison; {@code progress} receives one step per finished pass (warm-up or timed). */
    public static Result run(Config c, IntConsumer progress) {
        List<String> warnings = new ArrayList<>();
        List<Candidate> candidates = new ArrayList<>();
        List<AutoCloseable> resources = new ArrayList<>();
        String ortMissing = ortMissingReason();
        try {
            Corpus corpus = null;
            for (DType d : c.ourDTypes()) {
                Encoder multi = loadOurs(c, c.threads(), d);
                resources.add(multi);
                if (corpus == null) {
                    if (multi.tokenizer() == null)
                        throw new FormatException(c.model() + ": no tokenizer.json beside the model: the benchmark embeds text");
                    corpus = tokenize(c.corpus() == null ? "embedded:" + DEFAULT_CORPUS_RESOURCE : c.corpus().toString(),
                            readCorpus(c.corpus(), c.texts()), multi.tokenizer());
                }
                Map<Mode, Engine> engines = new LinkedHashMap<>();
                engines.put(Mode.ONE, ours(multi));
                engines.put(Mode.BATCH, ours(multi));
                if (c.callers() > 0) {
                    Encoder single = c.threads() == 1 ? multi : loadOurs(c, 1, d);
                    if (single != multi) resources.add(single);
                    engines.put(Mode.CALLERS, ours(single));
                }
                candidates.add(new Candidate(d == DType.F32 ? "ours" : "ours-" + d.name().toLowerCase(Locale.ROOT),
                        d.name().toLowerCase(Locale.ROOT), engines));
            }
            String ortVersion = "not on the class path";
            if (ortMissing == null) {
                Encoder first = (Encoder) resources.get(0);
                try {
                    Engine multi = ort(c.model(), first, c.threads());
                    if (multi == null) {
                        ortMissing = c.model() + " has no .onnx file (model.onnx or onnx/model.onnx): ONNX Runtime cannot run it; our rows alone";
                    } else {
                        resources.add(multi);
                        Map<Mode, Engine> engines = new LinkedHashMap<>();
                        engines.put(Mode.ONE, multi);
                        engines.put(Mode.BATCH, multi);
                        if (c.callers() > 0) {
                            Engine single = c.threads() == 1 ? multi : ort(c.model(), first, 1);
                            if (single != multi) resources.add(single);
                            engines.put(Mode.CALLERS, single);
                        }
                        candidates.add(new Candidate("ort", "f32", engines));
                        ortVersion = OrtEngine.version();
                    }
                } catch (LinkageError | IllegalStateException | FormatException e) {
                    // the jar is there but its native library cannot load here, or the ONNX graph is not one it can feed
                    ortMissing = "ONNX Runtime cannot run this model here (" + e.getMessage() + "): our rows alone";
                }
            }
            return measure(c, corpus, candidates, machine(c, ortVersion), ortMissing, warnings, progress);
        } finally {
            for (int i = resources.size() - 1; i >= 0; i--) {
                try {
                    resources.get(i).close();
                } catch (Exception ignored) {
                    // closing frees memory; nothing to report
                }
            }
        }
    }

    private static Result measure(Config c, Corpus corpus, List<Candidate> candidates, Map<String, Object> machine,
                                  String ortMissing, List<String> warnings, IntConsumer progress) {
        List<Mode> modes = c.modes();
        int k = candidates.size(), n = corpus.ids().size();
        List<List<Integer>> batches = sortedBatches(corpus.ids(), c.batchSize());
        List<int[]> warmIds = corpus.ids().subList(0, Math.min(n, WARMUP_TEXTS));
        List<List<Integer>> warmBatches = sortedBatches(warmIds, c.batchSize());
        double[][][] seconds = new double[modes.size()][k][c.repetitions()];
        float[][][][] firstOutputs = new float[modes.size()][k][][]; // per text, from the first timed pass
        ExecutorService callers = c.callers() > 0 ? Executors.newFixedThreadPool(c.callers(), r -> {
            Thread t = new Thread(r, "embed-bench-caller");
            t.setDaemon(true);
            return t;
        }) : null;
        try {
            for (int rep = -c.warmup(); rep < c.repetitions(); rep++) {
                boolean warm = rep < 0;
                for (int m = 0; m < modes.size(); m++) {
                    for (int i = 0; i < k; i++) {
                        Engine e = candidates.get(i).engines().get(modes.get(m));
                        float[][] out = new float[warm ? warmIds.size() : n][];
                        long t0 = System.nanoTime();
                        switch (modes.get(m)) {
                            case ONE -> oneByOne(e, warm ? warmIds : corpus.ids(), out);
                            case BATCH -> batched(e, warm ? warmIds : corpus.ids(), warm ? warmBatches : batches, out);
                            case CALLERS -> concurrently(e, warm ? warmIds : corpus.ids(), out, c.callers(), callers);
                        }
                        long t1 = System.nanoTime();
                        if (!warm) {
                            seconds[m][i][rep] = (t1 - t0) * 1e-9;
                            if (firstOutputs[m][i] == null) firstOutputs[m][i] = out;
                        }
                        progress.accept(1);
                    }
                }
            }
        } finally {
            if (callers != null) callers.shutdownNow();
        }
        List<Row> rows = new ArrayList<>();
        int ort = -1;
        for (int i = 0; i < k; i++) if (candidates.get(i).name().equals("ort")) ort = i;
        for (int m = 0; m < modes.size(); m++) {
            Mode mode = modes.get(m);
            for (int i = 0; i < k; i++) {
                double[] t = seconds[m][i];
                double median = FfnBenchmark.median(t);
                double min = Arrays.stream(t).min().orElseThrow(), max = Arrays.stream(t).max().orElseThrow();
                String name = candidates.get(i).name();
                if (t.length >= 3 && (max - min) / median > 0.25)
                    warnings.add(String.format("%s, %s: times spread %.0f%% around the median: the machine was noisy; "
                            + "compare ratios, or run again with more --repetitions", name, mode.label, 100 * (max - min) / median));
                double vs = Double.NaN, vsMin = Double.NaN, vsMax = Double.NaN, cos = Double.NaN;
                if (ort >= 0 && i != ort) {
                    double[] o = seconds[m][ort];
                    vs = FfnBenchmark.median(o) / median;
                    vsMin = Double.POSITIVE_INFINITY;
                    vsMax = Double.NEGATIVE_INFINITY;
                    for (int r = 0; r < t.length; r++) { // ours and ORT of one repetition ran back to back
                        vsMin = Math.min(vsMin, o[r] / t[r]);
                        vsMax = Math.max(vsMax, o[r] / t[r]);
                    }
                    cos = worstCosine(firstOutputs[m][i], firstOutputs[m][ort]);
                }
                int perCall = mode == Mode.CALLERS ? 1 : c.threads();
                rows.add(new Row(name, candidates.get(i).dtype(), mode, perCall, mode == Mode.CALLERS ? c.callers() : 1, t,
                        median, corpus.tokens() / median, vs, vsMin, vsMax, cos));
            }
        }
        return new Result(c, corpus, machine, ortMissing, rows, warnings);
    }

    private static void oneByOne(Engine e, List<int[]> ids, float[][] out) {
        for (int i = 0; i < ids.size(); i++) out[i] = e.embed(List.of(ids.get(i)))[0];
    }

    private static void batched(Engine e, List<int[]> ids, List<List<Integer>> batches, float[][] out) {
        for (List<Integer> batch : batches) {
            List<int[]> b = new ArrayList<>(batch.size());
            for (int i : batch) b.add(ids.get(i));
            float[][] r = e.embed(b);
            for (int j = 0; j < batch.size(); j++) out[batch.get(j)] = r[j];
        }
    }

    /** {@code callers} threads take the next text until none is left; returns when every text is embedded. */
    private static void concurrently(Engine e, List<int[]> ids, float[][] out, int callers, ExecutorService pool) {
        AtomicInteger next = new AtomicInteger();
        CountDownLatch start = new CountDownLatch(1);
        List<Future<?>> running = new ArrayList<>(callers);
        for (int t = 0; t < callers; t++)
            running.add(pool.submit(() -> {
                start.await();
                for (int i; (i = next.getAndIncrement()) < ids.size(); ) out[i] = e.embed(List.of(ids.get(i)))[0];
                return null;
            }));
        start.countDown();
        for (Future<?> f : running) {
            try {
                f.get();
            } catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while the callers ran", ex);
            } catch (java.util.concurrent.ExecutionException ex) {
                if (ex.getCause() instanceof RuntimeException re) throw re;
                if (ex.getCause() instanceof Error err) throw err;
                throw new IllegalStateException(ex.getCause());
            }
        }
    }

    /** The smallest cosine similarity between a[i] and b[i] over all i (in double). */
    static double worstCosine(float[][] a, float[][] b) {
        double worst = 1;
        for (int i = 0; i < a.length; i++) {
            double dot = 0, na = 0, nb = 0;
            for (int j = 0; j < a[i].length; j++) {
                dot += (double) a[i][j] * b[i][j];
                na += (double) a[i][j] * a[i][j];
                nb += (double) b[i][j] * b[i][j];
            }
            double cos = na == 0 && nb == 0 ? 1 : dot / Math.sqrt(na * nb);
            if (!(cos >= worst)) worst = cos; // NaN stays
        }
        return worst;
    }

    static Map<String, Object> machine(Config c, String ortVersion) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("cpu", FfnBenchmark.cpuModel());
        m.put("logical_cpus", Runtime.getRuntime().availableProcessors());
        m.put("isa", Kernels.effectiveIsa().name());
        m.put("jdk", System.getProperty("java.vm.name") + " " + Runtime.version());
        m.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch"));
        m.put("lookupffn", Kernels.version());
        m.put("onnxruntime", ortVersion);
        return m;
    }
}
