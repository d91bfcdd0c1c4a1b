package dev.lookupffn.spark;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** A deterministic synthetic corpus for the benchmark and the tests: sentences of 1 to ~60 words, a few empty. */
public final class Corpus {
    private static final String[] WORDS = ("the a of and to in is was for on that with as by at from it an be this "
            + "which or are were has have had not but its also their one two three first new time year people "
            + "city river music film game team school village language lookup table hashing embedding transformer "
            + "encoder feed-forward layer kernel vector matrix gather spark executor partition memory cache thread "
            + "naïve café Zürich 東京 😀 résumé coöperate don't it's U.S. 3.14 1,000 e-mail #hashtag @user").split(" ");

    private Corpus() {}

    /** {@code n} lines from seed {@code seed}: lengths spread from 0 to ~60 words (so batches see real padding). */
    public static List<String> lines(int n, long seed) {
        Random r = new Random(seed);
        List<String> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int len = i % 97 == 0 ? 0 : 1 + (int) Math.min(59, Math.abs(r.nextGaussian() * 18));
            StringBuilder sb = new StringBuilder();
            for (int w = 0; w < len; w++) {
                if (w > 0) sb.append(' ');
                String word = WORDS[r.nextInt(WORDS.length)];
                sb.append(w == 0 ? Character.toUpperCase(word.charAt(0)) + word.substring(1) : word);
            }
            if (len > 0) sb.append(r.nextInt(4) == 0 ? '?' : '.');
            out.add(sb.toString());
        }
        return out;
    }
}
