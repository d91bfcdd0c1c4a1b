package dev.lookupffn.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lookupffn.LookupFfnException.FormatException;
import dev.lookupffn.LookupFfnException.ShapeException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

/**
 * The configuration of a transformer encoder (the sizes the weights do not say on their own).
 *
 * @param norm             where the LayerNorms sit: {@link Norm#PRE} (the paper's pre-norm RoBERTa) or
 *                         {@link Norm#POST} (BERT/RoBERTa in the HuggingFace layout)
 * @param vocabSize        rows of the word embedding
 * @param hidden           model width d
 * @param layers           number of encoder layers
 * @param heads            attention heads; head size = hidden / heads
 * @param maxPositions     rows of the position embedding
 * @param typeVocabSize    rows of the token type embedding
 * @param padTokenId       the padding token id
 * @param positionOffset   position id of the first token: 0 for BERT, pad_token_id + 1 for RoBERTa-style models
 * @param layerNormEps     eps of every LayerNorm (HF: layer_norm_eps)
 * @param maskValue        what padded keys add to the attention scores (pre-norm: -1000; HF: the float minimum)
 * @param modelType        config.json's model_type, for messages ("bert", "roberta", "lookupffn-prenorm", ...)
 */
public record EncoderConfig(Norm norm, int vocabSize, int hidden, int layers, int heads, int maxPositions,
                            int typeVocabSize, int padTokenId, int positionOffset, float layerNormEps, float maskValue,
                            String modelType) {
    public enum Norm {
        PRE,
        POST
    }

    public EncoderConfig {
        if (norm == null) throw new ShapeException("encoder config: norm is null");
        positive("vocab_size", vocabSize);
        positive("hidden_size", hidden);
        positive("num_hidden_layers", layers);
        positive("num_attention_heads", heads);
        positive("max_position_embeddings", maxPositions);
        positive("type_vocab_size", typeVocabSize);
        if (hidden % heads != 0)
            throw new ShapeException("encoder config: hidden_size " + hidden + " is not a multiple of num_attention_heads " + heads);
        if (positionOffset < 0 || positionOffset >= maxPositions)
            throw new ShapeException("encoder config: position offset " + positionOffset + " outside [0, " + maxPositions + ")");
        if (!(layerNormEps >= 0)) throw new ShapeException("encoder config: layer_norm_eps must be >= 0, got " + layerNormEps);
        if (!(maskValue < 0)) throw new ShapeException("encoder config: the attention mask value must be negative, got " + maskValue);
    }

    private static void positive(String name, int v) {
        if (v <= 0) throw new ShapeException("encoder config: " + name + " must be positive, got " + v);
    }

    public int headSize() {
        return hidden / heads;
    }

    /** Longest sequence the position embedding allows. */
    public int maxSequenceLength() {
        return maxPositions - positionOffset;
    }

    /** 1/sqrt(head size): the pre-norm model's (q/s)(k/s)ᵀ with s = head_size^¼ equals q·kᵀ scaled by it. */
    public float attentionScale() {
        return (float) (1.0 / Math.sqrt(headSize()));
    }

    /** Mask value of HuggingFace's BERT/RoBERTa (torch.finfo(float32).min). */
    public static final float HF_MASK_VALUE = -Float.MAX_VALUE;
    /** Mask value of the paper's pre-norm encoder: scores get -1000·(1 - mask). */
    public static final float PRENORM_MASK_VALUE = -1000f;

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Reads a HuggingFace config.json (BERT, RoBERTa and relatives: post-norm, GELU). */
    public static EncoderConfig fromHfConfigJson(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new FormatException(file + ": no such file", e);
        } catch (IOException e) {
            throw new FormatException(file + ": cannot read: " + e.getMessage(), e);
        }
        return fromHfConfigJson(new String(bytes, java.nio.charset.StandardCharsets.UTF_8), file.toString());
    }

    /** A HuggingFace config.json's text; {@code source} names it in messages. */
    public static EncoderConfig fromHfConfigJson(String json, String source) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (IOException e) {
            throw new FormatException(source + ": not valid JSON: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) throw new FormatException(source + ": not a JSON object");
        String type = root.path("model_type").asText("bert").toLowerCase(Locale.ROOT);
        String act = root.path("hidden_act").asText("gelu");
        if (!act.equals("gelu"))
            throw new FormatException(source + ": hidden_act '" + act + "' is not supported (only exact 'gelu')");
        String posType = root.path("position_embedding_type").asText("absolute");
        if (!posType.equals("absolute"))
            throw new FormatException(source + ": position_embedding_type '" + posType + "' is not supported (only 'absolute')");
        boolean robertaLike = type.contains("roberta") || type.equals("camembert");
        int pad = opt(source, root, "pad_token_id", robertaLike ? 1 : 0);
        try {
            return new EncoderConfig(Norm.POST, req(source, root, "vocab_size"), req(source, root, "hidden_size"),
                    req(source, root, "num_hidden_layers"), req(source, root, "num_attention_heads"),
                    opt(source, root, "max_position_embeddings", 512), opt(source, root, "type_vocab_size", 2), pad,
                    robertaLike ? pad + 1 : 0, (float) optDouble(source, root, "layer_norm_eps", 1e-12), HF_MASK_VALUE, type);
        } catch (ShapeException e) {
            throw new FormatException(source + ": " + e.getMessage());
        }
    }

    /** An optional integer: the default when absent, an error when present with another type. */
    private static int opt(String file, JsonNode root, String name, int fallback) {
        JsonNode n = root.get(name);
        if (n == null || n.isNull()) return fallback;
        if (!n.isIntegralNumber() || !n.canConvertToInt()) throw new FormatException(file + ": '" + name + "' must be an integer, got " + n);
        return n.asInt();
    }

    private static double optDouble(String file, JsonNode root, String name, double fallback) {
        JsonNode n = root.get(name);
        if (n == null || n.isNull()) return fallback;
        if (!n.isNumber()) throw new FormatException(file + ": '" + name + "' must be a number, got " + n);
        return n.asDouble();
    }

    private static int req(String file, JsonNode root, String name) {
        JsonNode n = root.get(name);
        if (n == null || !n.isIntegralNumber() || !n.canConvertToInt())
            throw new FormatException(file + ": missing or non-integer '" + name + "'");
        return n.asInt();
    }

    /**
     * The configuration of the paper's pre-norm encoder from string metadata (a safetensors {@code __metadata__}
     * with the HF config names: vocab_size, hidden_size, num_hidden_layers, num_attention_heads,
     * max_position_embeddings, type_vocab_size, pad_token_id, layer_norm_eps).
     */
    public static EncoderConfig preNormFromMetadata(Map<String, String> meta, String source) {
        try {
            int pad = Integer.parseInt(meta.getOrDefault("pad_token_id", "1"));
            int hidden = Integer.parseInt(need(meta, "hidden_size", source));
            int heads = Integer.parseInt(need(meta, "num_attention_heads", source));
            String hs = meta.get("attention_head_size");
            if (hs != null && Integer.parseInt(hs) * heads != hidden)
                throw new FormatException(source + ": attention_head_size " + hs + " × " + heads + " heads != hidden_size " + hidden);
            return new EncoderConfig(Norm.PRE, Integer.parseInt(need(meta, "vocab_size", source)), hidden,
                    Integer.parseInt(need(meta, "num_hidden_layers", source)), heads,
                    Integer.parseInt(need(meta, "max_position_embeddings", source)) + pad + 1,
                    Integer.parseInt(meta.getOrDefault("type_vocab_size", "1")), pad, pad + 1,
                    Float.parseFloat(meta.getOrDefault("layer_norm_eps", "1e-5")), PRENORM_MASK_VALUE, "lookupffn-prenorm");
        } catch (NumberFormatException e) {
            throw new FormatException(source + ": bad number in the encoder metadata: " + e.getMessage());
        } catch (ShapeException e) {
            throw new FormatException(source + ": " + e.getMessage());
        }
    }

    private static String need(Map<String, String> meta, String key, String source) {
        String v = meta.get(key);
        if (v == null) throw new FormatException(source + ": metadata has no '" + key + "'");
        return v;
    }

    public EncoderConfig withMaxPositions(int rows) {
        return new EncoderConfig(norm, vocabSize, hidden, layers, heads, rows, typeVocabSize, padTokenId, positionOffset,
                layerNormEps, maskValue, modelType);
    }
}
