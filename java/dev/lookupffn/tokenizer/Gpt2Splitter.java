package dev.lookupffn.tokenizer;

import java.util.function.Consumer;

/**
 * A hand-written matcher equivalent to GPT-2's pre-tokenization regex
 * {@code 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+} (Unicode white space),
 * without the cost of a regex engine.
 */
final class Gpt2Splitter {
    private Gpt2Splitter() {}

    private static final int WS = 0, LETTER = 1, NUMBER = 2, OTHER = 3;

    private static int kind(int c) {
        if (c < 0x80) {
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return LETTER;
            if (c >= '0' && c <= '9') return NUMBER;
            if (c == ' ' || (c >= 9 && c <= 13)) return WS;
            return OTHER;
        }
        if (Chars.isWhitespace(c)) return WS;
        return switch (Character.getType(c)) {
            case Character.UPPERCASE_LETTER, Character.LOWERCASE_LETTER, Character.TITLECASE_LETTER,
                 Character.MODIFIER_LETTER, Character.OTHER_LETTER -> LETTER;
            case Character.DECIMAL_DIGIT_NUMBER, Character.LETTER_NUMBER, Character.OTHER_NUMBER -> NUMBER;
            default -> OTHER;
        };
    }

    static void split(String s, Consumer<String> out) {
        int len = s.length();
        int i = 0;
        while (i < len) {
            int end = matchAt(s, i, len);
            out.accept(s.substring(i, end));
            i = end;
        }
    }

    /** End of the regex match starting at {@code i} (there always is one of length at least 1). */
    private static int matchAt(String s, int i, int len) {
        char c0 = s.charAt(i);
        if (c0 == '\'' && i + 1 < len) {
            char c1 = s.charAt(i + 1);
            if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return i + 2;
            if (i + 2 < len) {
                char c2 = s.charAt(i + 2);
                if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return i + 3;
            }
        }
        int start = i;
        if (c0 == ' ' && i + 1 < len) {
            int k = kind(s.codePointAt(i + 1));
            if (k != WS) return run(s, i + 1, len, k);
        }
        int c = s.codePointAt(i);
        int k = kind(c);
        if (k != WS) return run(s, i, len, k);
        // whitespace: \s+(?!\S) | \s+
        int j = i;
        int lastStart = i;
        while (j < len) {
            int d = s.codePointAt(j);
            if (kind(d) != WS) break;
            lastStart = j;
            j += Character.charCount(d);
        }
        if (j == len) return j;
        return lastStart > start ? lastStart : j;
    }

    /** End of the maximal run of kind {@code k} starting at {@code i}. */
    private static int run(String s, int i, int len, int k) {
        while (i < len) {
            int c = s.codePointAt(i);
            if (kind(c) != k) break;
            i += Character.charCount(c);
        }
        return i;
    }
}
