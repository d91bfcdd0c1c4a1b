package dev.lookupffn.onnx;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import dev.lookupffn.LookupFfnException.FormatException;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The parts of an ONNX {@code ModelProto} an encoder needs, parsed by hand with protobuf's
 * {@link CodedInputStream} (no generated classes): the graph's nodes (op type, inputs, outputs, scalar
 * attributes), its initializers and {@code Constant} node values, and the graph inputs and outputs.
 *
 * <p>Initializer data is copied once into 64-byte aligned native memory this object owns (ONNX files do not
 * align tensor data), so the file may be unmapped after parsing. Supported data types: float, double, float16,
 * bfloat16 (all kept in their own dtype), int64, int32, int8, uint8, bool. Tensors stored in external files are
 * rejected: this reader takes one self-contained file. Every structural problem is a {@link FormatException}
 * naming the file and, where it applies, the tensor.
 */
public final class OnnxModel implements AutoCloseable {
    /** One node: op type, name, input and output value names, scalar attributes (float, int, string). */
    public record Node(String opType, String name, List<String> inputs, List<String> outputs,
                       Map<String, Object> attributes) {
        public String input(int i) {
            return i < inputs.size() ? inputs.get(i) : "";
        }

        public String output(int i) {
            return i < outputs.size() ? outputs.get(i) : "";
        }

        public float floatAttribute(String name, float fallback) {
            Object v = attributes.get(name);
            return v instanceof Number n ? n.floatValue() : fallback;
        }

        public long intAttribute(String name, long fallback) {
            Object v = attributes.get(name);
            return v instanceof Number n ? n.longValue() : fallback;
        }
    }

    private final String source;
    private final Arena arena;
    private final List<Node> nodes;
    private final Map<String, Tensor> initializers; // initializers and Constant node outputs, by value name
    private final List<String> inputs, outputs;

    private OnnxModel(String source, Arena arena, List<Node> nodes, Map<String, Tensor> initializers,
                      List<String> inputs, List<String> outputs) {
        this.source = source;
        this.arena = arena;
        this.nodes = nodes;
        this.initializers = initializers;
        this.inputs = inputs;
        this.outputs = outputs;
    }

