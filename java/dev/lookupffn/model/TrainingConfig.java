package dev.lookupffn.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lookupffn.LookupFfnException.FormatException;
import dev.lookupffn.LookupFfnException.ShapeException;
import dev.lookupffn.tensor.Tensor;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The configuration of a model trained with the authors' LookupFFN code, under the keys their training code uses:
 * {@code vocab_size, hidden_size, num_hidden_layers, num_attention_heads, attention_head_size,
 * max_position_embeddings, type_vocab_size, pad_token_id, layer_norm_eps, ffn_num_table, ffn_table_size,
 * block_size, projection_type} ({@code bh4} or {@code dense}; older files say {@code hash_linear_type}). τ is
 * log2(ffn_table_size), the BH4 decay is fixed at 0.7 and the position table has max_position_embeddings + 2 rows.
 *
 * <p>Read from a {@code config.json} (their HF export's), from their Python training config file (only lines
 * {@code model.<key> = <literal>} are read, as literals — nothing is executed) or from a safetensors file's
 * metadata written by {@code convert}. Missing keys are reported all at once; nothing is guessed.
 *
 * @param source names where the values come from, for messages
 * @param values key → Long, Double, String, Boolean or null (None); a value that is not a literal is a {@link Unparsed}
 */
public record TrainingConfig(String source, Map<String, Object> values) {
    /** Keys every pre-norm encoder needs. */
    public static final List<String> ENCODER_KEYS = List.of("vocab_size", "hidden_size", "num_hidden_layers",
            "num_attention_heads", "max_position_embeddings", "type_vocab_size", "pad_token_id", "layer_norm_eps");
    /** Further keys a LookupFFN encoder needs ({@code block_size} only for BH4). */
    public static final List<String> LOOKUP_KEYS = List.of("ffn_num_table", "ffn_table_size", "projection_type");
    /** Keys this class writes into metadata (and reads back). */
    private static final List<String> ALL_KEYS = List.of("vocab_size", "hidden_size", "num_hidden_layers",
            "num_attention_heads", "attention_head_size", "max_position_embeddings", "type_vocab_size", "pad_token_id",
            "layer_norm_eps", "ffn_num_table", "ffn_table_size", "block_size", "projection_type");

    /** A right-hand side that is not a literal (e.g. a function call): kept only to say so in messages. */
    public record Unparsed(String text) {}

    public TrainingConfig {
        values = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(values));
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern MODEL_LINE = Pattern.compile("^\\s*model\\.([A-Za-z_][A-Za-z0-9_]*)\\s*=\\s*(.*?)\\s*$");
    private static final Pattern INT = Pattern.compile("[-+]?[0-9](_?[0-9])*");
    private static final Pattern FLOAT = Pattern.compile("[-+]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?|[-+]?(inf|nan)");

    // ------------------------------------------------------------------------------------------------ reading

