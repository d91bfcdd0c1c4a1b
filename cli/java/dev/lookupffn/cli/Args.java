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

    /** The description of a --dtype option (embed, forward). */
    static final String DTYPE_HELP = "How the weights are held: f32 (default); bf16 = dense (GEMM) weights and LookupFFN "
            + "tables in bf16 (half the bytes, faster; embeddings within cosine 0.999 of f32); int8 = LookupFFN tables in "
            + "int8, dense weights f32 (models with LookupFFN layers only).";

    /** A --dtype value: null (the default, f32), f32, bf16 or int8 (case-insensitive), else a usage error. */
    static dev.lookupffn.tensor.DType dtype(CommandSpec spec, String value) {
        if (value == null) return dev.lookupffn.tensor.DType.F32;
        return switch (value.toLowerCase(java.util.Locale.ROOT)) {
            case "f32", "fp32", "float32" -> dev.lookupffn.tensor.DType.F32;
            case "bf16", "bfloat16" -> dev.lookupffn.tensor.DType.BF16;
            case "int8", "i8" -> dev.lookupffn.tensor.DType.I8;
            default -> throw usage(spec, "--dtype must be f32, bf16 or int8, got " + value);
        };
    }

    static ParameterException usage(CommandSpec spec, String message) {
        return new ParameterException(spec.commandLine(), message);
    }
}
