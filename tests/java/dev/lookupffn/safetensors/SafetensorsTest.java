package dev.lookupffn.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.LookupFfnException.FormatException;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {
    @TempDir
    Path dir;

    @Test
    void roundTripsEveryDTypeZeroCopy() {
        Path p = dir.resolve("t.safetensors");
        try (Tensor a = Tensor.ofFloats(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
             Tensor b = Tensor.allocate(DType.BF16, 3); Tensor c = Tensor.allocate(DType.I64, 2);
             Tensor e = Tensor.allocate(DType.F16, 1)) {
            b.segment().setAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT, 1, (short) 0x3FC0); // 1.5
            c.segment().setAtIndex(java.lang.foreign.ValueLayout.JAVA_LONG, 1, 7L);
            e.segment().setAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT, 0, Float.floatToFloat16(-2.5f));
            SafetensorsWriter.write(p, Map.of("a", a, "b", b, "c", c, "e", e), Map.of("k", "v"));
        }
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(java.util.List.of("a", "b", "c", "e"), f.names());
            assertEquals("v", f.metadata().get("k"));
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, f.floats("a"));
            assertArrayEquals(new long[] {2, 3}, f.tensor("a").shape());
            assertEquals(1.5f, f.tensor("b").getFloat(1));
            assertArrayEquals(new int[] {0, 7}, f.ints("c"));
            assertEquals(-2.5f, f.tensor("e").getFloat(0));
            try (Arena arena = Arena.ofConfined()) {
                assertEquals(0, f.alignedTensor("a", arena).segment().address() % 64);
            }
        }
    }

    @Test
    void fixturesOpen() {
        try (SafetensorsFile f = SafetensorsFile.open(Path.of("tests/resources/fixtures/lookupffn-bh4-small.safetensors"))) {
            assertArrayEquals(new long[] {1, 4, 8, 32, 32}, f.tensor("hash.projection.weight").shape());
            assertEquals("bh4", f.metadata().get("projection"));
        }
    }

    Path file(String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Path p = Files.createTempFile(dir, "bad", ".safetensors");
        Files.write(p, b.array());
        return p;
    }

    void assertRejected(Path p, String fragment) {
        var e = assertThrows(FormatException.class, () -> SafetensorsFile.open(p).close());
        assertTrue(e.getMessage().contains(fragment) && e.getMessage().contains(p.toString()), e.getMessage());
    }

    @Test
    void hostileFilesAreTypedErrors() throws IOException {
        assertRejected(Files.write(dir.resolve("empty.safetensors"), new byte[0]), "at least 8");
        Path huge = Files.write(dir.resolve("huge.safetensors"),
                ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(Long.MAX_VALUE).array());
        assertRejected(huge, "header length");
        assertRejected(file("not json at all", 0), "not valid JSON");
        assertRejected(file("[1,2]", 0), "not a JSON object");
        assertRejected(file("{\"a\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "unsupported dtype");
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4), "needs 8 bytes");
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 2), "outside");
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}", 6), "overlaps");
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8), "not valid JSON");
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4), "invalid dimension");
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,4]}}", 4), "overflows");
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4), "data_offsets");
        assertRejected(dir.resolve("missing.safetensors"), "no such file");
        byte[] notUtf8 = {8, 0, 0, 0, 0, 0, 0, 0, '{', (byte) 0xC3, (byte) 0x28, '}', ' ', ' ', ' ', ' '};
        assertRejected(Files.write(dir.resolve("utf.safetensors"), notUtf8), "UTF-8");
        // truncated: a real file cut short
        byte[] real = Files.readAllBytes(Path.of("tests/resources/fixtures/lookupffn-dense-small.safetensors"));
        assertRejected(Files.write(dir.resolve("cut.safetensors"), java.util.Arrays.copyOf(real, real.length - 100)), "outside");
    }

    /** Rewrites a file in place the way Python's open(path, "wb") does: truncate to zero, then write. */
    static void rewriteInPlace(Path p, byte[] content) throws IOException {
        try (var ch = java.nio.channels.FileChannel.open(p, java.nio.file.StandardOpenOption.WRITE,
                java.nio.file.StandardOpenOption.TRUNCATE_EXISTING)) {
            ch.write(ByteBuffer.wrap(content));
        }
    }

    /**
     * The README's pattern, layer.forward(file.tensor("input")), on a file opened with COPY: the file truncated
     * (then rewritten shorter) after opening changes nothing. Mapped, the same sequence kills the JVM with SIGBUS in
     * the kernel, which is why it is not run here (LayerCommandTest runs the CLI's case in a child JVM).
     */
    @Test
    void aCopiedFileMayShrinkWhileOpen() throws IOException {
        Path fixture = Path.of("tests/resources/fixtures/lookupffn-bh4-small.safetensors");
        Path p = Files.copy(fixture, dir.resolve("rewritten.safetensors"));
        float[] want;
        try (SafetensorsFile f = SafetensorsFile.open(fixture)) {
            want = f.floats("output");
        }
        try (SafetensorsFile f = SafetensorsFile.open(p, SafetensorsFile.OpenMode.COPY);
             dev.lookupffn.layer.LookupFfn layer = dev.lookupffn.layer.LookupFfn.load(f, "", dev.lookupffn.layer.LookupFfn.Options.DEFAULT)) {
            assertEquals(SafetensorsFile.OpenMode.COPY, f.mode());
            rewriteInPlace(p, new byte[0]);
            assertEquals(0, Files.size(p));
            Tensor x = f.tensor("input");
            try (Tensor y = layer.forward(x)) {
                double err = dev.lookupffn.ffi.Reference.relativeError(y.toFloatArray(), want);
                assertTrue(err <= 1e-5, "relative error " + err);
            }
            rewriteInPlace(p, "short".getBytes(StandardCharsets.UTF_8));
            assertArrayEquals(f.floats("input"), f.tensor("input").toFloatArray());
            try (Arena arena = Arena.ofConfined()) {
                assertEquals(0, f.alignedTensor("input", arena).segment().address() % 64);
            }
        }
    }

    /** A copying open of a file that is shorter than its header claims is the same typed error as a mapped open. */
    @Test
    void aCopyingOpenValidatesLikeAMappedOne() throws IOException {
        byte[] real = Files.readAllBytes(Path.of("tests/resources/fixtures/lookupffn-dense-small.safetensors"));
        Path cut = Files.write(dir.resolve("cut.safetensors"), java.util.Arrays.copyOf(real, real.length - 100));
        var e = assertThrows(FormatException.class, () -> SafetensorsFile.open(cut, SafetensorsFile.OpenMode.COPY).close());
        assertTrue(e.getMessage().contains("outside") && e.getMessage().contains(cut.toString()), e.getMessage());
        Path whole = Files.write(dir.resolve("whole.safetensors"), real);
        try (SafetensorsFile m = SafetensorsFile.open(whole); SafetensorsFile c = SafetensorsFile.open(whole, SafetensorsFile.OpenMode.COPY)) {
            assertEquals(SafetensorsFile.OpenMode.MAP, m.mode());
            assertEquals(m.names(), c.names());
            assertEquals(m.metadata(), c.metadata());
            for (String n : m.names()) assertArrayEquals(m.floats(n), c.floats(n), n);
        }
    }

    /**
     * A layer copies its weights when it loads, so the mapped weights file may shrink afterwards: forward never
     * reads it (were it read, this test would die of SIGBUS).
     */
    @Test
    void aLoadedLayerNoLongerReadsItsMappedWeights() throws IOException {
        Path fixture = Path.of("tests/resources/fixtures/lookupffn-dense-small.safetensors");
        Path p = Files.copy(fixture, dir.resolve("weights.safetensors"));
        float[] want, input;
        long[] inputShape;
        try (SafetensorsFile f = SafetensorsFile.open(fixture)) {
            want = f.floats("output");
            input = f.floats("input");
            inputShape = f.tensor("input").shape();
        }
        try (SafetensorsFile f = SafetensorsFile.open(p);
             dev.lookupffn.layer.LookupFfn layer = dev.lookupffn.layer.LookupFfn.load(f, "", dev.lookupffn.layer.LookupFfn.Options.DEFAULT);
             Tensor x = Tensor.ofFloats(input, inputShape)) {
            rewriteInPlace(p, new byte[0]);
            try (Tensor y = layer.forward(x)) {
                double err = dev.lookupffn.ffi.Reference.relativeError(y.toFloatArray(), want);
                assertTrue(err <= 1e-5, "relative error " + err);
            }
            // Java reads of the now missing pages are an InternalError, never a crash
            assertThrows(InternalError.class, () -> f.floats("tables"));
        }
    }
}
