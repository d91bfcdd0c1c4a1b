package dev.lookupffn.tokenizer;

import java.util.List;
import java.util.Map;

/** A tokenizer.json model: one pre-tokenized word to tokens. */
interface Model {
    /** Appends the tokens of {@code word} and their ids. */
    void tokenize(String word, List<String> tokens, IntList ids);

    /** The model vocabulary (token to id). */
    Map<String, Integer> vocab();

    /** The unknown token, or null. */
    String unkToken();
}
