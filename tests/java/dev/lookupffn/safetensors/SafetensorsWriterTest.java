package dev.lookupffn.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.LookupFfnException;
import dev.lookupffn.LookupFfnException.FormatException;
import dev.lookupffn.LookupFfnException.ShapeException;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The writer refuses, before writing anything, every file its reader would reject; what it accepts reads back. */
class SafetensorsWriterTest {
    @TempDir
    Path dir;

    private <E extends LookupFfnException> void assertRefused(Class<E> type, String fragment, Map<String, Tensor> tensors,
                                                              Map<String, String> metadata) {
        Path out = dir.resolve("refused.safetensors");
        E e = assertThrows(type, () -> SafetensorsWriter.write(out, tensors, metadata));
        assertTrue(e.getMessage().contains(fragment) && e.getMessage().contains(out.toString()), e.getMessage());
        assertFalse(Files.exists(out), "a refused write must not create the file");
    }

    @Test
    void refusesWhatTheReaderRejects() {
        try (Tensor t = Tensor.ofFloats(new float[] {1, 2}, 2)) {
            assertRefused(FormatException.class, "'__metadata__' is reserved", Map.of("__metadata__", t), null);
            assertRefused(FormatException.class, "tensor name is empty", Map.of("", t), null);
            assertRefused(FormatException.class, "lone surrogate", Map.of("bad\uD800name", t), null);
            assertRefused(FormatException.class, "lone surrogate", Map.of("x", t), Map.of("key", "v\uDC00"));
            assertRefused(FormatException.class, "lone surrogate", Map.of("x", t), Map.of("k\uD83D", "v"));
            Map<String, String> nullValue = new HashMap<>();
            nullValue.put("format", null);
            assertRefused(FormatException.class, "null value", Map.of("x", t), nullValue);
            Map<String, String> nullKey = new HashMap<>();
            nullKey.put(null, "v");
            assertRefused(FormatException.class, "metadata key is null", Map.of("x", t), nullKey);
            Map<String, Tensor> nullName = new HashMap<>();
            nullName.put(null, t);
            assertRefused(FormatException.class, "tensor name is null", nullName, null);
            Map<String, Tensor> nullTensor = new HashMap<>();
            nullTensor.put("x", null);
            assertRefused(ShapeException.class, "'x' is null", nullTensor, null);
            // a header over the reader's limit: one metadata value just too big
            String big = "x".repeat((int) SafetensorsFile.MAX_HEADER_BYTES);
            assertRefused(FormatException.class, "over the " + SafetensorsFile.MAX_HEADER_BYTES, Map.of("x", t), Map.of("k", big));
        }
        Tensor closed = Tensor.ofFloats(new float[] {1}, 1);
        closed.close();
        assertRefused(ShapeException.class, "'c' is closed", Map.of("c", closed), null);
    }

    /** Names and metadata of every kind the format allows, and every dtype and odd shape, read back unchanged. */
    @Test
    void roundTripsWhatItAccepts() {
        Random rnd = new Random(3);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        String[] names = {"a", "__metadata", "_metadata__", "名前", "emoji 😀", "quote\"back\\slash", "new\nline", "\u0000nul",
                "x".repeat(1000), " "};
        DType[] dtypes = DType.values();
        try {
            for (int i = 0; i < names.length; i++) {
                DType d = dtypes[i % dtypes.length];
                long[] shape = switch (i % 4) {
                    case 0 -> new long[] {};
                    case 1 -> new long[] {0, 3};
                    case 2 -> new long[] {2, 3, 1};
                    default -> new long[] {5};
                };
                Tensor t = Tensor.allocate(d, shape);
                for (long b = 0; b < t.byteSize(); b++) t.segment().set(java.lang.foreign.ValueLayout.JAVA_BYTE, b, (byte) rnd.nextInt());
                tensors.put(names[i], t);
            }
            Map<String, String> metadata = Map.of("", "empty key", "format", "pt", "ü", "\uD83D\uDE00", "empty", "");
            Path out = dir.resolve("all.safetensors");
            SafetensorsWriter.write(out, tensors, metadata);
            try (SafetensorsFile f = SafetensorsFile.open(out)) {
                assertEquals(metadata, f.metadata());
                assertEquals(tensors.keySet().stream().sorted().toList(), f.names());
                for (var e : tensors.entrySet()) {
                    Tensor got = f.tensor(e.getKey());
                    assertEquals(e.getValue().dtype(), got.dtype(), e.getKey());
                    assertArrayEquals(e.getValue().shape(), got.shape(), e.getKey());
                    assertArrayEquals(e.getValue().segment().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE),
                            got.segment().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), e.getKey());
                }
            }
            SafetensorsWriter.write(dir.resolve("empty.safetensors"), Map.of(), null);
            try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("empty.safetensors"))) {
                assertEquals(0, f.names().size());
            }
        } finally {
            tensors.values().forEach(Tensor::close);
        }
    }
}
