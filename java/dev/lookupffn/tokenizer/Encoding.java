package dev.lookupffn.tokenizer;

import java.util.Arrays;

/**
 * One encoded sequence: token ids, attention mask (1 for real tokens, 0 for padding), token type ids and the
 * token strings, all of the same length.
 */
public record Encoding(int[] ids, int[] attentionMask, int[] typeIds, String[] tokens) {
    public Encoding {
        if (attentionMask.length != ids.length || typeIds.length != ids.length || tokens.length != ids.length)
            throw new IllegalArgumentException("Encoding arrays differ in length: ids " + ids.length + ", attentionMask "
                    + attentionMask.length + ", typeIds " + typeIds.length + ", tokens " + tokens.length);
    }

    /** Number of positions, padding included. */
    public int length() {
        return ids.length;
    }

    /** Number of non-padding positions. */
    public int realLength() {
        int n = 0;
        for (int m : attentionMask) n += m;
        return n;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Encoding e && Arrays.equals(ids, e.ids) && Arrays.equals(attentionMask, e.attentionMask)
                && Arrays.equals(typeIds, e.typeIds) && Arrays.equals(tokens, e.tokens);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(ids) * 31 + Arrays.hashCode(attentionMask);
    }

    @Override
    public String toString() {
        return "Encoding" + Arrays.toString(ids);
    }
}
