package dev.lookupffn.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import dev.lookupffn.LookupFfnException.FormatException;
import dev.lookupffn.onnx.OnnxModel;
import dev.lookupffn.tensor.DType;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Malformed ONNX files are {@link FormatException}s naming the file and, where it applies, the tensor. */
class HostileOnnxTest {
    @TempDir
    Path dir;

    /** A TensorProto: dims, data type, name, then raw data or float_data. */
    static byte[] tensor(String name, int dataType, long[] dims, byte[] raw, float[] floatData, boolean external) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        CodedOutputStream out = CodedOutputStream.newInstance(bytes);
        for (long d : dims) out.writeInt64(1, d);
        out.writeInt32(2, dataType);
        if (floatData != null) for (float f : floatData) out.writeFloat(4, f);
        out.writeString(8, name);
        if (raw != null) out.writeBytes(9, ByteString.copyFrom(raw));
        if (external) out.writeInt32(14, 1);
        out.flush();
        return bytes.toByteArray();
    }

    static byte[] node(String op, String name, String[] in, String[] outs) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        CodedOutputStream out = CodedOutputStream.newInstance(bytes);
        for (String s : in) out.writeString(1, s);
        for (String s : outs) out.writeString(2, s);
        out.writeString(3, name);
        out.writeString(4, op);
        out.flush();
        return bytes.toByteArray();
    }

    static byte[] model(byte[][] nodes, byte[]... initializers) throws IOException {
        ByteArrayOutputStream g = new ByteArrayOutputStream();
        CodedOutputStream go = CodedOutputStream.newInstance(g);
        for (byte[] n : nodes) go.writeByteArray(1, n);
        for (byte[] t : initializers) go.writeByteArray(5, t);
        go.flush();
        ByteArrayOutputStream m = new ByteArrayOutputStream();
        CodedOutputStream mo = CodedOutputStream.newInstance(m);
        mo.writeInt64(1, 8);
        mo.writeByteArray(7, g.toByteArray());
        mo.flush();
        return m.toByteArray();
    }

    static byte[] floats(float... v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) b.putFloat(f);
        return b.array();
    }

    Path write(String name, byte[] bytes) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    FormatException fails(Path p, String... mustMention) {
        FormatException e = assertThrows(FormatException.class, () -> OnnxModel.read(p).close());
        assertTrue(e.getMessage().contains(p.toString()), "message should name the file: " + e.getMessage());
        for (String s : mustMention) assertTrue(e.getMessage().contains(s), "message should mention '" + s + "': " + e.getMessage());
        return e;
    }

    @Test
    void aWellFormedModelParses() throws IOException {
        Path p = write("ok.onnx", model(new byte[0][], tensor("w", 1, new long[] {2, 2}, floats(1, 2, 3, 4), null, false),
                tensor("f", 1, new long[] {3}, null, new float[] {5, 6, 7}, false)));
        try (OnnxModel m = OnnxModel.read(p)) {
            assertEquals(DType.F32, m.initializer("w").dtype());
            assertArrayEquals(new float[] {1, 2, 3, 4}, m.initializer("w").toFloatArray());
            assertArrayEquals(new float[] {5, 6, 7}, m.initializer("f").toFloatArray());
            assertEquals(0, m.initializer("w").segment().address() % 64, "initializer data is copied aligned");
        }
    }

    @Test
    void rawDataOfTheWrongSizeNamesTheTensor() throws IOException {
        fails(write("lying.onnx", model(new byte[0][], tensor("encoder.layer.0.big", 1, new long[] {10, 10}, floats(1, 2), null, false))),
                "encoder.layer.0.big", "400");
    }

    @Test
    void floatDataOfTheWrongCountNamesTheTensor() throws IOException {
        fails(write("count.onnx", model(new byte[0][], tensor("short", 1, new long[] {4}, null, new float[] {1, 2}, false))),
                "short");
    }

    @Test
    void unknownDataTypeNamesTheTensor() throws IOException {
        fails(write("dtype.onnx", model(new byte[0][], tensor("strange", 99, new long[] {1}, new byte[4], null, false))),
                "strange", "99");
    }

    @Test
    void externalDataIsRejected() throws IOException {
        fails(write("external.onnx", model(new byte[0][], tensor("outside", 1, new long[] {1}, null, null, true))),
                "outside", "external");
    }

    @Test
    void negativeOrHugeDimensionsAreRejected() throws IOException {
        fails(write("neg.onnx", model(new byte[0][], tensor("neg", 1, new long[] {-1}, new byte[4], null, false))), "neg");
        fails(write("huge.onnx", model(new byte[0][], tensor("huge", 1, new long[] {1L << 40, 1L << 40}, new byte[4], null, false))), "huge");
    }

    @Test
    void truncatedFilesAreFormatErrors() throws IOException {
        byte[] good = model(new byte[0][], tensor("a", 1, new long[] {64}, new byte[256], null, false),
                tensor("b", 1, new long[] {64}, new byte[256], null, false));
        for (int cut : new int[] {1, 5, 20, good.length / 2, good.length - 3}) {
            byte[] part = java.util.Arrays.copyOf(good, cut);
            fails(write("cut" + cut + ".onnx", part));
        }
    }

    @Test
    void theEmbeddedModelTruncatedNamesTheCutTensor() throws IOException {
        byte[] all;
        try (InputStream in = Encoder.class.getResourceAsStream(Encoder.DEFAULT_MODEL_RESOURCE)) {
            all = in.readAllBytes();
        }
        Path p = write("minilm-cut.onnx", java.util.Arrays.copyOf(all, all.length / 2));
        FormatException e = fails(p, "truncated");
        assertTrue(e.getMessage().contains("'"), "names a tensor: " + e.getMessage());
    }

    @Test
    void garbageAndEmptyFilesAreFormatErrors() throws IOException {
        byte[] junk = new byte[4096];
        new Random(1).nextBytes(junk);
        fails(write("junk.onnx", junk));
        fails(write("empty.onnx", new byte[0]), "no graph");
        assertThrows(FormatException.class, () -> OnnxModel.read(dir.resolve("missing.onnx")));
    }

    @Test
    void anAnonymousWeightThatCannotBeMappedIsAnImportError() throws IOException {
        byte[][] nodes = {node("MatMul", "", new String[] {"x", "onnx::MatMul_1"}, new String[] {"y"})};
        Path p = write("anon.onnx", model(nodes, tensor("onnx::MatMul_1", 1, new long[] {2, 2}, floats(1, 2, 3, 4), null, false)));
        try (OnnxModel m = OnnxModel.read(p)) {
            FormatException e = assertThrows(FormatException.class, () -> OnnxImport.importEncoder(m));
            assertTrue(e.getMessage().contains("onnx::MatMul_1") && e.getMessage().contains(p.toString()), e.getMessage());
        }
    }

    @Test
    void scopePathsNameAnonymousWeights() {
        assertEquals("encoder.layer.3.attention.self.query", OnnxImport.scopeBase("/encoder/layer.3/attention/self/query/MatMul"));
        assertEquals("encoder.layer.0.output.dense", OnnxImport.scopeBase("/bert/encoder/layer.0/output/dense/MatMul"));
        assertEquals(null, OnnxImport.scopeBase("MatMul_12"));
    }

    @Test
    void loadingAMalformedOnnxThroughEncoderIsAFormatError() throws IOException {
        Path p = write("model.onnx", model(new byte[0][], tensor("w", 1, new long[] {2}, floats(1, 2), null, false)));
        Files.writeString(dir.resolve("tokenizer.json"), "{}");
        assertThrows(FormatException.class, () -> Encoder.load(p).close());
    }
}
