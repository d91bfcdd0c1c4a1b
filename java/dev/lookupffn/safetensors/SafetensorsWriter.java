package dev.lookupffn.safetensors;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lookupffn.LookupFfnException.FormatException;
import dev.lookupffn.LookupFfnException.ShapeException;
import dev.lookupffn.io.OutputFile;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes safetensors files: sorted names, header padded to 8 bytes, through {@link OutputFile} (atomic replace,
 * symlinks followed, permissions kept, no temp file left behind). Everything {@link SafetensorsFile} requires is
 * checked before a byte is written, so the writer never produces a file its reader rejects: tensor names are
 * non-empty, valid Unicode and not {@code __metadata__}; metadata keys and values are non-null, valid Unicode;
 * each tensor's byte size is its shape times its dtype size; the header fits {@link SafetensorsFile#MAX_HEADER_BYTES}.
 */
public final class SafetensorsWriter {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int WRITE_CHUNK = 1 << 30;

    private SafetensorsWriter() {}

    /**
     * Writes {@code tensors} (name to tensor) and {@code metadata} (may be null) to {@code path}.
     *
     * @throws FormatException a name or metadata entry that the format cannot hold
     * @throws ShapeException a tensor whose bytes do not match its dtype and shape, or a closed tensor
     * @throws UncheckedIOException the file cannot be written (the message names it)
     */
    public static void write(Path path, Map<String, Tensor> tensors, Map<String, String> metadata) {
        if (tensors == null) throw new ShapeException("cannot write " + path + ": the tensor map is null");
        TreeMap<String, Tensor> sorted = new TreeMap<>();
        for (var e : tensors.entrySet()) {
            checkName(path, e.getKey());
            checkTensor(path, e.getKey(), e.getValue());
            sorted.put(e.getKey(), e.getValue());
        }
        ObjectNode header = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode meta = header.putObject("__metadata__");
            for (var m : metadata.entrySet()) {
                if (m.getKey() == null) throw new FormatException("cannot write " + path + ": a metadata key is null");
                if (m.getValue() == null)
                    throw new FormatException("cannot write " + path + ": metadata '" + m.getKey() + "' has a null value (safetensors metadata values are strings)");
                checkUnicode(path, "metadata key", m.getKey());
                checkUnicode(path, "metadata '" + m.getKey() + "' value", m.getValue());
                meta.put(m.getKey(), m.getValue());
            }
        }
        long offset = 0;
        for (var e : sorted.entrySet()) {
            Tensor t = e.getValue();
            ObjectNode node = header.putObject(e.getKey());
            node.put("dtype", t.dtype().name());
            ArrayNode shape = node.putArray("shape");
            for (long d : t.shape()) shape.add(d);
            node.putArray("data_offsets").add(offset).add(offset + t.byteSize());
            offset += t.byteSize();
        }
        byte[] json;
        try {
            json = JSON.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        long padded = (json.length + 7L) / 8 * 8;
        if (padded > SafetensorsFile.MAX_HEADER_BYTES)
            throw new FormatException("cannot write " + path + ": the header would be " + padded + " bytes, over the "
                    + SafetensorsFile.MAX_HEADER_BYTES + " that readers accept (too many tensors or too much metadata)");
        ByteBuffer head = ByteBuffer.allocate(Math.toIntExact(8 + padded)).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) head.put((byte) ' ');
        head.flip();
        try {
            OutputFile.write(path, out -> {
                writeFully(out, head);
                for (Tensor t : sorted.values()) {
                    MemorySegment s = t.segment();
                    for (long pos = 0; pos < s.byteSize(); pos += WRITE_CHUNK)
                        writeFully(out, s.asSlice(pos, Math.min(WRITE_CHUNK, s.byteSize() - pos)).asByteBuffer());
                }
            });
        } catch (IOException e) {
            String m = e.getMessage();
            throw new UncheckedIOException(m != null && m.startsWith("cannot write") ? m : "cannot write " + path + ": " + m, e);
        }
    }

    private static void writeFully(WritableByteChannel out, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) out.write(b);
    }

    private static void checkName(Path path, String name) {
        if (name == null) throw new FormatException("cannot write " + path + ": a tensor name is null");
        if (name.isEmpty()) throw new FormatException("cannot write " + path + ": a tensor name is empty");
        if (name.equals("__metadata__"))
            throw new FormatException("cannot write " + path + ": '__metadata__' is reserved for the metadata and cannot name a tensor");
        checkUnicode(path, "tensor name", name);
    }

    /** A Java string with a lone surrogate has no UTF-8 form: getBytes would silently write '?' instead. */
    private static void checkUnicode(Path path, String what, String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) i++;
            else if (Character.isSurrogate(c))
                throw new FormatException("cannot write " + path + ": " + what + " '" + s.replace(c, '\uFFFD')
                        + "' has a lone surrogate at index " + i + " (not valid UTF-8)");
        }
    }

    private static void checkTensor(Path path, String name, Tensor t) {
        if (t == null) throw new ShapeException("cannot write " + path + ": tensor '" + name + "' is null");
        MemorySegment s = t.segment();
        if (!s.scope().isAlive()) throw new ShapeException("cannot write " + path + ": tensor '" + name + "' is closed");
        DType dtype = t.dtype();
        long expected;
        try {
            expected = Math.multiplyExact(dtype.byteSize(), Arrays.stream(t.shape()).reduce(1, Math::multiplyExact));
        } catch (ArithmeticException e) {
            throw new ShapeException("cannot write " + path + ": tensor '" + name + "' shape " + Arrays.toString(t.shape()) + " overflows");
        }
        if (Arrays.stream(t.shape()).anyMatch(d -> d < 0) || expected != s.byteSize())
            throw new ShapeException("cannot write " + path + ": tensor '" + name + "' is " + dtype + " "
                    + Arrays.toString(t.shape()) + " (" + expected + " bytes) but holds " + s.byteSize() + " bytes");
    }
}
