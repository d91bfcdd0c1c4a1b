package dev.lookupffn.pytorch;

import dev.lookupffn.tensor.DType;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

/**
 * Test code: writes files in torch's zip serialization the way {@code torch.save} does (protocol 2 pickle in
 * {@code <root>/data.pkl}, one stored entry per storage in {@code <root>/data/<key>} with its data aligned to 64
 * bytes, {@code <root>/version}), from a small object model: {@link Map} (a LinkedHashMap is written as a plain
 * dict, an {@link OrderedDict} as collections.OrderedDict), {@link List}, String, Long/Integer, Double, Boolean,
 * null, {@link TensorRef}, {@link Call} (an arbitrary global applied to arguments) and {@link Raw} pickle bytes.
 * Lower level, {@link #writeZip} writes any list of entries (for hostile files).
 */
public final class TorchZipWriter {
    private TorchZipWriter() {}

    /** A dict written as {@code collections.OrderedDict} (state dicts are). */
    public static final class OrderedDict extends java.util.LinkedHashMap<String, Object> {}

    /** {@code _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())}. */
    public record TensorRef(Storage storage, long offset, long[] size, long[] stride) {
        public static TensorRef contiguous(Storage s, long offset, long... size) {
            long[] stride = new long[size.length];
            long st = 1;
            for (int i = size.length - 1; i >= 0; i--) {
                stride[i] = st;
                st *= size[i];
            }
            return new TensorRef(s, offset, size, stride);
        }
    }

    /** A storage: its key, element type, element count as the pickle claims it, device tag and its bytes. */
    public record Storage(String key, DType dtype, long numel, String device, Bytes bytes) {}

    /** Bytes of an entry, streamed to the file (so a test can write a gigabyte without holding it). */
    public interface Bytes {
        long size();

        void writeTo(FileChannel ch, CRC32 crc) throws IOException;

        static Bytes of(byte[] b) {
            return new Bytes() {
                public long size() {
                    return b.length;
                }

                public void writeTo(FileChannel ch, CRC32 crc) throws IOException {
                    crc.update(b);
                    ByteBuffer buf = ByteBuffer.wrap(b);
                    while (buf.hasRemaining()) ch.write(buf);
                }
            };
        }

        static Bytes ofFloats(float[] v) {
            ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(v);
            return of(b.array());
        }
    }

    /** A call of any global (e.g. a hostile {@code posix.system}) with positional arguments. */
    public record Call(String module, String name, List<Object> args) {}

    /** Raw pickle bytes spliced in as one value. */
    public record Raw(byte[] bytes) {}

    /**
     * One zip entry; {@code method} 0 stored or 8 deflated (then {@code data} is the compressed bytes and
     * {@code declaredSize} the uncompressed size); for a stored entry a {@code declaredSize} ≥ 0 lies about the size.
     */
    public record Entry(String name, Bytes data, int method, long declaredSize) {
        public static Entry stored(String name, Bytes data) {
            return new Entry(name, data, 0, -1);
        }
    }

    /** Writes {@code top} pickled under {@code root}, with every storage it references (each once). */
    public static void write(Path file, String root, Object top) {
        Pickler p = new Pickler();
        p.proto();
        p.value(top);
        p.op('.');
        List<Entry> entries = new ArrayList<>();
        entries.add(Entry.stored(root + "/data.pkl", Bytes.of(p.out.toByteArray())));
        for (Storage s : p.storages.values()) entries.add(Entry.stored(root + "/data/" + s.key(), s.bytes()));
        entries.add(Entry.stored(root + "/version", Bytes.of("3\n".getBytes(StandardCharsets.US_ASCII))));
        writeZip(file, entries);
    }

    /** The protocol 2 pickle of {@code value} (with STOP), for hand-made hostile files. */
    public static byte[] pickle(Object value) {
        Pickler p = new Pickler();
        p.proto();
        p.value(value);
        p.op('.');
        return p.out.toByteArray();
    }

