package dev.lookupffn.tokenizer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lookupffn.LookupFfnException.FormatException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Builds {@link Tokenizer}s from HuggingFace files.
 *
 * <p>Supported tokenizer.json parts: models WordPiece and BPE (byte-level or not; merges as "a b" strings or
 * [a, b] pairs; unk_token, fuse_unk, ignore_merges); normalizers BertNormalizer, Lowercase, StripAccents,
 * NFC/NFD/NFKC/NFKD, Sequence; pre-tokenizers BertPreTokenizer, ByteLevel, Whitespace, WhitespaceSplit, Split
 * (Isolated/Removed), Sequence; post-processors TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel,
 * Sequence; decoders WordPiece, ByteLevel, BPEDecoder; added tokens (single_word, lstrip, rstrip, normalized,
 * special); truncation (max_length, direction) and padding (pad id/token, direction, pad_to_multiple_of).
 * Anything else is rejected with a {@link FormatException} naming it.
 */
public final class Tokenizers {
    private Tokenizers() {}

    private static final ObjectMapper JSON = new ObjectMapper();
    /** Largest token id accepted (ids index arrays). */
    private static final int MAX_ID = 1 << 24;

    /** Reads a HuggingFace tokenizer.json. */
    public static Tokenizer fromTokenizerJson(Path path) {
        try (InputStream in = Files.newInputStream(path)) {
            return fromTokenizerJson(in, path.toString());
        } catch (NoSuchFileException e) {
            throw new FormatException(path + ": no such file", e);
        } catch (IOException e) {
            throw new FormatException(path + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** Reads a HuggingFace tokenizer.json from a stream (not closed); {@code sourceName} names it in errors. */
    public static Tokenizer fromTokenizerJson(InputStream in, String sourceName) {
        if (in == null) throw new FormatException(sourceName + ": no such file or resource");
        JsonNode root = readJson(in, sourceName);
        return new Parser(sourceName).parse(root);
    }

    /**
     * A GPT-2 style byte-level BPE tokenizer from the classic {@code vocab.json} (token to id) and
     * {@code merges.txt} (optional "#version" line, then one "a b" merge per line, highest priority first): ByteLevel
     * pre-tokenizer without prefix space, no normalizer, no special-token template, ByteLevel decoder.
     * {@code <|endoftext|>}, when in the vocabulary, is a special added token (found in the text as in HF's GPT-2).
     */
    public static Tokenizer fromBpeFiles(Path vocabJson, Path mergesTxt) {
        JsonNode vocabNode;
        try (InputStream in = Files.newInputStream(vocabJson)) {
            vocabNode = readJson(in, vocabJson.toString());
        } catch (NoSuchFileException e) {
            throw new FormatException(vocabJson + ": no such file", e);
        } catch (IOException e) {
            throw new FormatException(vocabJson + ": cannot read: " + e.getMessage(), e);
        }
        Map<String, Integer> vocab = new Parser(vocabJson.toString()).vocab(vocabNode, "the vocabulary");
        List<String[]> merges = new ArrayList<>();
        try (BufferedReader r = Files.newBufferedReader(mergesTxt, StandardCharsets.UTF_8)) {
            String line;
            int lineNo = 0;
            while ((line = r.readLine()) != null) {
                lineNo++;
                if (lineNo == 1 && line.startsWith("#version")) continue;
                if (line.isEmpty()) continue;
                String[] parts = line.split(" ", -1);
                if (parts.length != 2 || parts[0].isEmpty() || parts[1].isEmpty())
                    throw new FormatException(mergesTxt + ": line " + lineNo
                            + ": expected two tokens separated by one space, got '" + abbreviate(line) + "'");
                merges.add(parts);
            }
        } catch (NoSuchFileException e) {
            throw new FormatException(mergesTxt + ": no such file", e);
        } catch (IOException e) {
            throw new FormatException(mergesTxt + ": cannot read: " + e.getMessage(), e);
        }
        String source = vocabJson + " + " + mergesTxt;
        BpeModel model = new BpeModel(vocab, merges, null, false, false, source);
        List<AddedVocabulary.AddedToken> added = new ArrayList<>();
        Integer eot = vocab.get("<|endoftext|>");
        if (eot != null) added.add(new AddedVocabulary.AddedToken(eot, "<|endoftext|>", false, false, false, true, true));
        HfTokenizer.Parts parts = new HfTokenizer.Parts(new AddedVocabulary(added), null,
                new PreTokenizer.ByteLevelSplit(false, true), model, PostProcessor.NONE, Decoder.BYTE_LEVEL, null, false);
        return new HfTokenizer(parts, 0);
    }

    private static JsonNode readJson(InputStream in, String source) {
        try {
            JsonNode n = JSON.readTree(in);
            if (n == null || n.isMissingNode()) throw new FormatException(source + ": empty file, expected JSON");
            return n;
        } catch (JsonProcessingException e) {
            String m = e.getOriginalMessage();
            var loc = e.getLocation();
            throw new FormatException(source + ": not valid JSON" + (loc == null ? "" : " at line " + loc.getLineNr()
                    + ", column " + loc.getColumnNr()) + ": " + (m == null ? e.getClass().getSimpleName() : m.lines().findFirst().orElse(m)), e);
        } catch (IOException e) {
            throw new FormatException(source + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static String abbreviate(String s) {
        return s.length() <= 60 ? s : s.substring(0, 57) + "...";
    }

    /** tokenizer.json to pipeline parts; every error names the source and the JSON path. */
    private static final class Parser {
        private final String src;

        Parser(String src) {
            this.src = src;
        }

        private FormatException error(String what) {
            return new FormatException(src + ": " + what);
        }

        private static String kind(JsonNode n) {
            return n == null || n.isMissingNode() ? "nothing" : n.getNodeType().name().toLowerCase();
        }

        private JsonNode object(JsonNode n, String where) {
            if (n == null || !n.isObject()) throw error(where + " must be an object, got " + kind(n));
            return n;
        }

        private JsonNode field(JsonNode obj, String name, String where) {
            JsonNode v = obj.get(name);
            if (v == null) throw error(where + " has no \"" + name + "\"");
            return v;
        }

        private String text(JsonNode obj, String name, String where, String dflt) {
            JsonNode v = obj.get(name);
            if (v == null || v.isNull()) {
                if (dflt == null) throw error(where + "." + name + " is missing");
                return dflt;
            }
            if (!v.isTextual()) throw error(where + "." + name + " must be a string, got " + kind(v));
            return v.asText();
        }

        /** Optional string: null when absent or null. */
        private String optText(JsonNode obj, String name, String where) {
            JsonNode v = obj.get(name);
            if (v == null || v.isNull()) return null;
            if (!v.isTextual()) throw error(where + "." + name + " must be a string or null, got " + kind(v));
            return v.asText();
        }

        private boolean bool(JsonNode obj, String name, String where, boolean dflt) {
            JsonNode v = obj.get(name);
            if (v == null || v.isNull()) return dflt;
            if (!v.isBoolean()) throw error(where + "." + name + " must be true or false, got " + kind(v));
            return v.asBoolean();
        }

        private int integer(JsonNode obj, String name, String where, Integer dflt) {
            JsonNode v = obj.get(name);
            if (v == null || v.isNull()) {
                if (dflt == null) throw error(where + "." + name + " is missing");
                return dflt;
            }
            return integer(v, where + "." + name);
        }

        private int integer(JsonNode v, String where) {
            if (v == null || !v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < 0)
                throw error(where + " must be a non-negative integer, got " + (v != null && v.isNumber() ? v.asText() : kind(v)));
            return v.asInt();
        }

        private String type(JsonNode obj, String where) {
            return text(object(obj, where), "type", where, null);
        }

        Tokenizer parse(JsonNode root) {
            object(root, "the top level");
            JsonNode modelNode = root.get("model");
            if (modelNode == null || modelNode.isNull()) throw error("no \"model\" (not a tokenizer.json?)");
            Model model = model(object(modelNode, "model"));
            AddedVocabulary added = addedTokens(root.get("added_tokens"));
            Normalizer normalizer = normalizer(root.get("normalizer"), "normalizer");
            PreTokenizer pre = preTokenizer(root.get("pre_tokenizer"), "pre_tokenizer");
            Map<String, Integer> known = new HashMap<>(model.vocab());
            for (AddedVocabulary.AddedToken t : added.tokens) known.put(t.content(), t.id());
            PostProcessor post = postProcessor(root.get("post_processor"), "post_processor", known);
            Decoder decoder = decoder(root.get("decoder"), "decoder");
            int maxLength = 0;
            boolean left = false;
            JsonNode tr = root.get("truncation");
            if (tr != null && !tr.isNull()) {
                object(tr, "truncation");
                maxLength = integer(tr, "max_length", "truncation", null);
                String dir = text(tr, "direction", "truncation", "Right");
                if (!dir.equals("Right") && !dir.equals("Left"))
                    throw error("truncation.direction must be Right or Left, got '" + dir + "'");
                left = dir.equals("Left");
                if (maxLength > 0 && maxLength < post.numAdded())
                    throw error("truncation.max_length " + maxLength + " is smaller than the " + post.numAdded()
                            + " special tokens of the post-processor");
            }
            HfTokenizer.Padding padding = null;
            JsonNode pd = root.get("padding");
            if (pd != null && !pd.isNull()) {
                object(pd, "padding");
                String dir = text(pd, "direction", "padding", "Right");
                if (!dir.equals("Right") && !dir.equals("Left"))
                    throw error("padding.direction must be Right or Left, got '" + dir + "'");
                JsonNode mult = pd.get("pad_to_multiple_of");
                padding = new HfTokenizer.Padding(integer(pd, "pad_id", "padding", 0), integer(pd, "pad_type_id", "padding", 0),
                        text(pd, "pad_token", "padding", "[PAD]"), dir.equals("Left"),
                        mult == null || mult.isNull() ? 0 : integer(mult, "padding.pad_to_multiple_of"));
            }
            return new HfTokenizer(new HfTokenizer.Parts(added, normalizer, pre, model, post, decoder, padding, left), maxLength);
        }

        Map<String, Integer> vocab(JsonNode v, String where) {
            if (v == null || !v.isObject()) throw error(where + " must be an object of token to id, got " + kind(v));
            Map<String, Integer> vocab = new HashMap<>(v.size() * 2);
            for (Map.Entry<String, JsonNode> e : v.properties()) {
                int id = integer(e.getValue(), where + "[\"" + abbreviate(e.getKey()) + "\"]");
                if (id > MAX_ID) throw error(where + "[\"" + abbreviate(e.getKey()) + "\"]: id " + id + " is implausibly large");
                vocab.put(e.getKey(), id);
            }
            if (vocab.isEmpty()) throw error(where + " is empty");
            return vocab;
        }

        private Model model(JsonNode m) {
            String type = optText(m, "type", "model");
            if (type == null) {
                // files written by old versions: the type is implied by the fields
                if (m.has("merges")) type = "BPE";
                else if (m.has("max_input_chars_per_word")) type = "WordPiece";
                else throw error("model has no \"type\"");
            }
            switch (type) {
                case "WordPiece" -> {
                    Map<String, Integer> vocab = vocab(field(m, "vocab", "model"), "model.vocab");
                    return new WordPieceModel(vocab, text(m, "unk_token", "model", "[UNK]"),
                            text(m, "continuing_subword_prefix", "model", "##"),
                            integer(m, "max_input_chars_per_word", "model", 100), src);
                }
                case "BPE" -> {
                    Map<String, Integer> vocab = vocab(field(m, "vocab", "model"), "model.vocab");
                    if (bool(m, "byte_fallback", "model", false)) throw error("unsupported: BPE byte_fallback");
                    JsonNode dropout = m.get("dropout");
                    if (dropout != null && !dropout.isNull() && dropout.asDouble() > 0)
                        throw error("unsupported: BPE dropout");
                    if (!java.util.Objects.requireNonNullElse(optText(m, "continuing_subword_prefix", "model"), "").isEmpty())
                        throw error("unsupported: BPE continuing_subword_prefix");
                    if (!java.util.Objects.requireNonNullElse(optText(m, "end_of_word_suffix", "model"), "").isEmpty())
                        throw error("unsupported: BPE end_of_word_suffix");
                    JsonNode mergesNode = field(m, "merges", "model");
                    if (!mergesNode.isArray()) throw error("model.merges must be an array, got " + kind(mergesNode));
                    List<String[]> merges = new ArrayList<>(mergesNode.size());
                    for (int i = 0; i < mergesNode.size(); i++) {
                        JsonNode e = mergesNode.get(i);
                        if (e.isTextual()) {
                            String s = e.asText();
                            int sp = s.indexOf(' ');
                            if (sp <= 0 || sp == s.length() - 1)
                                throw error("model.merges[" + i + "] must be \"a b\", got '" + abbreviate(s) + "'");
                            merges.add(new String[] {s.substring(0, sp), s.substring(sp + 1)});
                        } else if (e.isArray() && e.size() == 2 && e.get(0).isTextual() && e.get(1).isTextual()) {
                            merges.add(new String[] {e.get(0).asText(), e.get(1).asText()});
                        } else {
                            throw error("model.merges[" + i + "] must be a string \"a b\" or a pair [a, b], got " + kind(e));
                        }
                    }
                    return new BpeModel(vocab, merges, optText(m, "unk_token", "model"), bool(m, "fuse_unk", "model", false),
                            bool(m, "ignore_merges", "model", false), src);
                }
                default -> throw error("unsupported model type '" + type + "' (supported: WordPiece, BPE)");
            }
        }

        private AddedVocabulary addedTokens(JsonNode a) {
            List<AddedVocabulary.AddedToken> list = new ArrayList<>();
            if (a == null || a.isNull()) return new AddedVocabulary(list);
            if (!a.isArray()) throw error("added_tokens must be an array, got " + kind(a));
            for (int i = 0; i < a.size(); i++) {
                String where = "added_tokens[" + i + "]";
                JsonNode t = object(a.get(i), where);
                boolean special = bool(t, "special", where, false);
                int id = integer(t, "id", where, null);
                if (id > MAX_ID) throw error(where + ".id " + id + " is implausibly large");
                list.add(new AddedVocabulary.AddedToken(id, text(t, "content", where, null),
                        bool(t, "single_word", where, false), bool(t, "lstrip", where, false), bool(t, "rstrip", where, false),
                        bool(t, "normalized", where, !special), special));
            }
            return new AddedVocabulary(list);
        }

        private Normalizer normalizer(JsonNode n, String where) {
            if (n == null || n.isNull()) return null;
            String type = type(n, where);
            return switch (type) {
                case "BertNormalizer" -> {
                    boolean lower = bool(n, "lowercase", where, true);
                    yield new Normalizer.Bert(bool(n, "clean_text", where, true), bool(n, "handle_chinese_chars", where, true),
                            bool(n, "strip_accents", where, lower), lower);
                }
                case "Lowercase" -> new Normalizer.Lowercase();
                case "StripAccents" -> new Normalizer.StripAccents();
                case "NFC" -> new Normalizer.Unicode(java.text.Normalizer.Form.NFC);
                case "NFD" -> new Normalizer.Unicode(java.text.Normalizer.Form.NFD);
                case "NFKC" -> new Normalizer.Unicode(java.text.Normalizer.Form.NFKC);
                case "NFKD" -> new Normalizer.Unicode(java.text.Normalizer.Form.NFKD);
                case "Sequence" -> {
                    JsonNode steps = field(n, "normalizers", where);
                    if (!steps.isArray()) throw error(where + ".normalizers must be an array, got " + kind(steps));
                    List<Normalizer> list = new ArrayList<>();
                    for (int i = 0; i < steps.size(); i++) {
                        Normalizer s = normalizer(steps.get(i), where + ".normalizers[" + i + "]");
                        if (s != null) list.add(s);
                    }
                    yield new Normalizer.Sequence(list);
                }
                default -> throw error("unsupported " + where + " type '" + type
                        + "' (supported: BertNormalizer, Lowercase, StripAccents, NFC, NFD, NFKC, NFKD, Sequence)");
            };
        }

        private PreTokenizer preTokenizer(JsonNode n, String where) {
            if (n == null || n.isNull()) return null;
            String type = type(n, where);
            return switch (type) {
                case "BertPreTokenizer" -> new PreTokenizer.Bert();
                case "ByteLevel" -> new PreTokenizer.ByteLevelSplit(bool(n, "add_prefix_space", where, true),
                        bool(n, "use_regex", where, true));
                case "Whitespace" -> new PreTokenizer.Whitespace();
                case "WhitespaceSplit" -> new PreTokenizer.WhitespaceSplit();
                case "Split" -> {
                    if (bool(n, "invert", where, false)) throw error("unsupported: " + where + " Split with invert");
                    String behavior = text(n, "behavior", where, null);
                    if (!behavior.equals("Isolated") && !behavior.equals("Removed"))
                        throw error("unsupported: " + where + " Split behavior '" + behavior + "' (supported: Isolated, Removed)");
                    JsonNode pat = object(field(n, "pattern", where), where + ".pattern");
                    Pattern p;
                    if (pat.has("String")) {
                        p = Pattern.compile(Pattern.quote(text(pat, "String", where + ".pattern", null)));
                    } else if (pat.has("Regex")) {
                        String re = text(pat, "Regex", where + ".pattern", null);
                        try {
                            p = Pattern.compile(re, Pattern.UNICODE_CHARACTER_CLASS);
                        } catch (PatternSyntaxException e) {
                            throw error(where + ".pattern.Regex is not a regex Java understands: " + e.getDescription());
                        }
                    } else {
                        throw error(where + ".pattern must have \"String\" or \"Regex\"");
                    }
                    yield new PreTokenizer.Split(p, behavior.equals("Removed"));
                }
                case "Sequence" -> {
                    JsonNode steps = field(n, "pretokenizers", where);
                    if (!steps.isArray()) throw error(where + ".pretokenizers must be an array, got " + kind(steps));
                    List<PreTokenizer> list = new ArrayList<>();
                    for (int i = 0; i < steps.size(); i++) {
                        PreTokenizer s = preTokenizer(steps.get(i), where + ".pretokenizers[" + i + "]");
                        if (s != null) list.add(s);
                    }
                    yield new PreTokenizer.Sequence(list);
                }
                default -> throw error("unsupported " + where + " type '" + type
                        + "' (supported: BertPreTokenizer, ByteLevel, Whitespace, WhitespaceSplit, Split, Sequence)");
            };
        }

        private PostProcessor postProcessor(JsonNode n, String where, Map<String, Integer> known) {
            if (n == null || n.isNull()) return PostProcessor.NONE;
            String type = type(n, where);
            return switch (type) {
                case "ByteLevel" -> PostProcessor.NONE;
                case "BertProcessing", "RobertaProcessing" -> {
                    PostProcessor.Item cls = tokenPair(field(n, "cls", where), where + ".cls");
                    PostProcessor.Item sep = tokenPair(field(n, "sep", where), where + ".sep");
                    yield new PostProcessor(List.of(cls, new PostProcessor.Item(null, null, 0), sep));
                }
                case "TemplateProcessing" -> template(n, where);
                case "Sequence" -> {
                    JsonNode steps = field(n, "processors", where);
                    if (!steps.isArray()) throw error(where + ".processors must be an array, got " + kind(steps));
                    PostProcessor result = PostProcessor.NONE;
                    for (int i = 0; i < steps.size(); i++) {
                        PostProcessor s = postProcessor(steps.get(i), where + ".processors[" + i + "]", known);
                        if (s == PostProcessor.NONE) continue;
                        if (result != PostProcessor.NONE)
                            throw error("unsupported: " + where + " with more than one special-token template");
                        result = s;
                    }
                    yield result;
                }
                default -> throw error("unsupported " + where + " type '" + type
                        + "' (supported: TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence)");
            };
        }

        private PostProcessor.Item tokenPair(JsonNode p, String where) {
            if (p == null || !p.isArray() || p.size() != 2 || !p.get(0).isTextual())
                throw error(where + " must be [token, id], got " + kind(p));
            return new PostProcessor.Item(new int[] {integer(p.get(1), where + "[1]")}, new String[] {p.get(0).asText()}, 0);
        }

        private PostProcessor template(JsonNode n, String where) {
            JsonNode single = field(n, "single", where);
            if (!single.isArray()) throw error(where + ".single must be an array, got " + kind(single));
            JsonNode specials = n.get("special_tokens");
            List<PostProcessor.Item> items = new ArrayList<>();
            int sequences = 0;
            for (int i = 0; i < single.size(); i++) {
                String w = where + ".single[" + i + "]";
                JsonNode item = object(single.get(i), w);
                if (item.has("Sequence")) {
                    JsonNode s = object(item.get("Sequence"), w + ".Sequence");
                    String id = text(s, "id", w + ".Sequence", "A");
                    if (!id.equals("A")) throw error(w + ": a single-sequence template can only use sequence A, got " + id);
                    items.add(new PostProcessor.Item(null, null, integer(s, "type_id", w + ".Sequence", 0)));
                    sequences++;
                } else if (item.has("SpecialToken")) {
                    JsonNode s = object(item.get("SpecialToken"), w + ".SpecialToken");
                    String id = text(s, "id", w + ".SpecialToken", null);
                    JsonNode spec = specials == null ? null : specials.get(id);
                    if (spec == null) throw error(w + ": special token '" + id + "' is not in " + where + ".special_tokens");
                    object(spec, where + ".special_tokens." + id);
                    JsonNode ids = field(spec, "ids", where + ".special_tokens." + id);
                    JsonNode toks = field(spec, "tokens", where + ".special_tokens." + id);
                    if (!ids.isArray() || !toks.isArray() || ids.size() != toks.size())
                        throw error(where + ".special_tokens." + id + ": ids and tokens must be arrays of the same length");
                    int[] idArr = new int[ids.size()];
                    String[] tokArr = new String[ids.size()];
                    for (int k = 0; k < idArr.length; k++) {
                        idArr[k] = integer(ids.get(k), where + ".special_tokens." + id + ".ids[" + k + "]");
                        if (!toks.get(k).isTextual()) throw error(where + ".special_tokens." + id + ".tokens[" + k + "] must be a string");
                        tokArr[k] = toks.get(k).asText();
                    }
                    items.add(new PostProcessor.Item(idArr, tokArr, integer(s, "type_id", w + ".SpecialToken", 0)));
                } else {
                    throw error(w + " must be {\"Sequence\": ...} or {\"SpecialToken\": ...}");
                }
            }
            if (sequences != 1) throw error(where + ".single must contain sequence A exactly once");
            return new PostProcessor(items);
        }

        private Decoder decoder(JsonNode n, String where) {
            if (n == null || n.isNull()) return Decoder.JOIN;
            String type = type(n, where);
            return switch (type) {
                case "WordPiece" -> new Decoder.WordPiece(text(n, "prefix", where, "##"), bool(n, "cleanup", where, true));
                case "ByteLevel" -> Decoder.BYTE_LEVEL;
                case "BPEDecoder" -> new Decoder.Bpe(text(n, "suffix", where, "</w>"));
                default -> throw error("unsupported " + where + " type '" + type + "' (supported: WordPiece, ByteLevel, BPEDecoder)");
            };
        }
    }
}
