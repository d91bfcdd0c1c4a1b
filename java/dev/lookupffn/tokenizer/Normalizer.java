package dev.lookupffn.tokenizer;

import java.util.List;

/** A tokenizer.json normalizer (text in, text out; offsets are not tracked). */
interface Normalizer {
    String normalize(String s);

    /** BertNormalizer: clean_text, handle_chinese_chars, strip_accents (null follows lowercase), lowercase. */
    record Bert(boolean cleanText, boolean handleChineseChars, boolean stripAccents, boolean lowercase) implements Normalizer {
        @Override
        public String normalize(String s) {
            StringBuilder b = new StringBuilder(s.length() + 8);
            boolean ascii = true;
            for (int i = 0; i < s.length(); ) {
                int c = s.codePointAt(i);
                i += Character.charCount(c);
                if (cleanText) {
                    // HF drops controls first (\t \n \r excepted), so U+000B, U+000C, U+0085 vanish
                    if (c == 0 || c == 0xFFFD) continue;
                    if (c != '\t' && c != '\n' && c != '\r' && Chars.isOther(c)) continue;
                    if (Chars.isWhitespace(c)) {
                        b.append(' ');
                        continue;
                    }
                }
                if (handleChineseChars && Chars.isChinese(c)) {
                    b.append(' ').appendCodePoint(c).append(' ');
                    ascii = false;
                    continue;
                }
                if (c >= 0x80) ascii = false;
                b.appendCodePoint(c);
            }
            String t = b.toString();
            if (stripAccents && !ascii) t = StripAccents.strip(t);
            if (lowercase) t = Lowercase.lower(t);
            return t;
        }
    }

    /** Lowercase normalizer: Rust char::to_lowercase per code point (no final-sigma rule). */
    record Lowercase() implements Normalizer {
        static String lower(String s) {
            StringBuilder b = null;
            for (int i = 0; i < s.length(); ) {
                int c = s.codePointAt(i);
                int n = Character.charCount(c);
                boolean change = c == 0x130 || Character.toLowerCase(c) != c;
                if (change && b == null) b = new StringBuilder(s.length() + 4).append(s, 0, i);
                if (b != null) Chars.appendLowercase(b, c);
                i += n;
            }
            return b == null ? s : b.toString();
        }

        @Override
        public String normalize(String s) {
            return lower(s);
        }
    }

    /** StripAccents normalizer: drop nonspacing marks (Mn). HF applies it to already-decomposed text. */
    record StripAccents() implements Normalizer {
        /** NFD, then drop Mn. */
        static String strip(String s) {
            return dropMn(java.text.Normalizer.normalize(s, java.text.Normalizer.Form.NFD));
        }

        static String dropMn(String s) {
            StringBuilder b = new StringBuilder(s.length());
            for (int i = 0; i < s.length(); ) {
                int c = s.codePointAt(i);
                i += Character.charCount(c);
                if (!Chars.isNonspacingMark(c)) b.appendCodePoint(c);
            }
            return b.toString();
        }

        @Override
        public String normalize(String s) {
            return dropMn(s);
        }
    }

    /** NFC / NFD / NFKC / NFKD. */
    record Unicode(java.text.Normalizer.Form form) implements Normalizer {
        @Override
        public String normalize(String s) {
            return Chars.isAscii(s) ? s : java.text.Normalizer.normalize(s, form);
        }
    }

    /** Sequence of normalizers applied in order. */
    record Sequence(List<Normalizer> steps) implements Normalizer {
        @Override
        public String normalize(String s) {
            for (Normalizer n : steps) s = n.normalize(s);
            return s;
        }
    }
}