    /** Parses an .onnx file (memory-mapped while parsing). */
    public static OnnxModel read(Path path) {
        try (Arena map = Arena.ofConfined(); FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size > Integer.MAX_VALUE)
                throw new FormatException(path + ": ONNX files over 2 GiB (external data) are not supported");
            MemorySegment bytes = size == 0 ? MemorySegment.NULL.reinterpret(0)
                    : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, map);
            return parse(bytes, path.toString());
        } catch (NoSuchFileException e) {
            throw new FormatException(path + ": no such file", e);
        } catch (IOException e) {
            throw new FormatException(path + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** Parses a model from a stream (e.g. a class-path resource); {@code source} names it in messages. */
    public static OnnxModel read(InputStream in, String source) {
        try (Arena tmp = Arena.ofConfined()) {
            byte[] all = in.readAllBytes();
            MemorySegment bytes = tmp.allocate(Math.max(1, all.length)).asSlice(0, all.length);
            MemorySegment.copy(all, 0, bytes, ValueLayout.JAVA_BYTE, 0, all.length);
            all = null;
            return parse(bytes, source);
        } catch (IOException e) {
            throw new FormatException(source + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** Parses a serialized ModelProto held in {@code bytes} (not retained). */
    public static OnnxModel parse(MemorySegment bytes, String source) {
        Arena arena = Arena.ofShared();
        try {
            Parser p = new Parser(bytes, source, arena);
            p.model();
            if (!p.sawGraph) throw new FormatException(source + ": not an ONNX model (no graph)");
            return new OnnxModel(source, arena, Collections.unmodifiableList(p.nodes),
                    Collections.unmodifiableMap(p.tensors), List.copyOf(p.inputs), List.copyOf(p.outputs));
        } catch (IOException e) {
            arena.close();
            throw new FormatException(source + ": not a valid ONNX (protobuf) file: " + e.getMessage(), e);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    public String source() {
        return source;
    }

    public List<Node> nodes() {
        return nodes;
    }

    /** Initializers and Constant node values by value name (views of memory this model owns). */
    public Map<String, Tensor> initializers() {
        return initializers;
    }

    public Tensor initializer(String name) {
        return initializers.get(name);
    }

    /** Names of the graph inputs that are not initializers. */
    public List<String> inputs() {
        return inputs;
    }

    public List<String> outputs() {
        return outputs;
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) arena.close();
    }

    // ---- the hand-written protobuf reader ----

    private static final class Parser {
        final String source;
        final Arena arena;
        final CodedInputStream in;
        final long size;
        final List<Node> nodes = new ArrayList<>();
        final Map<String, Tensor> tensors = new LinkedHashMap<>();
        final List<String> inputs = new ArrayList<>(), outputs = new ArrayList<>();
        boolean sawGraph;

        Parser(MemorySegment bytes, String source, Arena arena) {
            this.source = source;
            this.arena = arena;
            this.size = bytes.byteSize();
            this.rawSource = bytes;
            ByteBuffer buf = bytes.asByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            this.in = CodedInputStream.newInstance(buf);
            in.setSizeLimit(Integer.MAX_VALUE);
            in.setRecursionLimit(64);
        }

        /** Reads a length prefix and pushes it as the limit; checks it against the bytes left. */
        int enter(String what) throws IOException {
            int len = in.readRawVarint32();
            if (len < 0 || (long) in.getTotalBytesRead() + len > size)
                throw new FormatException(source + ": truncated or corrupt " + what + " (length " + len + " at byte "
                        + in.getTotalBytesRead() + " of " + size + ")");
            return in.pushLimit(len);
        }

        void model() throws IOException {
            while (true) {
                int tag = in.readTag();
                if (tag == 0) return;
                if (WireFormat.getTagFieldNumber(tag) == 7 && WireFormat.getTagWireType(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
                    // a truncated graph is parsed up to the end of the file, so the error names the cut tensor
                    int len = in.readRawVarint32();
                    long left = size - in.getTotalBytesRead();
                    boolean cut = len < 0 || len > left;
                    int old = in.pushLimit(cut ? (int) left : len);
                    graph();
                    in.popLimit(old);
                    if (cut)
                        throw new FormatException(source + ": the graph is truncated (" + len + " bytes declared, " + left
                                + " left in the file)");
                    sawGraph = true;
                } else in.skipField(tag);
            }
        }

        void graph() throws IOException {
            List<String> declaredInputs = new ArrayList<>();
            while (true) {
                int tag = in.readTag();
                if (tag == 0) break;
                int field = WireFormat.getTagFieldNumber(tag);
                if (WireFormat.getTagWireType(tag) != WireFormat.WIRETYPE_LENGTH_DELIMITED) {
                    in.skipField(tag);
                    continue;
                }
                switch (field) {
                    case 1 -> {
                        int old = enter("node");
                        node();
                        in.popLimit(old);
                    }
                    case 5 -> {
                        // a truncated initializer is parsed up to the end of the file, so the error names it
                        int len = in.readRawVarint32();
                        long left = size - in.getTotalBytesRead();
                        boolean cut = len < 0 || len > left;
                        int old = in.pushLimit(cut ? (int) left : len);
                        Tensor t = tensor(null);
                        in.popLimit(old);
                        if (cut)
                            throw new FormatException(source + ": initializer '" + lastTensorName + "' is truncated ("
                                    + len + " bytes declared, " + left + " left in the file)");
                        tensors.put(lastTensorName, t);
                    }
                    case 11, 12 -> {
                        int old = enter("value info");
                        String name = valueInfoName();
                        in.popLimit(old);
                        (field == 11 ? declaredInputs : outputs).add(name);
                    }
                    default -> in.skipField(tag);
                }
            }
            for (String n : declaredInputs) if (!tensors.containsKey(n)) inputs.add(n);
        }

        String valueInfoName() throws IOException {
            String name = "";
            while (true) {
                int tag = in.readTag();
                if (tag == 0) return name;
                if (WireFormat.getTagFieldNumber(tag) == 1) name = in.readStringRequireUtf8();
                else in.skipField(tag);
            }
        }

        void node() throws IOException {
            List<String> ins = new ArrayList<>(), outs = new ArrayList<>();
            String name = "", op = "";
            Map<String, Object> attrs = new LinkedHashMap<>();
            Tensor constant = null;
            while (true) {
                int tag = in.readTag();
                if (tag == 0) break;
                switch (WireFormat.getTagFieldNumber(tag)) {
                    case 1 -> ins.add(in.readStringRequireUtf8());
                    case 2 -> outs.add(in.readStringRequireUtf8());
                    case 3 -> name = in.readStringRequireUtf8();
                    case 4 -> op = in.readStringRequireUtf8();
                    case 5 -> {
                        int old = enter("attribute");
                        Object[] a = attribute(name);
                        in.popLimit(old);
                        if (a[1] instanceof Tensor t) {
                            if ("value".equals(a[0])) constant = t;
                            else t.close();
                        } else if (a[1] != null) attrs.put((String) a[0], a[1]);
                    }
                    default -> in.skipField(tag);
                }
            }
            Node n = new Node(op, name, List.copyOf(ins), List.copyOf(outs), Collections.unmodifiableMap(attrs));
            nodes.add(n);
            if ("Constant".equals(op) && constant != null && !outs.isEmpty()) tensors.put(outs.get(0), constant);
        }

        /** {name, value}: value is a Float, Long, String, Tensor or null (other attribute kinds). */
        Object[] attribute(String node) throws IOException {
            String name = "";
            Object value = null;
            while (true) {
                int tag = in.readTag();
                if (tag == 0) return new Object[] {name, value};
                switch (WireFormat.getTagFieldNumber(tag)) {
                    case 1 -> name = in.readStringRequireUtf8();
                    case 2 -> value = in.readFloat();
                    case 3 -> value = in.readInt64();
                    case 4 -> value = in.readBytes().toStringUtf8();
                    case 5 -> {
                        int old = enter("tensor attribute of node '" + node + "'");
                        value = tensor("attribute of node '" + node + "'");
                        in.popLimit(old);
                    }
                    default -> in.skipField(tag);
                }
            }
        }

        String lastTensorName;

        Tensor tensor(String fallbackName) throws IOException {
            List<Long> dims = new ArrayList<>();
            int dataType = 0;
            String name = fallbackName == null ? "" : fallbackName;
            long rawOffset = -1;
            int rawLength = 0;
            boolean external = false;
            ByteArrayList typed = new ByteArrayList(); // float_data / int32_data / int64_data / double_data
            int typedField = 0;
            while (true) {
                int tag = in.readTag();
                if (tag == 0) break;
                int field = WireFormat.getTagFieldNumber(tag), wire = WireFormat.getTagWireType(tag);
                switch (field) {
                    case 1 -> {
                        if (wire == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
                            int old = enter("dims of tensor '" + name + "'");
                            while (in.getBytesUntilLimit() > 0) dims.add(in.readInt64());
                            in.popLimit(old);
                        } else dims.add(in.readInt64());
                    }
                    case 2 -> dataType = in.readInt32();
                    case 8 -> name = in.readStringRequireUtf8();
                    case 9 -> {
                        rawLength = in.readRawVarint32();
                        rawOffset = in.getTotalBytesRead();
                        if (rawLength < 0 || rawOffset + rawLength > size)
                            throw new FormatException(source + ": tensor '" + name + "' is truncated: its raw data of " + rawLength
                                    + " bytes runs past the end of the file (" + size + " bytes)");
                        in.skipRawBytes(rawLength);
                    }
                    case 13 -> {
                        external = true;
                        in.skipField(tag);
                    }
                    case 14 -> external |= in.readInt32() == 1;
                    case 4, 5, 7, 10 -> {
                        if (typedField != 0 && typedField != field)
                            throw new FormatException(source + ": tensor '" + name + "' mixes data fields");
                        typedField = field;
                        typed.read(in, field, wire, name);
                    }
                    default -> in.skipField(tag);
                }
            }
            lastTensorName = name;
            if (external)
                throw new FormatException(source + ": tensor '" + name + "' keeps its data in an external file; "
                        + "only self-contained ONNX files are supported");
            DType dtype = switch (dataType) {
                case 1 -> DType.F32;
                case 2 -> DType.U8;
                case 3 -> DType.I8;
                case 6 -> DType.I32;
                case 7 -> DType.I64;
                case 9 -> DType.BOOL;
                case 10 -> DType.F16;
                case 11 -> DType.F64;
                case 16 -> DType.BF16;
                default -> throw new FormatException(source + ": tensor '" + name + "' has unsupported ONNX data type "
                        + dataType);
            };
            long[] shape = new long[dims.size()];
            long count = 1;
            for (int i = 0; i < shape.length; i++) {
                shape[i] = dims.get(i);
                if (shape[i] < 0) throw new FormatException(source + ": tensor '" + name + "' has a negative dimension "
                        + dims);
                try {
                    count = Math.multiplyExact(count, shape[i]);
                } catch (ArithmeticException e) {
                    throw new FormatException(source + ": tensor '" + name + "' has an impossible shape " + dims);
                }
            }
            long bytes;
            try {
                bytes = Math.multiplyExact(count, (long) dtype.byteSize());
            } catch (ArithmeticException e) {
                throw new FormatException(source + ": tensor '" + name + "' has an impossible shape " + dims);
            }
            if (rawOffset >= 0) {
                if (rawLength != bytes)
                    throw new FormatException(source + ": tensor '" + name + "' " + dtype + " " + Arrays.toString(shape)
                            + " needs " + bytes + " bytes but holds " + rawLength);
                Tensor t = Tensor.allocate(arena, dtype, shape);
                MemorySegment.copy(rawSource, rawOffset, t.segment(), 0, bytes);
                return t;
            }
            return typed.toTensor(arena, dtype, shape, count, typedField, source, name);
        }

        MemorySegment rawSource;
    }

    /** The typed repeated fields of a TensorProto (float_data, int32_data, int64_data, double_data). */
    private static final class ByteArrayList {
        long[] longs = new long[16];
        double[] doubles = new double[16];
        int n;

        void read(CodedInputStream in, int field, int wire, String name) throws IOException {
            if (wire == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
                int old = in.pushLimit(in.readRawVarint32());
                while (in.getBytesUntilLimit() > 0) one(in, field);
                in.popLimit(old);
            } else one(in, field);
        }

        private void one(CodedInputStream in, int field) throws IOException {
            if (n == longs.length) {
                longs = Arrays.copyOf(longs, n * 2);
                doubles = Arrays.copyOf(doubles, n * 2);
            }
            switch (field) {
                case 4 -> doubles[n] = in.readFloat();
                case 5 -> longs[n] = in.readInt32();
                case 7 -> longs[n] = in.readInt64();
                case 10 -> doubles[n] = in.readDouble();
                default -> throw new IllegalStateException();
            }
            n++;
        }

        Tensor toTensor(Arena arena, DType dtype, long[] shape, long count, int field, String source, String name) {
            if (count != n)
                throw new FormatException(source + ": tensor '" + name + "' " + dtype + " " + Arrays.toString(shape)
                        + " needs " + count + " values but holds " + n);
            Tensor t = Tensor.allocate(arena, dtype, shape);
            MemorySegment s = t.segment();
            boolean fromFloat = field == 4 || field == 10;
            for (int i = 0; i < n; i++) {
                double d = fromFloat ? doubles[i] : longs[i];
                switch (dtype) {
                    case F32 -> s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) d);
                    case F64 -> s.setAtIndex(ValueLayout.JAVA_DOUBLE, i, d);
                    case I64 -> s.setAtIndex(ValueLayout.JAVA_LONG, i, fromFloat ? (long) d : longs[i]);
                    case I32 -> s.setAtIndex(ValueLayout.JAVA_INT, i, (int) longs[i]);
                    case F16, BF16 -> s.setAtIndex(ValueLayout.JAVA_SHORT, i, (short) longs[i]); // int32_data bits
                    case I8, U8, BOOL -> s.set(ValueLayout.JAVA_BYTE, i, (byte) longs[i]);
                    default -> throw new FormatException(source + ": tensor '" + name + "': unsupported dtype " + dtype);
                }
            }
            return t;
        }
    }
}
