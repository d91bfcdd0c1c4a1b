package dev.lookupffn.tensor;

import dev.lookupffn.runtime.Sizes;
import dev.lookupffn.LookupFfnException.ShapeException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * A dense row-major tensor over a native {@link MemorySegment}: dtype, shape, and the memory. A tensor either
 * owns its memory (allocated 64-byte aligned in an arena it closes in {@link #close()}) or is a view of memory
 * someone else owns (a mapped file, a caller's arena, a slice of another tensor), in which case close does
 * nothing. After the owning arena is closed, any access, including passing it to a kernel, throws
 * {@link IllegalStateException}.
 *
 * <p>Thread safety: owned tensors live in a shared arena, so any thread may read and write them; writers must
 * coordinate among themselves. Closing while another thread uses the tensor fails that use, never the JVM.
 */
public final class Tensor implements AutoCloseable {
    public static final long ALIGNMENT = 64;

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED;

    private final MemorySegment data;
    private final DType dtype;
    private final long[] shape;
    private final Arena owned; // null for views

    private Tensor(MemorySegment data, DType dtype, long[] shape, Arena owned) {
        this.data = data;
        this.dtype = dtype;
        this.shape = shape;
        this.owned = owned;
    }

    /**
     * A new zero-filled tensor that owns its memory (64-byte aligned); close it to free the memory. A negative
     * dimension or a byte size beyond 64 bits is a ShapeException.
     */
    public static Tensor allocate(DType dtype, long... shape) {
        long bytes = byteSize(dtype, shape);
        Arena arena = Arena.ofShared();
        try {
            return new Tensor(arena.allocate(Math.max(bytes, 1), ALIGNMENT).asSlice(0, bytes), dtype,
                    shape.clone(), arena);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** A new zero-filled tensor in the caller's arena (64-byte aligned); the arena's owner frees it. */
    public static Tensor allocate(Arena arena, DType dtype, long... shape) {
        long bytes = byteSize(dtype, shape);
        return new Tensor(arena.allocate(Math.max(bytes, 1), ALIGNMENT).asSlice(0, bytes), dtype, shape.clone(),
                null);
    }

    /** A view of existing memory: no copy. The segment must hold exactly the shape's bytes. */
    public static Tensor wrap(MemorySegment data, DType dtype, long... shape) {
        long bytes = byteSize(dtype, shape);
        if (data.byteSize() != bytes)
            throw new ShapeException("segment of " + data.byteSize() + " bytes cannot hold " + dtype + " "
                    + Arrays.toString(shape) + " (" + bytes + " bytes)");
        if (!data.isNative()) throw new ShapeException("tensors live in native memory; got a heap segment");
        return new Tensor(data, dtype, shape.clone(), null);
    }

    /** A new owned F32 tensor holding a copy of values. */
    public static Tensor ofFloats(float[] values, long... shape) {
        Tensor t = allocate(DType.F32, shape);
        if (values.length != t.elementCount()) {
            t.close();
            throw new ShapeException(values.length + " values do not fill shape " + Arrays.toString(shape));
        }
        MemorySegment.copy(values, 0, t.data, ValueLayout.JAVA_FLOAT, 0, values.length);
        return t;
    }

    /** Bytes of a dtype × shape; a negative dimension or a size beyond 64 bits is a ShapeException. */
    static long byteSize(DType dtype, long[] shape) {
        if (dtype == null || shape == null) throw new ShapeException("a tensor needs a dtype and a shape");
        for (long d : shape) {
            if (d < 0) throw new ShapeException("negative dimension in shape " + Arrays.toString(shape));
            if (d == 0) return 0; // an empty tensor, whatever its other dimensions
        }
        try {
            long n = dtype.byteSize();
            for (long d : shape) n = Sizes.multiply("a tensor", n, d);
            return n;
        } catch (ShapeException e) {
            throw new ShapeException(dtype + " " + Arrays.toString(shape) + ": " + e.getMessage());
        }
    }

    public MemorySegment segment() {
        return data;
    }

    public DType dtype() {
        return dtype;
    }

    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    /** Dimension i; negative i counts from the end (-1 is the last). */
    public long dim(int i) {
        int axis = i < 0 ? shape.length + i : i;
        if (axis < 0 || axis >= shape.length)
            throw new ShapeException("axis " + i + " outside a rank-" + shape.length + " tensor " + Arrays.toString(shape));
        return shape[axis];
    }

    public long elementCount() {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    public long byteSize() {
        return data.byteSize();
    }

    /** True if this tensor frees its memory on close. */
    public boolean ownsMemory() {
        return owned != null;
    }

    /** A view of rows [start, start+count) along the first dimension. */
    public Tensor slice(long start, long count) {
        if (shape.length == 0) throw new ShapeException("cannot slice a scalar");
        if (start < 0 || count < 0 || start > shape[0] - count)
            throw new ShapeException("rows [" + start + ", " + (start + count) + ") outside shape "
                    + Arrays.toString(shape));
        long rowBytes = byteSize(dtype, shape) / Math.max(shape[0], 1);
        long[] s = shape.clone();
        s[0] = count;
        return new Tensor(data.asSlice(start * rowBytes, count * rowBytes), dtype, s, null);
    }

    /** A view with another shape of the same element count. */
    public Tensor reshape(long... newShape) {
        if (byteSize(dtype, newShape) != data.byteSize())
            throw new ShapeException("cannot reshape " + Arrays.toString(shape) + " to " + Arrays.toString(newShape));
        return new Tensor(data, dtype, newShape.clone(), null);
    }

    /** Element i (row-major flat index) as float, for F32, BF16, F16, F64 and integer dtypes. */
    public float getFloat(long i) {
        return switch (dtype) {
            case F32 -> data.getAtIndex(F32, i);
            case BF16 -> Float.intBitsToFloat((data.getAtIndex(I16, i) & 0xFFFF) << 16);
            case F16 -> Float.float16ToFloat(data.getAtIndex(I16, i));
            case F64 -> (float) data.getAtIndex(F64, i);
            case I32 -> data.getAtIndex(I32, i);
            case I64 -> data.getAtIndex(I64, i);
            case I16 -> data.getAtIndex(I16, i);
            case I8, U8, BOOL -> dtype == DType.I8 ? data.get(ValueLayout.JAVA_BYTE, i)
                    : data.get(ValueLayout.JAVA_BYTE, i) & 0xFF;
        };
    }

    public void setFloat(long i, float v) {
        requireDType(DType.F32);
        data.setAtIndex(F32, i, v);
    }

    public int getInt(long i) {
        requireDType(DType.I32);
        return data.getAtIndex(I32, i);
    }

    /** A heap copy of all elements as floats (for tests and small outputs, not hot paths). */
    public float[] toFloatArray() {
        long n = elementCount();
        if (n > Integer.MAX_VALUE - 8) throw new ShapeException("tensor too large for a Java array: " + n);
        float[] out = new float[(int) n];
        if (dtype == DType.F32) MemorySegment.copy(data, F32, 0, out, 0, out.length);
        else for (int i = 0; i < out.length; i++) out[i] = getFloat(i);
        return out;
    }

    public void requireDType(DType expected) {
        if (dtype != expected) throw new ShapeException("expected a " + expected + " tensor, got " + dtype);
    }

    @Override
    public void close() {
        if (owned != null && owned.scope().isAlive()) owned.close();
    }

    @Override
    public String toString() {
        return "Tensor[" + dtype + " " + Arrays.toString(shape) + (owned != null ? ", owned" : ", view") + "]";
    }
}
