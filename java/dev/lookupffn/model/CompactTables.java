package dev.lookupffn.model;

import dev.lookupffn.LookupFfnException.FormatException;
import dev.lookupffn.LookupFfnException.ShapeException;
import dev.lookupffn.ffi.Kernels;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Map;

/**
 * LookupFFN tables as {@code convert --dtype} stores them: {@code …FFN.tables} F32 [h, 2^τ, o], BF16 of that shape,
 * or I8 of that shape beside {@code …FFN.tables_scale} F32 [h, 2^τ, ⌈o/64⌉] (symmetric, one scale per table row and
 * 64-column chunk: value = q · scale). The safetensors metadata {@value #METADATA_KEY} says which ({@code f32},
 * {@code bf16}, {@code int8}). {@link #check} is what a loader runs before anything reads a table: a file whose
 * tables, scales and metadata disagree is a {@link FormatException} naming the tensor.
 */
final class CompactTables {
    /** The metadata entry convert writes: the LookupFFN tables' storage. */
    static final String METADATA_KEY = "lookupffn_tables_dtype";
    /** A table tensor's name ends with this; its int8 scales' name is that plus {@link #SCALE_SUFFIX}. */
    static final String TABLES = "FFN.tables";
    static final String SCALE_SUFFIX = "_scale";
    /** Columns that share one int8 scale. */
    static final long CHUNK = 64;

    private CompactTables() {}

    /** The metadata / CLI name of a table storage type. */
    static String name(DType d) {
        return switch (d) {
            case F32 -> "f32";
            case BF16 -> "bf16";
            case I8 -> "int8";
            default -> throw new IllegalArgumentException("LookupFFN tables are not stored as " + d);
        };
    }

    /** The table storage type of a metadata / CLI name, or null for another word. */
    static DType fromName(String name) {
        return switch (name) {
            case "f32" -> DType.F32;
            case "bf16" -> DType.BF16;
            case "int8" -> DType.I8;
            default -> null;
        };
    }

    /** Columns of a table's int8 scales: one per 64-column chunk of its width o. */
    static long scaleColumns(long outDim) {
        return (outDim + CHUNK - 1) / CHUNK;
    }

    /** The scales' name of the tables named {@code tablesName}. */
    static String scaleName(String tablesName) {
        return tablesName + SCALE_SUFFIX;
    }

    static boolean isTables(String name) {
        return name.endsWith(TABLES) && (name.length() == TABLES.length() || name.charAt(name.length() - TABLES.length() - 1) == '.');
    }

    static boolean isScale(String name) {
        return name.endsWith(TABLES + SCALE_SUFFIX);
    }

    /**
     * Checks every LookupFFN table of a file (names as in the file) against its scales and the file's metadata:
     * tables F32, F64, F16 or BF16, or I8 [h, 2^τ, o] with F32 scales [h, 2^τ, ⌈o/64⌉] that are all finite and
     * non-negative; scales only beside I8 tables; the metadata's {@value #METADATA_KEY}, when present, a known name
     * that every table tensor's dtype matches.
     */
    static void check(String source, Map<String, Tensor> tensors, Map<String, String> metadata) {
        String said = metadata.get(METADATA_KEY);
        DType declared = said == null ? null : fromName(said);
        if (said != null && declared == null)
            throw new FormatException(source + ": metadata " + METADATA_KEY + " is '" + said + "'; expected f32, bf16 or int8");
        for (var e : tensors.entrySet()) {
            String name = e.getKey();
            if (isScale(name)) {
                String tablesName = name.substring(0, name.length() - SCALE_SUFFIX.length());
                Tensor tables = tensors.get(tablesName);
                if (tables == null || tables.dtype() != DType.I8)
                    throw new FormatException(source + ": tensor '" + name + "' holds int8 scales, but '" + tablesName + "' is "
                            + (tables == null ? "missing" : tables.dtype() + ", not I8"));
                continue;
            }
            if (!isTables(name)) continue;
            Tensor t = e.getValue();
            DType d = t.dtype();
            if (d != DType.F32 && d != DType.F64 && d != DType.F16 && d != DType.BF16 && d != DType.I8)
                throw new FormatException(source + ": tensor '" + name + "' is " + d + "; LookupFFN tables are F32, F64, F16, "
                        + "BF16, or I8 with '" + scaleName(name) + "'");
            if (declared != null && d != declared)
                throw new FormatException(source + ": tensor '" + name + "' is " + d + ", but the metadata says the tables are "
                        + said + " (" + METADATA_KEY + ")");
            if (d == DType.I8) checkScales(source, name, t, tensors.get(scaleName(name)));
        }
    }

