package dev.lookupffn.tokenizer;

import dev.lookupffn.LookupFfnException.FormatException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * BPE: a word (for byte-level BPE already mapped to the byte alphabet) is split into chars, then the adjacent pair
 * with the lowest merge rank (leftmost on ties) is merged, one at a time, until no merge applies. Results are cached per word.
 */
final class BpeModel implements Model {
    private static final int CACHE_CAPACITY = 50_000;
    private static final int MAX_CACHED_WORD = 256;

    private final Map<String, Integer> vocab;
    private final String[] idToToken;
    /** (leftId << 32 | rightId) -> (rank << 32 | mergedId). */
    private final Map<Long, Long> merges;
    private final String unkToken;
    private final int unkId;
    private final boolean fuseUnk;
    private final boolean ignoreMerges;
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    BpeModel(Map<String, Integer> vocab, List<String[]> mergePairs, String unkToken, boolean fuseUnk,
             boolean ignoreMerges, String source) {
        this.vocab = vocab;
        int max = -1;
        for (int id : vocab.values()) max = Math.max(max, id);
        idToToken = new String[max + 1];
        for (Map.Entry<String, Integer> e : vocab.entrySet()) idToToken[e.getValue()] = e.getKey();
        merges = new HashMap<>(mergePairs.size() * 2);
        for (int rank = 0; rank < mergePairs.size(); rank++) {
            String[] p = mergePairs.get(rank);
            Integer a = vocab.get(p[0]), b = vocab.get(p[1]), m = vocab.get(p[0] + p[1]);
            if (a == null || b == null)
                throw new FormatException(source + ": merge " + (rank + 1) + " '" + p[0] + " " + p[1]
                        + "' uses a token missing from the vocabulary: '" + (a == null ? p[0] : p[1]) + "'");
            if (m == null)
                throw new FormatException(source + ": merge " + (rank + 1) + " '" + p[0] + " " + p[1]
                        + "' produces '" + p[0] + p[1] + "', which is missing from the vocabulary");
            merges.put(((long) a << 32) | (b & 0xFFFFFFFFL), ((long) rank << 32) | (m & 0xFFFFFFFFL));
        }
        this.unkToken = unkToken;
        Integer u = unkToken == null ? null : vocab.get(unkToken);
        if (unkToken != null && u == null)
            throw new FormatException(source + ": BPE unk_token '" + unkToken + "' is not in the vocabulary");
        this.unkId = u == null ? -1 : u;
        this.fuseUnk = fuseUnk;
        this.ignoreMerges = ignoreMerges;
    }

    @Override
    public Map<String, Integer> vocab() {
        return vocab;
    }

    @Override
    public String unkToken() {
        return unkToken;
    }

    @Override
    public void tokenize(String word, List<String> tokens, IntList ids) {
        if (word.isEmpty()) return;
        int[] r = cache.get(word);
        if (r == null) {
            r = bpe(word);
            if (word.length() <= MAX_CACHED_WORD && cache.size() < CACHE_CAPACITY) cache.put(word, r);
        }
        for (int id : r) {
            ids.add(id);
            tokens.add(idToToken[id]);
        }
    }

    private int[] bpe(String word) {
        if (ignoreMerges) {
            Integer whole = vocab.get(word);
            if (whole != null) return new int[] {whole};
        }
        // initial symbols: one per code point; unknown ones become unk (fused if fuse_unk) or are dropped
        int n = word.length();
        int[] sym = new int[n];
        int count = 0;
        boolean lastUnk = false;
        for (int i = 0; i < n; ) {
            int c = word.codePointAt(i);
            int len = Character.charCount(c);
            Integer id = vocab.get(word.substring(i, i + len));
            i += len;
            if (id != null) {
                sym[count++] = id;
                lastUnk = false;
            } else if (unkId >= 0) {
                if (!(fuseUnk && lastUnk)) sym[count++] = unkId;
                lastUnk = true;
            }
        }
        // repeatedly merge the lowest-ranked adjacent pair (leftmost on ties)
        while (count > 1) {
            long best = Long.MAX_VALUE;
            int bestPos = -1;
            for (int i = 0; i + 1 < count; i++) {
                Long m = merges.get(((long) sym[i] << 32) | (sym[i + 1] & 0xFFFFFFFFL));
                if (m != null && m < best) {
                    best = m;
                    bestPos = i;
                }
            }
            if (bestPos < 0) break;
            sym[bestPos] = (int) best;
            System.arraycopy(sym, bestPos + 2, sym, bestPos + 1, count - bestPos - 2);
            count--;
        }
        return java.util.Arrays.copyOf(sym, count);
    }
}
