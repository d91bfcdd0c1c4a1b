package dev.lookupffn.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/** GPT-2's reversible byte-to-unicode map and the byte-level decode. */
final class ByteLevel {
    private ByteLevel() {}

    /** BYTE_TO_CHAR[b] is the printable char standing for byte b. */
    static final char[] BYTE_TO_CHAR = new char[256];
    /** CHAR_TO_BYTE[c] is the byte for char c (c below 324), or -1. */
    static final int[] CHAR_TO_BYTE = new int[512];

    static {
        java.util.Arrays.fill(CHAR_TO_BYTE, -1);
        int n = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char) b : (char) (256 + n++);
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE[c] = b;
        }
    }

    /** The UTF-8 bytes of {@code s}, each mapped to its char. */
    static String encode(String s) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        char[] out = new char[bytes.length];
        for (int i = 0; i < bytes.length; i++) out[i] = BYTE_TO_CHAR[bytes[i] & 0xFF];
        return new String(out);
    }

    /** HF's ByteLevel decoder: map the chars of each token back to bytes (a token with an unmapped char keeps its UTF-8), then lossy UTF-8. */
    static String decode(List<String> tokens) {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        for (String t : tokens) {
            boolean mapped = true;
            for (int i = 0; i < t.length(); i++) {
                char c = t.charAt(i);
                if (c >= CHAR_TO_BYTE.length || CHAR_TO_BYTE[c] < 0) {
                    mapped = false;
                    break;
                }
            }
            if (mapped) {
                for (int i = 0; i < t.length(); i++) buf.write(CHAR_TO_BYTE[t.charAt(i)]);
            } else {
                buf.writeBytes(t.getBytes(StandardCharsets.UTF_8));
            }
        }
        return buf.toString(StandardCharsets.UTF_8);
    }
}
