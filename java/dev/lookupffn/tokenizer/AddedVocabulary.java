package dev.lookupffn.tokenizer;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The added tokens of a tokenizer.json: found in the text before the model runs (leftmost-longest, like HF's
 * Aho-Corasick), the non-normalized ones on the raw text and the normalized ones after normalization.
 */
final class AddedVocabulary {
    record AddedToken(int id, String content, boolean singleWord, boolean lstrip, boolean rstrip, boolean normalized,
                      boolean special) {}

    /** A piece of text: either an added token ({@code id >= 0}) or text for the model ({@code id == -1}). */
    record Piece(String text, int id) {}

    final List<AddedToken> tokens;
    private final Map<Character, List<AddedToken>> raw = new HashMap<>();
    private final Map<Character, List<AddedToken>> normalizedByFirst = new HashMap<>();

    AddedVocabulary(List<AddedToken> tokens) {
        this.tokens = List.copyOf(tokens);
        for (AddedToken t : tokens) {
            if (t.content().isEmpty()) continue;
            (t.normalized() ? normalizedByFirst : raw).computeIfAbsent(t.content().charAt(0), k -> new ArrayList<>()).add(t);
        }
        Comparator<AddedToken> longestFirst = Comparator.comparingInt((AddedToken t) -> -t.content().length());
        raw.values().forEach(l -> l.sort(longestFirst));
        normalizedByFirst.values().forEach(l -> l.sort(longestFirst));
    }

    boolean hasRaw() {
        return !raw.isEmpty();
    }

    boolean hasNormalized() {
        return !normalizedByFirst.isEmpty();
    }

    /** Splits on the non-normalized added tokens. */
    void splitRaw(String s, List<Piece> out) {
        split(s, raw, out);
    }

    /** Splits on the normalized added tokens. */
    void splitNormalized(String s, List<Piece> out) {
        split(s, normalizedByFirst, out);
    }

    private static void split(String s, Map<Character, List<AddedToken>> byFirst, List<Piece> out) {
        if (byFirst.isEmpty()) {
            if (!s.isEmpty()) out.add(new Piece(s, -1));
            return;
        }
        int len = s.length();
        int startOffset = 0;
        int i = 0;
        while (i < len) {
            List<AddedToken> cands = byFirst.get(s.charAt(i));
            AddedToken match = null;
            if (cands != null) {
                for (AddedToken t : cands) {
                    if (s.startsWith(t.content(), i)) {
                        match = t;
                        break;
                    }
                }
            }
            if (match == null) {
                i++;
                continue;
            }
            int start = i, stop = i + match.content().length();
            if (match.singleWord()) {
                boolean startSpace = start == 0 || !Chars.isWordChar(s.codePointBefore(start));
                boolean stopSpace = stop == len || !Chars.isWordChar(s.codePointAt(stop));
                if (!startSpace || !stopSpace) {
                    i = stop;
                    continue;
                }
            }
            if (match.lstrip()) {
                int ns = start;
                while (ns > 0 && Chars.isWhitespace(s.codePointBefore(ns))) ns -= Character.charCount(s.codePointBefore(ns));
                start = Math.max(ns, startOffset);
            }
            if (match.rstrip()) {
                while (stop < len && Chars.isWhitespace(s.codePointAt(stop))) stop += Character.charCount(s.codePointAt(stop));
            }
            if (startOffset < start) out.add(new Piece(s.substring(startOffset, start), -1));
            out.add(new Piece(s.substring(start, stop), match.id()));
            startOffset = stop;
            i = stop;
        }
        if (startOffset < len) out.add(new Piece(s.substring(startOffset), -1));
    }
}
