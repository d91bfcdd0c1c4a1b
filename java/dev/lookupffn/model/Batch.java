package dev.lookupffn.model;

import dev.lookupffn.LookupFfnException.ShapeException;
import java.util.List;

/**
 * A batch of token sequences padded to one length: row-major [batchSize, seqLen] arrays of token ids, attention
 * mask (1 for tokens, 0 for padding) and token type ids.
 */
public record Batch(int batchSize, int seqLen, int[] inputIds, int[] attentionMask, int[] tokenTypeIds) {
    public Batch {
        if (batchSize < 1 || seqLen < 1)
            throw new ShapeException("a batch needs at least one sequence of at least one token, got " + batchSize
                    + " × " + seqLen);
        long n = (long) batchSize * seqLen;
        if (inputIds.length != n || attentionMask.length != n || tokenTypeIds.length != n)
            throw new ShapeException("batch arrays should hold " + batchSize + " × " + seqLen + " = " + n
                    + " values: input ids " + inputIds.length + ", attention mask " + attentionMask.length
                    + ", token types " + tokenTypeIds.length);
        for (int m : attentionMask)
            if (m != 0 && m != 1) throw new ShapeException("attention mask values must be 0 or 1, got " + m);
    }

    /**
     * Pads sequences of different lengths (right padding with {@code padId}, mask 0, type 0). {@code types} may be
     * null (all 0); each sequence must be non-empty.
     */
    public static Batch of(List<int[]> ids, List<int[]> types, int padId) {
        if (ids.isEmpty()) throw new ShapeException("a batch needs at least one sequence");
        int t = 0;
        for (int[] s : ids) {
            if (s.length == 0) throw new ShapeException("a sequence of the batch is empty");
            t = Math.max(t, s.length);
        }
        int b = ids.size();
        int[] in = new int[b * t], mask = new int[b * t], tt = new int[b * t];
        for (int i = 0; i < b; i++) {
            int[] s = ids.get(i);
            int[] ty = types == null ? null : types.get(i);
            if (ty != null && ty.length != s.length)
                throw new ShapeException("sequence " + i + ": " + s.length + " ids but " + ty.length + " token types");
            for (int j = 0; j < t; j++) {
                boolean real = j < s.length;
                in[i * t + j] = real ? s[j] : padId;
                mask[i * t + j] = real ? 1 : 0;
                tt[i * t + j] = real && ty != null ? ty[j] : 0;
            }
        }
        return new Batch(b, t, in, mask, tt);
    }

    /** One unpadded sequence (all mask 1, types 0). */
    public static Batch single(int... ids) {
        return of(List.of(ids), null, 0);
    }

    public int rows() {
        return batchSize * seqLen;
    }
}
