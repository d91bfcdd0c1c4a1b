package dev.lookupffn.tensor;

/** Element types, named as in safetensors. */
public enum DType {
    F64(8),
    F32(4),
    F16(2),
    BF16(2),
    I64(8),
    I32(4),
    I16(2),
    I8(1),
    U8(1),
    BOOL(1);

    private final int byteSize;

    DType(int byteSize) {
        this.byteSize = byteSize;
    }

    public int byteSize() {
        return byteSize;
    }

    /** The dtype with this safetensors name, or null. */
    public static DType fromName(String name) {
        for (DType d : values()) if (d.name().equals(name)) return d;
        return null;
    }
}
