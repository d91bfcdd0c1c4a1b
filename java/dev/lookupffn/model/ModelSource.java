package dev.lookupffn.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lookupffn.LookupFfnException.FormatException;
import dev.lookupffn.pytorch.TorchCheckpoint;
import dev.lookupffn.safetensors.SafetensorsFile;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * An encoder's weights and configuration, found from a path: a safetensors file, a PyTorch checkpoint (Lightning
 * {@code .ckpt} with the model under {@code state_dict}, {@code pytorch_model.bin}, any torch.save'd state dict)
 * or a folder holding {@code model.safetensors} or {@code pytorch_model.bin}.
 *
 * <p>The weights' prefix is found from the word embedding's name ({@code model.roberta.}, {@code roberta.},
 * {@code bert.}, …); the masked-LM head is read from {@code lm_head.*} beside it (or BERT's {@code cls.predictions.*}).
 * The configuration comes, in order, from: the explicit {@code config} file (a config.json or the authors' Python
 * training config); the safetensors file's own metadata (written by {@code convert}); {@code config.json} beside
 * the weights. Pre-norm weights (the authors' LookupFFN RoBERTa, with a final {@code encoder.LayerNorm}) read it as
 * a {@link TrainingConfig} and every shape it determines is checked; post-norm BERT/RoBERTa weights read it as a
 * HuggingFace config.json.
 *
 * <p>LookupFFN tables may be stored compactly, as {@code convert --dtype int8|bf16} writes them (I8 tables with F32
 * {@code …FFN.tables_scale}, or BF16; the metadata's {@code lookupffn_tables_dtype} says which): {@link #open} checks
 * them against their scales and that metadata, and {@link #build()} keeps them compact.
 *
 * <p>The tensors are views of the open file until {@link #close()}; {@link #build()} copies what the encoder needs.
 */
public final class ModelSource implements AutoCloseable {
    private static final List<String> PREFIXES = List.of("", "roberta.", "bert.", "model.", "model.roberta.", "model.bert.",
            "module.", "module.roberta.", "module.bert.");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path weightsFile;
    private final AutoCloseable file;
    private final Map<String, Tensor> raw;     // the file's names
    private final String prefix, headPrefix;
    private final EncoderConfig config;
    private final TrainingConfig training;    // null for post-norm (HF) models
    private final Map<String, String> hfConfigJson;
    private final Map<String, String> metadata; // a safetensors file's own

    private ModelSource(Path weightsFile, AutoCloseable file, Map<String, Tensor> raw, String prefix, EncoderConfig config,
                        TrainingConfig training, Map<String, String> hfConfigJson, Map<String, String> metadata) {
        this.weightsFile = weightsFile;
        this.file = file;
        this.raw = raw;
        this.prefix = prefix;
        this.headPrefix = prefix.replaceFirst("(roberta|bert)\\.$", "");
        this.config = config;
        this.training = training;
        this.hfConfigJson = hfConfigJson;
        this.metadata = metadata;
    }

    /** True for a folder this class reads (one with model.safetensors or pytorch_model.bin). */
    public static boolean handles(Path folder) {
        return Files.isDirectory(folder) && weightsIn(folder) != null;
    }

    private static Path weightsIn(Path dir) {
        for (String n : new String[] {"model.safetensors", "pytorch_model.bin"})
            if (Files.isRegularFile(dir.resolve(n))) return dir.resolve(n);
        return null;
    }

    /** Opens the weights at {@code path} (file or folder) with an optional explicit configuration file. */
    public static ModelSource open(Path path, Path config) {
        Path weights = path;
        if (Files.isDirectory(path)) {
            weights = weightsIn(path);
            if (weights == null) throw new FormatException(path + ": no model.safetensors or pytorch_model.bin in the folder");
        } else if (!Files.isRegularFile(path)) {
            throw new FormatException(path + ": no such file or folder");
        }
        if (config != null && !Files.isRegularFile(config)) throw new FormatException(config + ": no such configuration file");
        Path beside = weights.toAbsolutePath().getParent().resolve("config.json");
        if (!Files.isRegularFile(beside)) beside = null;
        boolean safetensors = weights.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".safetensors");
        AutoCloseable file;
        Map<String, Tensor> raw = new LinkedHashMap<>();
        Map<String, String> meta = Map.of();
        if (safetensors) {
            SafetensorsFile st = SafetensorsFile.open(weights);
            file = st;
            for (String n : st.names()) raw.put(n, st.tensor(n));
            meta = st.metadata();
        } else {
            TorchCheckpoint ckpt = TorchCheckpoint.open(weights);
            file = ckpt;
            raw.putAll(ckpt.tensors());
        }
        try {
            // compact tables, their scales and the metadata agree before anything reads a table
            CompactTables.check(weights.toString(), raw, meta);
            String prefix = null;
            for (String p : PREFIXES)
                if (raw.containsKey(p + "embeddings.word_embeddings.weight")) {
                    prefix = p;
                    break;
                }
            if (prefix == null)
                throw new FormatException(weights + ": no encoder in the file (no *embeddings.word_embeddings.weight among its "
                        + raw.size() + " tensors)");
            boolean preNorm = raw.containsKey(prefix + "encoder.LayerNorm.weight");
            boolean lookup = raw.containsKey(prefix + "encoder.layer.0.FFN.tables");
            EncoderConfig cfg;
            TrainingConfig training = null;
            Map<String, String> hf = null;
            if (preNorm) {
                boolean ownMetadata = config == null && !TrainingConfig.inMetadata(meta) && meta.containsKey("hidden_size");
                if (config != null) training = TrainingConfig.read(config);
                else if (TrainingConfig.inMetadata(meta)) training = TrainingConfig.fromMetadata(meta, weights + " (metadata)");
                else if (beside != null && !ownMetadata) training = TrainingConfig.read(beside);
                if (training != null) {
                    cfg = training.encoderConfig(lookup);
                } else if (ownMetadata) { // the older fixture layout: LookupFFN sizes inferred from the shapes
                    cfg = EncoderConfig.preNormFromMetadata(meta, weights.toString());
                } else {
                    new TrainingConfig(weights + " (no --config, no config.json beside it)", Map.of()).requireKeys(lookup);
                    throw new IllegalStateException("unreachable: requireKeys throws on an empty configuration");
                }
            } else {
                if (config == null && meta.containsKey("hf_config_json")) { // written by convert
                    cfg = EncoderConfig.fromHfConfigJson(meta.get("hf_config_json"), weights + " (metadata)");
                    hf = readJsonObject(meta.get("hf_config_json"), weights + " (metadata)");
                } else {
                    Path json = config != null ? config : beside;
                    if (json == null)
                        throw new FormatException(weights + ": a post-norm (BERT/RoBERTa) encoder needs its config.json: none"
                                + " beside it and no --config given");
                    cfg = EncoderConfig.fromHfConfigJson(json);
                    hf = readJsonObject(Files.readString(json), json.toString());
                }
            }
            ModelSource s = new ModelSource(weights, file, raw, prefix, cfg, training, hf, meta);
            if (training != null) training.checkShapes(cfg, s.weights(), s::fileName);
            return s;
        } catch (IOException e) {
            closeQuietly(file);
            throw new FormatException(weights + ": cannot read the configuration: " + e.getMessage(), e);
        } catch (RuntimeException | Error e) {
            closeQuietly(file);
            throw e;
        }
    }

    private static Map<String, String> readJsonObject(String text, String source) {
        try {
            Map<String, String> m = new LinkedHashMap<>();
            m.put("hf_config_json", JSON.writeValueAsString(JSON.readTree(text)));
            return m;
        } catch (IOException e) {
            throw new FormatException(source + ": not valid JSON: " + e.getMessage(), e);
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception ignored) {
            // already failing with a better message
        }
    }

    /** The file's name of an encoder tensor name (prefix added; BERT's old LayerNorm gamma/beta and MLM names). */
    public String fileName(String name) {
        String n = name.startsWith("lm_head.") ? headPrefix + name : prefix + name;
        if (raw.containsKey(n)) return n;
        String alt = alternative(name);
        return alt != null && raw.containsKey(alt) ? alt : n;
    }

    /** BERT checkpoints: LayerNorm.gamma/beta and the masked-LM head under cls.predictions. */
    private String alternative(String name) {
        if (name.endsWith("LayerNorm.weight") && !name.startsWith("lm_head.")) return prefix + name.replaceFirst("weight$", "gamma");
        if (name.endsWith("LayerNorm.bias") && !name.startsWith("lm_head.")) return prefix + name.replaceFirst("bias$", "beta");
        String head = headPrefix + "cls.predictions.";
        return switch (name) {
            case "lm_head.dense.weight", "lm_head.dense.bias" -> head + "transform." + name.substring(8);
            case "lm_head.layer_norm.weight", "lm_head.layer_norm.bias" ->
                    head + "transform.LayerNorm." + name.substring("lm_head.layer_norm.".length());
            case "lm_head.decoder.weight" -> head + "decoder.weight";
            case "lm_head.bias" -> head + "bias";
            default -> null;
        };
    }

    /** The weights under the encoder's names (views of the open file). */
    public Weights weights() {
        Function<String, Tensor> get = n -> raw.get(fileName(n));
        return new Weights(weightsFile.toString(), get, Set.of());
    }

    public EncoderConfig config() {
        return config;
    }

    /** The authors' configuration of a pre-norm model (null for a post-norm HuggingFace one). */
    public TrainingConfig trainingConfig() {
        return training;
    }

    public Path weightsFile() {
        return weightsFile;
    }

    /** Builds the encoder (it copies the weights, so this source may be closed afterwards). */
    public TransformerEncoder build() {
        return build(TransformerEncoder.Options.DEFAULT);
    }

    /** As {@link #build()}, with the encoder's loading options (bf16 GEMM weights, how LookupFFN layers store their tables). */
    public TransformerEncoder build(TransformerEncoder.Options options) {
        return TransformerEncoder.create(config, weights(), options);
    }

    /**
     * The model's tensors under the authors' names as {@code convert} writes them: the file's names without a
     * Lightning module's prefix ({@code model.}), so {@code roberta.…} and {@code lm_head.…}, with the LookupFFN
     * tables stored as {@code tableDType}: F32, BF16, or I8 beside F32 {@code …FFN.tables_scale} ({@link
     * CompactTables}). Converted tables are allocated in {@code arena}; every other tensor, and tables already
     * stored that way, are views of the open file.
     */
    public Map<String, Tensor> exportTensors(DType tableDType, Arena arena) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (var e : raw.entrySet()) {
            String name = e.getKey();
            if (!name.startsWith(headPrefix) || CompactTables.isScale(name)) continue; // scales go with their tables
            String n = name.substring(headPrefix.length());
            if (CompactTables.isTables(name))
                CompactTables.export(weightsFile + ": tensor '" + name + "'", e.getValue(),
                        raw.get(CompactTables.scaleName(name)), tableDType, arena, n, out);
            else
                out.put(n, e.getValue());
        }
        return out;
    }

    /**
     * The configuration as safetensors metadata, read back when the converted file is loaded, and for a model with
     * LookupFFN layers the tables' storage ({@code lookupffn_tables_dtype}: f32, bf16 or int8).
     */
    public Map<String, String> exportMetadata(DType tableDType) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("format", "pt");
        m.put("converted_from", weightsFile.getFileName().toString());
        if (training != null) m.putAll(training.toMetadata());
        else if (hfConfigJson != null) m.putAll(hfConfigJson);
        else metadata.forEach((k, v) -> { if (!k.equals("format")) m.put(k, v); }); // the older pre-norm layout
        if (hasLookupTables()) m.put(CompactTables.METADATA_KEY, CompactTables.name(tableDType));
        else m.remove(CompactTables.METADATA_KEY);
        return m;
    }

    /** Whether the model has LookupFFN layers (tables that {@code convert --dtype} can store compactly). */
    public boolean hasLookupTables() {
        return raw.keySet().stream().anyMatch(n -> n.startsWith(prefix) && CompactTables.isTables(n));
    }

    @Override
    public void close() {
        closeQuietly(file);
    }
}
