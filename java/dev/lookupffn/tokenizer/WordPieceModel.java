package dev.lookupffn.tokenizer;

import java.util.List;
import java.util.Map;

/** WordPiece: greedy longest-match-first with a continuing-subword prefix; too long or unmatched words become unk. */
final class WordPieceModel implements Model {
    private final Map<String, Integer> vocab;
    private final String unkToken;
    private final int unkId;
    private final String prefix;
    private final int maxInputCharsPerWord;
    /** Longest vocabulary entry in UTF-16 units (without prefix), bounding the match search. */
    private final int maxPieceChars;

    WordPieceModel(Map<String, Integer> vocab, String unkToken, String prefix, int maxInputCharsPerWord, String source) {
        this.vocab = vocab;
        this.unkToken = unkToken;
        Integer u = vocab.get(unkToken);
        if (u == null)
            throw new dev.lookupffn.LookupFfnException.FormatException(source + ": WordPiece unk_token '" + unkToken
                    + "' is not in model.vocab");
        this.unkId = u;
        this.prefix = prefix;
        this.maxInputCharsPerWord = maxInputCharsPerWord;
        int m = 1;
        for (String k : vocab.keySet()) {
            int l = k.startsWith(prefix) ? k.length() - prefix.length() : k.length();
            m = Math.max(m, l);
        }
        this.maxPieceChars = m;
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
        int len = word.length();
        if (len > maxInputCharsPerWord && word.codePointCount(0, len) > maxInputCharsPerWord) {
            tokens.add(unkToken);
            ids.add(unkId);
            return;
        }
        int mark = tokens.size(), idMark = ids.size();
        int start = 0;
        StringBuilder sb = new StringBuilder(prefix.length() + Math.min(len, maxPieceChars));
        while (start < len) {
            int end = Math.min(len, start + maxPieceChars);
            if (end < len && Character.isLowSurrogate(word.charAt(end))) end--; // never split a surrogate pair
            String found = null;
            Integer foundId = null;
            while (end > start) {
                String sub;
                if (start > 0) {
                    sb.setLength(0);
                    sub = sb.append(prefix).append(word, start, end).toString();
                } else {
                    sub = word.substring(start, end);
                }
                Integer id = vocab.get(sub);
                if (id != null) {
                    found = sub;
                    foundId = id;
                    break;
                }
                end--;
                if (end > start && Character.isLowSurrogate(word.charAt(end))) end--;
            }
            if (found == null) {
                while (tokens.size() > mark) tokens.remove(tokens.size() - 1);
                ids.truncate(idMark);
                tokens.add(unkToken);
                ids.add(unkId);
                return;
            }
            tokens.add(found);
            ids.add(foundId);
            start = end;
        }
    }
}