    /** A config.json (a JSON object) or the authors' Python training config file, told apart by content. */
    public static TrainingConfig read(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new FormatException(file + ": no such file", e);
        } catch (IOException e) {
            throw new FormatException(file + ": cannot read: " + e.getMessage(), e);
        }
        return text.stripLeading().startsWith("{") ? fromJson(text, file.toString()) : fromPython(text, file.toString());
    }

    /** The keys of a JSON object (numbers, strings, booleans, null). */
    public static TrainingConfig fromJson(String text, String source) {
        JsonNode root;
        try {
            root = JSON.readTree(text);
        } catch (IOException e) {
            throw new FormatException(source + ": not valid JSON: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) throw new FormatException(source + ": not a JSON object");
        Map<String, Object> values = new LinkedHashMap<>();
        for (var f : root.properties()) {
            JsonNode n = f.getValue();
            Object v = n.isIntegralNumber() && n.canConvertToLong() ? (Object) n.asLong() : n.isNumber() ? (Object) n.asDouble()
                    : n.isTextual() ? n.asText() : n.isBoolean() ? (Object) n.asBoolean() : n.isNull() ? null : new Unparsed(n.toString());
            values.put(f.getKey(), v);
        }
        return new TrainingConfig(source, values);
    }

    /** The {@code model.<key> = <literal>} lines of the authors' Python config file; every other line is ignored. */
    public static TrainingConfig fromPython(String text, String source) {
        Map<String, Object> values = new LinkedHashMap<>();
        for (String line : text.split("\\R")) {
            Matcher m = MODEL_LINE.matcher(line);
            if (!m.matches()) continue;
            values.put(m.group(1), literal(stripComment(m.group(2))));
        }
        return new TrainingConfig(source, values);
    }

    /** The values stored in a safetensors file's metadata by {@link #toMetadata()}. */
    public static TrainingConfig fromMetadata(Map<String, String> meta, String source) {
        Map<String, Object> values = new LinkedHashMap<>();
        for (String k : ALL_KEYS) if (meta.containsKey(k)) values.put(k, literal(meta.get(k)));
        if (meta.containsKey("hash_linear_type")) values.put("hash_linear_type", meta.get("hash_linear_type"));
        if (values.get("projection_type") instanceof Unparsed u) values.put("projection_type", u.text());
        return new TrainingConfig(source, values);
    }

    /** True when the metadata carries this class's configuration (a file written by convert). */
    public static boolean inMetadata(Map<String, String> meta) {
        return meta.containsKey("hidden_size") && meta.containsKey("ffn_num_table");
    }

    private static String stripComment(String s) {
        char quote = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (quote != 0) {
                if (c == '\\') i++;
                else if (c == quote) quote = 0;
            } else if (c == '\'' || c == '"') {
                quote = c;
            } else if (c == '#') {
                return s.substring(0, i).strip();
            }
        }
        return s.strip();
    }

    private static Object literal(String s) {
        switch (s) {
            case "True": return Boolean.TRUE;
            case "False": return Boolean.FALSE;
            case "None": return null;
            default: break;
        }
        if (s.length() >= 2 && (s.charAt(0) == '\'' || s.charAt(0) == '"') && s.charAt(s.length() - 1) == s.charAt(0)) {
            String body = s.substring(1, s.length() - 1);
            if (body.indexOf(s.charAt(0)) < 0 && body.indexOf('\\') < 0) return body;
        }
        if (INT.matcher(s).matches()) {
            try {
                return Long.parseLong(s.replace("_", ""));
            } catch (NumberFormatException e) {
                return new Unparsed(s);
            }
        }
        if (FLOAT.matcher(s).matches()) return Double.parseDouble(s);
        return new Unparsed(s);
    }

    // ------------------------------------------------------------------------------------------------ values

    public boolean has(String key) {
        return values.containsKey(key);
    }

    /** projection_type, or the older hash_linear_type, lower-cased; null when neither is there. */
    public String projectionType() {
        Object v = values.containsKey("projection_type") ? values.get("projection_type") : values.get("hash_linear_type");
        return v instanceof String s ? s.toLowerCase(Locale.ROOT) : null;
    }

    private int integer(String key) {
        Object v = values.get(key);
        if (v instanceof Long l && l >= Integer.MIN_VALUE && l <= Integer.MAX_VALUE) return l.intValue();
        if (v instanceof Double d && d == Math.rint(d) && Math.abs(d) < 1e9) return d.intValue();
        throw new FormatException(source + ": '" + key + "' should be an integer, got " + show(v));
    }

    private double number(String key) {
        Object v = values.get(key);
        if (v instanceof Long l) return l;
        if (v instanceof Double d) return d;
        throw new FormatException(source + ": '" + key + "' should be a number, got " + show(v));
    }

    private static String show(Object v) {
        return v instanceof Unparsed u ? "'" + u.text() + "' (not a literal)" : v instanceof String s ? "'" + s + "'" : String.valueOf(v);
    }

    /**
     * Throws a FormatException listing every key a model needs that is missing ({@code lookup}: the model has
     * LookupFFN layers).
     */
    public void requireKeys(boolean lookup) {
        List<String> missing = new ArrayList<>();
        for (String k : ENCODER_KEYS) if (!has(k)) missing.add(k);
        if (lookup) {
            for (String k : LOOKUP_KEYS)
                if (!has(k) && !(k.equals("projection_type") && has("hash_linear_type"))) missing.add(k);
            if ("bh4".equals(projectionType()) && !has("block_size")) missing.add("block_size");
        }
        if (!missing.isEmpty())
            throw new FormatException(source + ": the model configuration lacks " + String.join(", ", missing)
                    + (lookup ? " (a LookupFFN checkpoint needs " + String.join(", ", ENCODER_KEYS) + ", "
                    + String.join(", ", LOOKUP_KEYS) + " and, for bh4, block_size)" : "")
                    + "; give them with --config (the training config file or a config.json)");
    }

    /** The encoder configuration (pre-norm, the paper's RoBERTa); throws naming missing or inconsistent keys. */
    public EncoderConfig encoderConfig(boolean lookup) {
        requireKeys(lookup);
        int hidden = integer("hidden_size"), heads = integer("num_attention_heads"), pad = integer("pad_token_id");
        if (has("attention_head_size")) {
            int hs = integer("attention_head_size");
            if ((long) hs * heads != hidden)
                throw new FormatException(source + ": attention_head_size " + hs + " × num_attention_heads " + heads + " = "
                        + (long) hs * heads + " differs from hidden_size " + hidden
                        + "; this library's encoder needs heads × head size = hidden size");
        }
        if (lookup) {
            String p = projectionType();
            if (!"bh4".equals(p) && !"dense".equals(p))
                throw new FormatException(source + ": projection_type should be 'bh4' or 'dense', got " + show(values.containsKey("projection_type")
                        ? values.get("projection_type") : values.get("hash_linear_type")));
            int rows = integer("ffn_table_size");
            if (rows < 2 || Integer.bitCount(rows) != 1 || rows > 1 << 16)
                throw new FormatException(source + ": ffn_table_size " + rows + " should be a power of two in [2, 65536]");
            if (integer("ffn_num_table") < 1) throw new FormatException(source + ": ffn_num_table should be positive");
            if (p.equals("bh4") && integer("block_size") < 1) throw new FormatException(source + ": block_size should be positive");
        }
        try {
            return new EncoderConfig(EncoderConfig.Norm.PRE, integer("vocab_size"), hidden, integer("num_hidden_layers"), heads,
                    Math.addExact(integer("max_position_embeddings"), 2), integer("type_vocab_size"), pad, pad + 1,
                    (float) number("layer_norm_eps"), EncoderConfig.PRENORM_MASK_VALUE, "lookupffn-prenorm");
        } catch (ShapeException | ArithmeticException e) {
            throw new FormatException(source + ": " + e.getMessage());
        }
    }

    /**
     * Checks every shape the configuration determines and the encoder itself does not: the position table and each
     * LookupFFN layer's tables, projection and biases. {@code fileName} turns an encoder name into the file's name
     * for messages.
     */
    public void checkShapes(EncoderConfig c, Weights w, java.util.function.UnaryOperator<String> fileName) {
        int h = c.hidden();
        expect(w, fileName, "embeddings.position_embeddings.weight", "max_position_embeddings + 2, hidden_size",
                integer("max_position_embeddings") + 2L, h);
        for (int i = 0; i < c.layers(); i++) {
            String p = "encoder.layer." + i + ".FFN.";
            if (!w.has(p + "tables")) continue;
            int tables = integer("ffn_num_table"), rows = integer("ffn_table_size");
            long bits = (long) tables * Integer.numberOfTrailingZeros(rows);
            expect(w, fileName, p + "tables", "ffn_num_table, ffn_table_size, hidden_size", tables, rows, h);
            expect(w, fileName, p + "bias", "hidden_size", h);
            expect(w, fileName, p + "hash.projection.bias", "ffn_num_table · log2(ffn_table_size)", bits);
            if ("bh4".equals(projectionType())) {
                long padded = Long.highestOneBit(h) == h ? h : Long.highestOneBit(h) << 1;
                int b = integer("block_size");
                if (padded % b != 0)
                    throw new FormatException(source + ": block_size " + b + " does not divide the padded width " + padded);
                long repeats = Math.max(1, (bits + padded - 1) / padded);
                expect(w, fileName, p + "hash.projection.weight",
                        "repeats, 4, padded hidden / block_size, block_size, block_size", repeats, 4, padded / b, b, b);
            } else {
                expect(w, fileName, p + "hash.projection.weight", "ffn_num_table · log2(ffn_table_size), hidden_size", bits, h);
            }
        }
    }

    private void expect(Weights w, java.util.function.UnaryOperator<String> fileName, String name, String meaning, long... shape) {
        Tensor t = w.get(name);
        if (t == null) throw new FormatException(w.source() + ": missing tensor '" + fileName.apply(name) + "'");
        if (!Arrays.equals(t.shape(), shape))
            throw new FormatException(w.source() + ": tensor '" + fileName.apply(name) + "' is " + Arrays.toString(t.shape())
                    + " but the configuration (" + source + ") says " + Arrays.toString(shape) + " (" + meaning + ")");
    }

    /** The values as safetensors metadata strings (read back by {@link #fromMetadata}). */
    public Map<String, String> toMetadata() {
        Map<String, String> m = new LinkedHashMap<>();
        for (String k : ALL_KEYS) {
            Object v = k.equals("projection_type") ? projectionType() : values.get(k);
            if (v != null && !(v instanceof Unparsed) && (values.containsKey(k) || k.equals("projection_type")))
                m.put(k, String.valueOf(v));
        }
        return m;
    }
}
