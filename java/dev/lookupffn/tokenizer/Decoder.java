package dev.lookupffn.tokenizer;

import java.util.List;

/** A tokenizer.json decoder: tokens to text. */
interface Decoder {
    String decode(List<String> tokens);

    /** No decoder: HF joins the tokens with spaces. */
    Decoder JOIN = tokens -> String.join(" ", tokens);

    /** ByteLevel: byte alphabet back to UTF-8. */
    Decoder BYTE_LEVEL = ByteLevel::decode;

    /** WordPiece: drop the prefix of continuing pieces, space before the others, optional cleanup. */
    record WordPiece(String prefix, boolean cleanup) implements Decoder {
        @Override
        public String decode(List<String> tokens) {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < tokens.size(); i++) {
                String t = tokens.get(i);
                if (i != 0) t = t.startsWith(prefix) ? t.substring(prefix.length()) : " " + t;
                b.append(cleanup ? cleanup(t) : t);
            }
            return b.toString();
        }

        static String cleanup(String s) {
            return s.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",").replace(" ' ", "'")
                    .replace(" n't", "n't").replace(" 'm", "'m").replace(" do not", " don't").replace(" 's", "'s")
                    .replace(" 've", "'ve").replace(" 're", "'re");
        }
    }

    /** BPEDecoder: the end-of-word suffix becomes a space (none after the last token). */
    record Bpe(String suffix) implements Decoder {
        @Override
        public String decode(List<String> tokens) {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < tokens.size(); i++) {
                b.append(tokens.get(i).replace(suffix, i == tokens.size() - 1 ? "" : " "));
            }
            return b.toString();
        }
    }
}
