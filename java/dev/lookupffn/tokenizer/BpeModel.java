package dev.lookupffn.tokenizer;

import dev.lookupffn.LookupFfnException.FormatException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * BPE: a word (for byte-level BPE already mapped to the byte alphabet) is split into chars, then the adjacent pair
 * with the lowest merge rank (leftmost on ties) is merged, one at a time, until no merge applies; O(n log n) in
 * the word's length. Results are cached per word (short words only).
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
        return mergeAll(sym, count);
    }

    /**
     * Repeatedly merges the lowest-ranked adjacent pair (leftmost on ties) until none applies, in O(n log n) as
     * HF tokenizers does: the symbols form a linked list, and a min-heap holds candidate pairs keyed by
     * (rank, position of the left symbol). A merge only changes the pairs on either side of it, so those two are
     * pushed; entries whose pair has changed since are recognised when popped and skipped.
     */
    private int[] mergeAll(int[] sym, int count) {
        if (count < 2) return java.util.Arrays.copyOf(sym, count);
        int[] prev = new int[count], next = new int[count];
        for (int i = 0; i < count; i++) {
            prev[i] = i - 1;
            next[i] = i + 1 < count ? i + 1 : -1;
        }
        LongHeap queue = new LongHeap(count);
        for (int i = 0; i + 1 < count; i++) push(queue, sym[i], sym[i + 1], i);
        int alive = count;
        while (!queue.isEmpty()) {
            long top = queue.pop();
            int pos = (int) top, rank = (int) (top >>> 32);
            int right = next[pos];
            if (sym[pos] < 0 || right < 0) continue; // the left symbol was merged away, or is now the last one
            Long m = merges.get(pairKey(sym[pos], sym[right]));
            if (m == null || (int) (m >>> 32) != rank) continue; // the pair at pos changed since this entry was pushed
            sym[pos] = (int) m.longValue();
            sym[right] = -1;
            int after = next[right];
            next[pos] = after;
            if (after >= 0) prev[after] = pos;
            alive--;
            if (prev[pos] >= 0) push(queue, sym[prev[pos]], sym[pos], prev[pos]);
            if (after >= 0) push(queue, sym[pos], sym[after], pos);
        }
        int[] out = new int[alive];
        for (int i = 0, k = 0; i >= 0; i = next[i]) out[k++] = sym[i]; // symbol 0 is never merged away
        return out;
    }

    private static long pairKey(int left, int right) {
        return ((long) left << 32) | (right & 0xFFFFFFFFL);
    }

    private void push(LongHeap queue, int left, int right, int pos) {
        Long m = merges.get(pairKey(left, right));
        if (m != null) queue.push((m >>> 32) << 32 | pos); // rank in the high half, position in the low half
    }

    /** A binary min-heap of longs. */
    private static final class LongHeap {
        private long[] a;
        private int n;

        LongHeap(int capacity) {
            a = new long[Math.max(4, capacity)];
        }

        boolean isEmpty() {
            return n == 0;
        }

        void push(long v) {
            if (n == a.length) a = java.util.Arrays.copyOf(a, n * 2);
            int i = n++;
            while (i > 0) {
                int parent = (i - 1) >>> 1;
                if (a[parent] <= v) break;
                a[i] = a[parent];
                i = parent;
            }
            a[i] = v;
        }

        long pop() {
            long top = a[0], last = a[--n];
            int i = 0;
            while (true) {
                int child = 2 * i + 1;
                if (child >= n) break;
                if (child + 1 < n && a[child + 1] < a[child]) child++;
                if (a[child] >= last) break;
                a[i] = a[child];
                i = child;
            }
            a[i] = last;
            return top;
        }
    }
}
