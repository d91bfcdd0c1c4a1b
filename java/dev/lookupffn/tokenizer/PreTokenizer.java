package dev.lookupffn.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A tokenizer.json pre-tokenizer: splits normalized text into words for the model. */
interface PreTokenizer {
    /** Appends the words of {@code s} to {@code out}. */
    void split(String s, List<String> out);

    /** GPT-2's split pattern. */
    String GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

    /** BertPreTokenizer: split on whitespace (removed) and on each punctuation char (isolated). */
    record Bert() implements PreTokenizer {
        @Override
        public void split(String s, List<String> out) {
            int start = -1;
            for (int i = 0; i < s.length(); ) {
                int c = s.codePointAt(i);
                int n = Character.charCount(c);
                if (Chars.isWhitespace(c)) {
                    if (start >= 0) out.add(s.substring(start, i));
                    start = -1;
                } else if (Chars.isBertPunctuation(c)) {
                    if (start >= 0) out.add(s.substring(start, i));
                    start = -1;
                    out.add(s.substring(i, i + n));
                } else if (start < 0) {
                    start = i;
                }
                i += n;
            }
            if (start >= 0) out.add(s.substring(start));
        }
    }

    /** ByteLevel: optional prefix space, GPT-2 regex split (use_regex), then bytes mapped to chars. */
    record ByteLevelSplit(boolean addPrefixSpace, boolean useRegex) implements PreTokenizer {
        @Override
        public void split(String s, List<String> out) {
            if (addPrefixSpace && !s.startsWith(" ")) s = " " + s;
            if (!useRegex) {
                if (!s.isEmpty()) out.add(ByteLevel.encode(s));
                return;
            }
            Gpt2Splitter.split(s, piece -> out.add(ByteLevel.encode(piece)));
        }
    }

    /** Whitespace: {@code \w+|[^\w\s]+}. */
    record Whitespace() implements PreTokenizer {
        static final Pattern P = Pattern.compile("\\w+|[^\\w\\s]+", Pattern.UNICODE_CHARACTER_CLASS);

        @Override
        public void split(String s, List<String> out) {
            Matcher m = P.matcher(s);
            while (m.find()) out.add(m.group());
        }
    }

    /** WhitespaceSplit: split on whitespace. */
    record WhitespaceSplit() implements PreTokenizer {
        @Override
        public void split(String s, List<String> out) {
            int start = -1;
            for (int i = 0; i < s.length(); ) {
                int c = s.codePointAt(i);
                if (Chars.isWhitespace(c)) {
                    if (start >= 0) out.add(s.substring(start, i));
                    start = -1;
                } else if (start < 0) start = i;
                i += Character.charCount(c);
            }
            if (start >= 0) out.add(s.substring(start));
        }
    }

    /** Split with a regex or literal, behavior Isolated or Removed (invert false). */
    record Split(Pattern pattern, boolean removed) implements PreTokenizer {
        @Override
        public void split(String s, List<String> out) {
            Matcher m = pattern.matcher(s);
            int last = 0;
            while (m.find()) {
                if (m.end() == m.start()) continue;
                if (m.start() > last) out.add(s.substring(last, m.start()));
                if (!removed) out.add(m.group());
                last = m.end();
            }
            if (last < s.length()) out.add(s.substring(last));
        }
    }

    /** Sequence: each step splits every piece of the previous one. */
    record Sequence(List<PreTokenizer> steps) implements PreTokenizer {
        @Override
        public void split(String s, List<String> out) {
            List<String> cur = List.of(s);
            for (PreTokenizer p : steps) {
                List<String> next = new ArrayList<>();
                for (String piece : cur) p.split(piece, next);
                cur = next;
            }
            out.addAll(cur);
        }
    }
}
