package dev.lookupffn.safetensors;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lookupffn.LookupFfnException.FormatException;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * A safetensors file, either memory-mapped ({@link OpenMode#MAP}, zero-copy) or read into memory
 * ({@link OpenMode#COPY}), held in an arena this object owns: {@link #tensor} hands out views that stay valid
 * until {@link #close()}. Every header field is validated against the file before any tensor is handed out
 * (header size, UTF-8 JSON, dtypes, shapes × dtype size = byte span, spans inside the data and not overlapping,
 * no duplicate names), so a corrupt or lying file is a {@link FormatException} naming the file and the tensor,
 * never a wild read.
 *
 * <h2>Mapped files must not shrink while open</h2>
 * A mapped tensor reads the file's pages directly. If another process truncates the file while it is open (any
 * writer that rewrites a file in place: Python's {@code open(path, "wb")}, {@code truncate}, a copy over it), the
 * pages past the new end are gone: Java code reading them gets an {@link InternalError}, and a <b>native kernel
 * reading them is killed by SIGBUS, which ends the whole JVM</b>. Hence:
 * <ul>
 *   <li>Open files whose writer you do not control with {@link OpenMode#COPY} ({@link #open(Path, OpenMode)}):
 *       the data is read into 64-byte aligned memory this object owns; the file may then change or vanish
 *       without effect. A file that shrinks while it is being read is a {@link FormatException}.</li>
 *   <li>Map ({@link #open(Path)}) files nobody rewrites in place: read-only model files, or files replaced
 *       atomically by renaming a new file over them (as {@link SafetensorsWriter} does), which leaves the mapped
 *       old file intact.</li>
 *   <li>Loading a layer or an encoder copies its weights, so once loaded it no longer reads the mapped file.</li>
 * </ul>
 */
public final class SafetensorsFile implements AutoCloseable {
    /** Headers larger than this are refused (the format's reference implementation uses the same bound). */
    public static final long MAX_HEADER_BYTES = 100L << 20;

    private static final int READ_CHUNK = 1 << 30;
    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    /** How {@link #open(Path, OpenMode)} gets at the data. */
    public enum OpenMode {
        /** Memory-map the data: zero-copy, but the file must not shrink while open (see the class comment). */
        MAP,
        /** Read the data into owned, 64-byte aligned memory: later changes to the file have no effect. */
        COPY
    }

    /** Where a tensor lives: [begin, end) bytes from the start of the data section. */
    public record Entry(String name, DType dtype, long[] shape, long begin, long end) {
        public long byteSize() {
            return end - begin;
        }
    }

    private final Path path;
    private final OpenMode mode;
    private final Arena arena;
    private final MemorySegment data;
    private final SortedMap<String, Entry> entries;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, OpenMode mode, Arena arena, MemorySegment data, SortedMap<String, Entry> entries,
                            Map<String, String> metadata) {
        this.path = path;
        this.mode = mode;
        this.arena = arena;
        this.data = data;
        this.entries = entries;
        this.metadata = metadata;
    }

    /** Opens and validates a file, memory-mapped ({@link OpenMode#MAP}); the caller closes it. */
    public static SafetensorsFile open(Path path) {
        return open(path, OpenMode.MAP);
    }

    /** Opens and validates a file, mapped or read into memory; the caller closes it. */
    public static SafetensorsFile open(Path path, OpenMode mode) {
        java.util.Objects.requireNonNull(mode, "mode");
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) throw new FormatException(path + ": not a safetensors file (" + size + " bytes, need at least 8)");
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long headerLen = lenBuf.flip().getLong();
            if (headerLen < 2 || headerLen > MAX_HEADER_BYTES || headerLen > size - 8)
                throw new FormatException(path + ": header length " + Long.toUnsignedString(headerLen)
                        + " is impossible for a file of " + size + " bytes");
            ByteBuffer headerBuf = ByteBuffer.allocate((int) headerLen);
            readFully(ch, headerBuf, 8);
            String header = decodeUtf8(path, headerBuf.flip());
            long dataStart = 8 + headerLen;
            long dataSize = size - dataStart;
            JsonNode root;
            try {
                root = JSON.readTree(header);
            } catch (JsonProcessingException e) {
                throw new FormatException(path + ": header is not valid JSON: " + e.getOriginalMessage());
            }
            if (root == null || !root.isObject()) throw new FormatException(path + ": header is not a JSON object");
            Map<String, String> metadata = new LinkedHashMap<>();
            SortedMap<String, Entry> entries = new TreeMap<>();
            for (var field : root.properties()) {
                if (field.getKey().equals("__metadata__")) {
                    if (!field.getValue().isObject()) throw new FormatException(path + ": __metadata__ is not an object");
                    for (var m : field.getValue().properties()) {
                        if (!m.getValue().isTextual())
                            throw new FormatException(path + ": __metadata__." + m.getKey() + " is not a string");
                        metadata.put(m.getKey(), m.getValue().asText());
                    }
                    continue;
                }
                entries.put(field.getKey(), parseEntry(path, field.getKey(), field.getValue(), dataSize));
            }
            checkLayout(path, entries.values(), dataSize);
            MemorySegment data;
            if (mode == OpenMode.COPY) data = readData(path, ch, dataStart, dataSize, size, arena);
            else data = dataSize == 0 ? MemorySegment.NULL.reinterpret(0)
                    : ch.map(FileChannel.MapMode.READ_ONLY, dataStart, dataSize, arena);
            return new SafetensorsFile(path, mode, arena, data, Collections.unmodifiableSortedMap(entries),
                    Collections.unmodifiableMap(metadata));
        } catch (NoSuchFileException e) {
            arena.close();
            throw new FormatException(path + ": no such file", e);
        } catch (IOException e) {
            arena.close();
            throw new FormatException(path + ": cannot read: " + e.getMessage(), e);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** Reads the data section into owned memory with read(2): a file that shrinks meanwhile is an error, not a fault. */
    private static MemorySegment readData(Path path, FileChannel ch, long dataStart, long dataSize, long fileSize,
                                          Arena arena) throws IOException {
        MemorySegment data = arena.allocate(dataSize, Tensor.ALIGNMENT);
        long done = 0;
        while (done < dataSize) {
            ByteBuffer chunk = data.asSlice(done, Math.min(dataSize - done, READ_CHUNK)).asByteBuffer();
            while (chunk.hasRemaining()) {
                int n = ch.read(chunk, dataStart + done + chunk.position());
                if (n < 0)
                    throw new FormatException(path + ": file ended at byte " + (dataStart + done + chunk.position())
                            + " while being read (it had " + fileSize + "); was it truncated or rewritten meanwhile?");
            }
            done += chunk.capacity();
        }
        if (ch.size() != fileSize)
            throw new FormatException(path + ": file changed size while being read (" + fileSize + " -> " + ch.size()
                    + " bytes); was it rewritten meanwhile?");
        return data;
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, position + buf.position());
            if (n < 0) throw new IOException("unexpected end of file");
        }
    }

    private static String decodeUtf8(Path path, ByteBuffer bytes) {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(bytes).toString();
        } catch (CharacterCodingException e) {
            throw new FormatException(path + ": header is not valid UTF-8");
        }
    }

    private static Entry parseEntry(Path path, String name, JsonNode node, long dataSize) {
        String where = path + ": tensor '" + name + "'";
        if (!node.isObject()) throw new FormatException(where + " is not an object");
        JsonNode dtypeNode = node.get("dtype"), shapeNode = node.get("shape"), offsets = node.get("data_offsets");
        if (dtypeNode == null || !dtypeNode.isTextual()) throw new FormatException(where + ": missing or non-string dtype");
        DType dtype = DType.fromName(dtypeNode.asText());
        if (dtype == null) throw new FormatException(where + ": unsupported dtype '" + dtypeNode.asText() + "'");
        if (shapeNode == null || !shapeNode.isArray()) throw new FormatException(where + ": missing shape array");
        long[] shape = new long[shapeNode.size()];
        long elements = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.asLong() < 0)
                throw new FormatException(where + ": shape " + shapeNode + " has an invalid dimension");
            shape[i] = d.asLong();
            try {
                elements = Math.multiplyExact(elements, shape[i]);
            } catch (ArithmeticException e) {
                throw new FormatException(where + ": shape " + shapeNode + " overflows");
            }
        }
        if (offsets == null || !offsets.isArray() || offsets.size() != 2 || !offsets.get(0).canConvertToLong()
                || !offsets.get(1).canConvertToLong() || !offsets.get(0).isIntegralNumber() || !offsets.get(1).isIntegralNumber())
            throw new FormatException(where + ": data_offsets must be two integers");
        long begin = offsets.get(0).asLong(), end = offsets.get(1).asLong();
        if (begin < 0 || end < begin || end > dataSize)
            throw new FormatException(where + ": data_offsets [" + begin + ", " + end + "] outside the " + dataSize
                    + "-byte data section");
        long expected;
        try {
            expected = Math.multiplyExact(elements, (long) dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new FormatException(where + ": shape " + shapeNode + " overflows");
        }
        if (end - begin != expected)
            throw new FormatException(where + ": " + dtype + " " + Arrays.toString(shape) + " needs " + expected
                    + " bytes but data_offsets span " + (end - begin));
        return new Entry(name, dtype, shape, begin, end);
    }

    /** Spans must not overlap, and (as in the reference implementation) must cover the data with no holes. */
    private static void checkLayout(Path path, Iterable<Entry> entries, long dataSize) {
        List<Entry> sorted = new ArrayList<>();
        entries.forEach(sorted::add);
        sorted.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long cursor = 0;
        for (Entry e : sorted) {
            if (e.begin() < cursor)
                throw new FormatException(path + ": tensor '" + e.name() + "' overlaps another tensor at byte " + e.begin());
            if (e.begin() > cursor)
                throw new FormatException(path + ": bytes [" + cursor + ", " + e.begin() + ") of the data belong to no tensor");
            cursor = e.end();
        }
        if (cursor != dataSize)
            throw new FormatException(path + ": data section has " + dataSize + " bytes but tensors cover " + cursor);
    }

    public Path path() {
        return path;
    }

    /** Whether the data is mapped from the file or was read into memory. */
    public OpenMode mode() {
        return mode;
    }

    /** Tensor names, sorted. */
    public List<String> names() {
        return List.copyOf(entries.keySet());
    }

    public boolean contains(String name) {
        return entries.containsKey(name);
    }

    public Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) throw new FormatException(path + ": no tensor named '" + name + "'");
        return e;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    /**
     * A zero-copy view of a tensor (of the mapped file or of the copy in memory); valid until this file is closed.
     * A view of a mapped file must not reach native code if the file may shrink meanwhile (see the class comment).
     */
    public Tensor tensor(String name) {
        Entry e = entry(name);
        return Tensor.wrap(data.asSlice(e.begin(), e.byteSize()), e.dtype(), e.shape());
    }

    /**
     * A tensor whose memory is 64-byte aligned, as kernels like it: the mapped view when it already is,
     * otherwise a copy made once into {@code arena}.
     */
    public Tensor alignedTensor(String name, Arena arena) {
        Tensor view = tensor(name);
        if (view.segment().address() % Tensor.ALIGNMENT == 0) return view;
        Tensor copy = Tensor.allocate(arena, view.dtype(), view.shape());
        MemorySegment.copy(view.segment(), 0, copy.segment(), 0, view.byteSize());
        return copy;
    }

    /** Reads a small tensor into a float array (e.g. a test reference); any numeric dtype. */
    public float[] floats(String name) {
        return tensor(name).toFloatArray();
    }

    /** Reads a small I32/I64 tensor into an int array. */
    public int[] ints(String name) {
        Tensor t = tensor(name);
        int[] out = new int[Math.toIntExact(t.elementCount())];
        for (int i = 0; i < out.length; i++)
            out[i] = switch (t.dtype()) {
                case I32 -> t.segment().getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i);
                case I64 -> Math.toIntExact(t.segment().getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i));
                default -> throw new FormatException(path + ": tensor '" + name + "' is " + t.dtype() + ", not an integer type");
            };
        return out;
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) arena.close();
    }
}
