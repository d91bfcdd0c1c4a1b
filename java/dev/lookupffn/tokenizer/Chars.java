package dev.lookupffn.tokenizer;

/** Character classes with the definitions HuggingFace tokenizers (Rust) uses. */
final class Chars {
    private Chars() {}

    /** Rust {@code char::is_whitespace}: the Unicode White_Space property. */
    static boolean isWhitespace(int c) {
        if (c < 0x80) return c == ' ' || (c >= 9 && c <= 13);
        return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029
                || c == 0x202F || c == 0x205F || c == 0x3000;
    }

    /**
     * Code points (inclusive range pairs) that HF's BERT character tables (an older Unicode version) treat as
     * ordinary, unassigned characters although the JDK puts them in Mn, Cf or P*: assignments made after those
     * tables. Found by comparing every code point with the HuggingFace tokenizers library.
     */
    private static final int[] HF_ORDINARY = {
            0x61D, 0x61D, 0x7FD, 0x7FD, 0x890, 0x891, 0x897, 0x89F, 0x8CA, 0x8E2, 0x9FD, 0x9FE, 0xA76, 0xA76,
            0xAFA, 0xAFF, 0xB55, 0xB55, 0xC04, 0xC04, 0xC3C, 0xC3C, 0xC77, 0xC77, 0xC84, 0xC84, 0xD00, 0xD00,
            0xD3B, 0xD3C, 0xD81, 0xD81, 0xEBA, 0xEBA, 0xECE, 0xECE, 0x180F, 0x180F, 0x1885, 0x1886, 0x1ABF, 0x1ACE,
            0x1B4E, 0x1B4F, 0x1B7D, 0x1B7F, 0x1DF6, 0x1DFB, 0x2E43, 0x2E4F, 0x2E52, 0x2E5D, 0xA82C, 0xA82C,
            0xA8C5, 0xA8C5, 0xA8FF, 0xA8FF, 0xA9BD, 0xA9BD, 0x10D24, 0x10D27, 0x10D69, 0x10D6E, 0x10EAB, 0x10EAD,
            0x10EFC, 0x10EFF, 0x10F46, 0x10F50, 0x10F55, 0x10F59, 0x10F82, 0x10F89, 0x11070, 0x11070,
            0x11073, 0x11074, 0x110C2, 0x110C2, 0x110CD, 0x110CD, 0x111C9, 0x111C9, 0x111CF, 0x111CF,
            0x1123E, 0x1123E, 0x11241, 0x11241, 0x1133B, 0x1133B, 0x113BB, 0x113C0, 0x113CE, 0x113CE,
            0x113D0, 0x113D0, 0x113D2, 0x113D2, 0x113D4, 0x113D5, 0x113D7, 0x113D8, 0x113E1, 0x113E2,
            0x11438, 0x1143F, 0x11442, 0x11444, 0x11446, 0x11446, 0x1144B, 0x1144F, 0x1145A, 0x1145B,
            0x1145D, 0x1145E, 0x11660, 0x1166C, 0x116B9, 0x116B9, 0x1182F, 0x11837, 0x11839, 0x1183B,
            0x1193B, 0x1193C, 0x1193E, 0x1193E, 0x11943, 0x11946, 0x119D4, 0x119D7, 0x119DA, 0x119DB,
            0x119E0, 0x119E0, 0x119E2, 0x119E2, 0x11A01, 0x11A0A, 0x11A33, 0x11A38, 0x11A3B, 0x11A47,
            0x11A51, 0x11A56, 0x11A59, 0x11A5B, 0x11A8A, 0x11A96, 0x11A98, 0x11A9C, 0x11A9E, 0x11AA2,
            0x11B00, 0x11B09, 0x11BE1, 0x11BE1, 0x11C30, 0x11C36, 0x11C38, 0x11C3D, 0x11C3F, 0x11C3F,
            0x11C41, 0x11C45, 0x11C70, 0x11C71, 0x11C92, 0x11CA7, 0x11CAA, 0x11CB0, 0x11CB2, 0x11CB3,
            0x11CB5, 0x11CB6, 0x11D31, 0x11D36, 0x11D3A, 0x11D3A, 0x11D3C, 0x11D3D, 0x11D3F, 0x11D45,
            0x11D47, 0x11D47, 0x11D90, 0x11D91, 0x11D95, 0x11D95, 0x11D97, 0x11D97, 0x11EF3, 0x11EF4,
            0x11EF7, 0x11EF8, 0x11F00, 0x11F01, 0x11F36, 0x11F3A, 0x11F40, 0x11F40, 0x11F42, 0x11F4F,
            0x11F5A, 0x11F5A, 0x11FFF, 0x11FFF, 0x12FF1, 0x12FF2, 0x13430, 0x13440, 0x13447, 0x13455,
            0x1611E, 0x16129, 0x1612D, 0x1612F, 0x16D6D, 0x16D6F, 0x16E97, 0x16E9A, 0x16F4F, 0x16F4F,
            0x16FE2, 0x16FE2, 0x16FE4, 0x16FE4, 0x1CF00, 0x1CF2D, 0x1CF30, 0x1CF46, 0x1E000, 0x1E006,
            0x1E008, 0x1E018, 0x1E01B, 0x1E021, 0x1E023, 0x1E024, 0x1E026, 0x1E02A, 0x1E08F, 0x1E08F,
            0x1E130, 0x1E136, 0x1E2AE, 0x1E2AE, 0x1E2EC, 0x1E2EF, 0x1E4EC, 0x1E4EF, 0x1E5EE, 0x1E5EF,
            0x1E5FF, 0x1E5FF, 0x1E944, 0x1E94A, 0x1E95E, 0x1E95F
    };

