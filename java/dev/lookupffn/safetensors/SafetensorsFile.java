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
 * A safetensors file, memory-mapped into an arena this object owns: {@link #tensor} hands out zero-copy views
 * that stay valid until {@link #close()}. Every header field is validated against the file before any tensor is
 * handed out (header size, UTF-8 JSON, dtypes, shapes × dtype size = byte span, spans inside the data and not
 * overlapping, no duplicate names), so a corrupt or lying file is a {@link FormatException} naming the file
 * and the tensor, never a wild read.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** Headers larger than this are refused (the format's reference implementation uses the same bound). */
    public static final long MAX_HEADER_BYTES = 100L << 20;

    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    /** Where a tensor lives: [begin, end) bytes from the start of the data section. */
    public record Entry(String name, DType dtype, long[] shape, long begin, long end) {
        public long byteSize() {
            return end - begin;
        }
    }

    private final Path path;
    private final Arena arena;
    private final MemorySegment data;
    private final SortedMap<String, Entry> entries;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, Arena arena, MemorySegment data, SortedMap<String, Entry> entries,
                            Map<String, String> metadata) {
        this.path = path;
        this.arena = arena;
        this.data = data;
        this.entries = entries;
        this.metadata = metadata;
    }

    /** Opens and validates a file; the caller closes it. */
    public static SafetensorsFile open(Path path) {
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
            MemorySegment mapped = dataSize == 0 ? MemorySegment.NULL.reinterpret(0)
                    : ch.map(FileChannel.MapMode.READ_ONLY, dataStart, dataSize, arena);
            return new SafetensorsFile(path, arena, mapped, Collections.unmodifiableSortedMap(entries),
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

    /** A zero-copy view of a tensor; valid until this file is closed. */
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
