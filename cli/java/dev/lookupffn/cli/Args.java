package dev.lookupffn.cli;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

/**
 * Range checks of numeric options, done before anything is allocated: a value outside its range is a usage
 * error (exit 2) naming the option and the range, never an exception from deep inside or an OutOfMemoryError.
 */
final class Args {
    /** More threads than this helps no machine this runs on, and tens of thousands exhaust the process's limits. */
    static final int MAX_THREADS = 1024;

    private Args() {}

    /** {@code value} in [min, max], else a usage error naming {@code option}. */
    static long inRange(CommandSpec spec, String option, long value, long min, long max) {
        if (value < min || value > max)
            throw new ParameterException(spec.commandLine(), option + " must be in " + min + ".." + max + ", got " + value);
        return value;
    }

    /** A --threads value: null (the default) or 1..{@value #MAX_THREADS}. */
    static void threads(CommandSpec spec, Integer threads) {
        if (threads != null) inRange(spec, "--threads", threads, 1, MAX_THREADS);
    }

    static ParameterException usage(CommandSpec spec, String message) {
        return new ParameterException(spec.commandLine(), message);
    }
}