    /** Writes a zip of the entries: local headers with data aligned to 64 bytes, central directory, end record. */
    public static void writeZip(Path file, List<Entry> entries) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE, StandardOpenOption.READ)) {
            ByteArrayOutputStream central = new ByteArrayOutputStream();
            for (Entry e : entries) {
                long local = ch.position();
                byte[] name = e.name().getBytes(StandardCharsets.UTF_8);
                Bytes data = e.data();
                int pad = (int) ((64 - (local + 30 + name.length + 4) % 64) % 64);
                ByteBuffer h = le(30 + name.length + 4 + pad);
                h.putInt(0x04034b50).putShort((short) 20).putShort((short) 0).putShort((short) e.method()).putInt(0)
                        .putInt(0).putInt(0).putInt(0).putShort((short) name.length).putShort((short) (4 + pad)).put(name)
                        .putShort((short) 0x4246).putShort((short) pad).put(new byte[pad]).flip();
                while (h.hasRemaining()) ch.write(h);
                CRC32 crc = new CRC32();
                data.writeTo(ch, crc);
                long size = data.size(), declared = e.declaredSize() >= 0 ? e.declaredSize() : size;
                ByteBuffer fix = le(12).putInt((int) crc.getValue()).putInt((int) size).putInt((int) declared).flip();
                ch.write(fix, local + 14);
                ByteBuffer c = le(46 + name.length);
                c.putInt(0x02014b50).putShort((short) 20).putShort((short) 20).putShort((short) 0).putShort((short) e.method())
                        .putInt(0).putInt((int) crc.getValue()).putInt((int) size).putInt((int) declared)
                        .putShort((short) name.length).putShort((short) 0).putShort((short) 0).putShort((short) 0)
                        .putShort((short) 0).putInt(0).putInt((int) local).put(name);
                central.write(c.array());
            }
            long cdOffset = ch.position();
            byte[] cd = central.toByteArray();
            ByteBuffer all = ByteBuffer.allocate(cd.length + 22).order(ByteOrder.LITTLE_ENDIAN);
            all.put(cd).putInt(0x06054b50).putShort((short) 0).putShort((short) 0).putShort((short) entries.size())
                    .putShort((short) entries.size()).putInt(cd.length).putInt((int) cdOffset).putShort((short) 0).flip();
            while (all.hasRemaining()) ch.write(all);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Deflate-compressed bytes (for a deflated entry: pass them as data with method 8 and the real size declared). */
    public static byte[] deflate(byte[] input) {
        Deflater d = new Deflater(Deflater.BEST_COMPRESSION, true);
        d.setInput(input);
        d.finish();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[1 << 16];
        while (!d.finished()) out.write(buf, 0, d.deflate(buf));
        d.end();
        return out.toByteArray();
    }

    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Protocol 2 opcodes as torch's pickler emits them (no memo: globals are simply repeated). */
    static final class Pickler {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final Map<String, Storage> storages = new java.util.LinkedHashMap<>();

        void op(int c) {
            out.write(c);
        }

        void proto() {
            op(0x80);
            op(2);
        }

        void str(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            op('X');
            out.writeBytes(le(4).putInt(b.length).array());
            out.writeBytes(b);
        }

        void integer(long v) {
            if (v >= 0 && v < 256) {
                op('K');
                op((int) v);
            } else if (v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE) {
                op('J');
                out.writeBytes(le(4).putInt((int) v).array());
            } else {
                op(0x8a);
                op(8);
                out.writeBytes(le(8).putLong(v).array());
            }
        }

        void global(String module, String name) {
            op('c');
            out.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.UTF_8));
        }

        void tuple(long[] v) {
            op('(');
            for (long x : v) integer(x);
            op('t');
        }

        void value(Object v) {
            switch (v) {
                case null -> op('N');
                case Boolean b -> op(b ? 0x88 : 0x89);
                case Integer i -> integer(i);
                case Long l -> integer(l);
                case Double d -> {
                    op('G');
                    out.writeBytes(ByteBuffer.allocate(8).putDouble(d).array()); // big-endian
                }
                case String s -> str(s);
                case Raw r -> out.writeBytes(r.bytes());
                case OrderedDict d -> {
                    global("collections", "OrderedDict");
                    op(')');
                    op('R');
                    items(d);
                }
                case Map<?, ?> m -> {
                    op('}');
                    items(m);
                }
                case List<?> l -> {
                    op(']');
                    if (!l.isEmpty()) {
                        op('(');
                        for (Object o : l) value(o);
                        op('e');
                    }
                }
                case Call c -> {
                    global(c.module(), c.name());
                    op('(');
                    for (Object o : c.args()) value(o);
                    op('t');
                    op('R');
                }
                case TensorRef t -> {
                    Storage s = t.storage();
                    storages.putIfAbsent(s.key(), s);
                    global("torch._utils", "_rebuild_tensor_v2");
                    op('(');
                    op('(');
                    str("storage");
                    global("torch", storageType(s.dtype()));
                    str(s.key());
                    str(s.device());
                    integer(s.numel());
                    op('t');
                    op('Q');
                    integer(t.offset());
                    tuple(t.size());
                    tuple(t.stride());
                    op(0x89);
                    global("collections", "OrderedDict");
                    op(')');
                    op('R');
                    op('t');
                    op('R');
                }
                default -> throw new IllegalArgumentException("cannot pickle " + v.getClass());
            }
        }

        void items(Map<?, ?> m) {
            if (m.isEmpty()) return;
            op('(');
            for (var e : m.entrySet()) {
                value(e.getKey());
                value(e.getValue());
            }
            op('u');
        }

        static String storageType(DType d) {
            return switch (d) {
                case F32 -> "FloatStorage";
                case F64 -> "DoubleStorage";
                case F16 -> "HalfStorage";
                case BF16 -> "BFloat16Storage";
                case I64 -> "LongStorage";
                case I32 -> "IntStorage";
                case I16 -> "ShortStorage";
                case I8 -> "CharStorage";
                case U8 -> "ByteStorage";
                case BOOL -> "BoolStorage";
            };
        }
    }
}