    private static boolean hfOrdinary(int c) {
        if (c < 0x61D) return false;
        int lo = 0, hi = HF_ORDINARY.length / 2 - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (c < HF_ORDINARY[2 * mid]) hi = mid - 1;
            else if (c > HF_ORDINARY[2 * mid + 1]) lo = mid + 1;
            else return true;
        }
        return false;
    }

    /** Cc, Cf, Cs, Co (as HF's tables have them): what BertNormalizer's clean_text calls control. HF keeps Cn. */
    static boolean isOther(int c) {
        if (c >= 0x80 && hfOrdinary(c)) return false;
        return switch (Character.getType(c)) {
            case Character.CONTROL, Character.FORMAT, Character.SURROGATE, Character.PRIVATE_USE -> true;
            default -> false;
        };
    }

    /** General category P* (Pc, Pd, Ps, Pe, Pi, Pf, Po), as HF's tables have it. */
    static boolean isUnicodePunctuation(int c) {
        if (c == 0x166D || c == 0x111C9) return true; // Po in HF's tables, since recategorized
        if (hfOrdinary(c)) return false;
        return switch (Character.getType(c)) {
            case Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.START_PUNCTUATION,
                 Character.END_PUNCTUATION, Character.INITIAL_QUOTE_PUNCTUATION, Character.FINAL_QUOTE_PUNCTUATION,
                 Character.OTHER_PUNCTUATION -> true;
            default -> false;
        };
    }

    /** BertPreTokenizer's punctuation: ASCII 33-47, 58-64, 91-96, 123-126, or Unicode P*. */
    static boolean isBertPunctuation(int c) {
        if (c < 0x80) return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
        return isUnicodePunctuation(c);
    }

    /** The CJK ideograph ranges of BertNormalizer's handle_chinese_chars. */
    static boolean isChinese(int c) {
        return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF)
                || (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF)
                || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
    }

    /** Nonspacing mark (Mn), as HF's tables have it (what strip_accents removes). */
    static boolean isNonspacingMark(int c) {
        if (c < 0x300) return false;
        if (c == 0x1734 || c == 0x1171E) return true; // Mn in HF's tables, now Mc
        return Character.getType(c) == Character.NON_SPACING_MARK && !hfOrdinary(c);
    }

    /** Rust {@code char::to_lowercase} for one code point, appended to {@code out}. */
    static void appendLowercase(StringBuilder out, int c) {
        if (c < 0x80) {
            out.append((char) (c >= 'A' && c <= 'Z' ? c + 32 : c));
        } else if (c == 0x130) {
            out.append("i\u0307"); // the only unconditional multi-char lowercase mapping
        } else {
            out.appendCodePoint(Character.toLowerCase(c));
        }
    }

    /** Rust {@code char::is_alphanumeric() || c == '_'} (used by single_word added tokens). */
    static boolean isWordChar(int c) {
        return c == '_' || Character.isLetter(c) || Character.isDigit(c) || Character.getType(c) == Character.LETTER_NUMBER
                || Character.getType(c) == Character.OTHER_NUMBER;
    }

    static boolean isAscii(String s) {
        for (int i = 0; i < s.length(); i++) if (s.charAt(i) >= 0x80) return false;
        return true;
    }
}
