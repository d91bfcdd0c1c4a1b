package dev.lookupffn.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.IntConsumer;

/**
 * How throughput grows with threads (1 … N), tokens (1k … 64k) and tables (32 … 256): each point is a short
 * interleaved comparison of its own (LookupFFN against oneDNN's dense FFN; tables only change LookupFFN).
 */
public final class ScalingSweep {
    public record Point(String sweep, long value, String name, double medianS, double tokensPerS) {}

    static final long[] TOKENS = {1024, 4096, 16384, 65536};
    static final long[] TABLES = {32, 64, 128, 256};
    static final Set<String> PAIR = Set.of("lookupffn", "dense-onednn");

    private ScalingSweep() {}

    static List<FfnBenchmark.Config> threadConfigs(FfnBenchmark.Config base) {
        List<FfnBenchmark.Config> out = new ArrayList<>();
        for (int t = 1; t <= base.threads(); t = t == base.threads() ? t + 1 : Math.min(t * 2, base.threads()))
            out.add(short_(base).withThreads(t).withOnly(PAIR));
        return out;
    }

    static FfnBenchmark.Config short_(FfnBenchmark.Config base) {
        return new FfnBenchmark.Config(base.tokens(), base.dim(), base.ffn(), base.tables(), base.tau(), base.block(),
                base.threads(), Math.min(3, base.repetitions()), 1, "f32", base.seed(), base.only());
    }

    /** Number of progress steps {@link #run} reports. */
    public static int steps(FfnBenchmark.Config base) {
        int perPoint = 4; // (1 warm-up + up to 3 repetitions) per candidate
        int pairs = threadConfigs(base).size() + TOKENS.length;
        return perPoint * (pairs * FfnBenchmark.candidateCount(short_(base).withOnly(PAIR)) + TABLES.length);
    }

    public static List<Point> run(FfnBenchmark.Config base, IntConsumer progress) {
        List<Point> points = new ArrayList<>();
        for (FfnBenchmark.Config c : threadConfigs(base)) add(points, "threads", c.threads(), FfnBenchmark.run(c, progress));
        for (long t : TOKENS)
            add(points, "tokens", t, FfnBenchmark.run(short_(base).withTokens(t).withOnly(PAIR), progress));
        for (long h : TABLES)
            add(points, "tables", h, FfnBenchmark.run(short_(base).withTables(h).withOnly(Set.of("lookupffn")), progress));
        return points;
    }

    private static void add(List<Point> points, String sweep, long value, FfnBenchmark.Result r) {
        for (FfnBenchmark.Row row : r.rows())
            points.add(new Point(sweep, value, row.name(), row.medianS(), row.tokensPerS()));
    }
}