    private static void checkScales(String source, String name, Tensor tables, Tensor scale) {
        String scaleName = scaleName(name);
        if (tables.rank() != 3)
            throw new FormatException(source + ": int8 tensor '" + name + "' should be [h, 2^tau, o], got " + Arrays.toString(tables.shape()));
        if (scale == null)
            throw new FormatException(source + ": int8 tensor '" + name + "' has no scales: tensor '" + scaleName + "' is missing");
        long[] want = {tables.dim(0), tables.dim(1), scaleColumns(tables.dim(2))};
        if (scale.dtype() != DType.F32 || !Arrays.equals(scale.shape(), want))
            throw new FormatException(source + ": tensor '" + scaleName + "' should be F32 " + Arrays.toString(want)
                    + " (one scale per row of '" + name + "' " + Arrays.toString(tables.shape()) + " and 64 columns), got "
                    + scale.dtype() + " " + Arrays.toString(scale.shape()));
        MemorySegment s = scale.segment();
        for (long i = 0, n = scale.elementCount(); i < n; i++) {
            float v = s.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i);
            if (!(v >= 0) || v == Float.POSITIVE_INFINITY) {
                long cols = want[2], row = i / cols;
                throw new FormatException(source + ": tensor '" + scaleName + "' holds " + v + " at [" + row / want[1] + ", "
                        + row % want[1] + ", " + i % cols + "]; int8 scales are finite and >= 0");
            }
        }
    }
    /**
     * Puts {@code tables} (named {@code name} in {@code out}) stored as {@code target} into {@code out}: as they are when
     * already so stored (I8 with its {@code scale}), else converted through fp32 into {@code arena} (int8:
     * {@link Kernels#tablesQuantizeI8}; bf16: round to nearest even). {@code what} names the tensor for messages.
     */
    static void export(String what, Tensor tables, Tensor scale, DType target, Arena arena, String name, Map<String, Tensor> out) {
        if (target != DType.F32 && target != DType.BF16 && target != DType.I8)
            throw new ShapeException("LookupFFN tables are stored as F32, BF16 or I8, not " + target);
        if (tables.dtype() == target) {
            out.put(name, tables);
            if (target == DType.I8) out.put(scaleName(name), scale);
            return;
        }
        long[] shape = tables.shape();
        if (tables.rank() != 3 || shape[1] < 2 || Long.bitCount(shape[1]) != 1)
            throw new ShapeException(what + " should be [h, 2^tau, o] to be stored as " + name(target) + ", got "
                    + Arrays.toString(shape));
        long n = tables.elementCount();
        try (Arena tmp = Arena.ofConfined()) {
            MemorySegment f32 = target == DType.F32 ? Tensor.allocate(arena, DType.F32, shape).segment()
                    : tmp.allocate(n * 4, Tensor.ALIGNMENT);
            toF32(tables, scale, f32);
            if (target == DType.I8) requireFinite(what, f32, shape);
            switch (target) {
                case F32 -> out.put(name, Tensor.wrap(f32, DType.F32, shape));
                case BF16 -> {
                    Tensor bf16 = Tensor.allocate(arena, DType.BF16, shape);
                    Kernels.convertF32ToBf16(n, f32, bf16.segment());
                    out.put(name, bf16);
                }
                default -> {
                    Tensor q = Tensor.allocate(arena, DType.I8, shape);
                    Tensor s = Tensor.allocate(arena, DType.F32, shape[0], shape[1], scaleColumns(shape[2]));
                    Kernels.tablesQuantizeI8(shape[0], Long.numberOfTrailingZeros(shape[1]), shape[2], f32, q.segment(), s.segment());
                    out.put(name, q);
                    out.put(scaleName(name), s);
                }
            }
        }
    }

    /** Int8 scales come from max |x|: a NaN or an infinity would spoil its whole chunk. */
    private static void requireFinite(String what, MemorySegment f32, long[] shape) {
        for (long i = 0, n = f32.byteSize() / 4; i < n; i++) {
            float v = f32.getAtIndex(ValueLayout.JAVA_FLOAT, i);
            if (!Float.isFinite(v))
                throw new FormatException(what + " holds " + v + " at [" + i / (shape[1] * shape[2]) + ", "
                        + i / shape[2] % shape[1] + ", " + i % shape[2] + "]; int8 tables are quantized from finite values");
        }
    }

    /** The tables' values as fp32 into {@code dst} (int8: q · scale of its row and 64-column chunk). */
    private static void toF32(Tensor tables, Tensor scale, MemorySegment dst) {
        long n = tables.elementCount();
        if (tables.dtype() == DType.F32) {
            MemorySegment.copy(tables.segment(), 0, dst, 0, n * 4);
        } else if (tables.dtype() == DType.I8) {
            long o = tables.dim(2), cols = scaleColumns(o);
            MemorySegment q = tables.segment(), s = scale.segment();
            for (long i = 0; i < n; i++) {
                long row = i / o, col = i % o;
                float sc = s.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, row * cols + col / CHUNK);
                dst.setAtIndex(ValueLayout.JAVA_FLOAT, i, q.get(ValueLayout.JAVA_BYTE, i) * sc);
            }
        } else {
            for (long i = 0; i < n; i++) dst.setAtIndex(ValueLayout.JAVA_FLOAT, i, tables.getFloat(i));
        }
    }
}
