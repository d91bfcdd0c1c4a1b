package dev.lookupffn.tokenizer;

import java.util.List;

/**
 * A HuggingFace-compatible tokenizer: text to token ids and back. Implementations are immutable and thread-safe.
 * Build one with {@link Tokenizers}.
 */
public interface Tokenizer {
    /**
     * Encodes one text. With {@code addSpecialTokens} the post-processor's template is applied (e.g. {@code [CLS] A
     * [SEP]}). Truncation to {@link #maxLength()} (special tokens counted) is applied when it is positive; no
     * padding is added.
     */
    Encoding encode(String text, boolean addSpecialTokens);

    /** {@code encode(text, true)}. */
    default Encoding encode(String text) {
        return encode(text, true);
    }

    /**
     * Encodes several texts, truncates each to {@link #maxLength()} (when positive) and pads all to the longest one
     * with {@link #padId()} (attention mask 0 on padding).
     */
    List<Encoding> encodeBatch(List<String> texts, boolean addSpecialTokens);

    /** {@code encodeBatch(texts, true)}. */
    default List<Encoding> encodeBatch(List<String> texts) {
        return encodeBatch(texts, true);
    }

    /** Turns ids back into text. Unknown ids are skipped; with {@code skipSpecialTokens} special tokens are too. */
    String decode(int[] ids, boolean skipSpecialTokens);

    /** {@code decode(ids, true)}. */
    default String decode(int[] ids) {
        return decode(ids, true);
    }

    /** One more than the largest id (model vocabulary plus added tokens). */
    int vocabSize();

    /** Id of a token string (model vocabulary or added token), or -1. */
    int tokenToId(String token);

    /** Token string of an id, or null when the id is unknown. */
    String idToToken(int id);

    /** Padding id used by {@link #encodeBatch}: the tokenizer.json padding's pad_id, else [PAD]/&lt;pad&gt;, else 0. */
    int padId();

    /** Token string for {@link #padId()}. */
    String padToken();

    /** Id of the unknown token, or -1 when the model has none. */
    int unkId();

    /** Whether the id is a special added token (e.g. [CLS], &lt;|endoftext|&gt;). */
    boolean isSpecial(int id);

    /** Number of special tokens the post-processor adds to a single sequence. */
    int numSpecialTokens();

    /** Truncation length including special tokens; 0 means no truncation. */
    int maxLength();

    /** The same tokenizer truncating to {@code maxLength} tokens (special tokens counted); 0 disables truncation. */
    Tokenizer withMaxLength(int maxLength);
}
