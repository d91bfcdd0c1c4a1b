package dev.lookupffn.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.lookupffn.LookupFfnException.FormatException;
import dev.lookupffn.onnx.OnnxModel;
import dev.lookupffn.safetensors.SafetensorsWriter;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import dev.lookupffn.tokenizer.Encoding;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A HuggingFace folder (config.json + model.safetensors in nn.Linear layout + tokenizer.json) written from the
 * embedded ONNX model embeds like ONNX Runtime runs that model (an independent reference: a folder written through
 * a wrong import mapping would agree with the import, not with ONNX Runtime); so does a "bert."-prefixed checkpoint
 * with sentence-transformers' pooling files. An .onnx file with its tokenizer beside it loads like the default model.
 */
class HfFolderTest {
    static final String CONFIG = """
            {"model_type": "bert", "vocab_size": 30522, "hidden_size": 384, "num_hidden_layers": 6,
             "num_attention_heads": 12, "intermediate_size": 1536, "max_position_embeddings": 512,
             "type_vocab_size": 2, "pad_token_id": 0, "layer_norm_eps": 1e-12, "hidden_act": "gelu"}
            """;

    static void writeFolder(Path dir, String prefix) throws Exception {
        Files.createDirectories(dir);
        try (InputStream in = Encoder.class.getResourceAsStream(Encoder.DEFAULT_MODEL_RESOURCE);
             OnnxModel onnx = OnnxModel.read(in, "minilm")) {
            OnnxImport.Imported imp = OnnxImport.importEncoder(onnx);
            Map<String, Tensor> out = new TreeMap<>();
            List<Tensor> owned = new ArrayList<>();
            for (var e : imp.tensors().entrySet()) {
                Tensor t = e.getValue();
                if (imp.weights().isInOut(e.getKey())) { // [in, out] → nn.Linear [out, in]
                    long in2 = t.dim(0), o = t.dim(1);
                    Tensor tr = Tensor.allocate(DType.F32, o, in2);
                    for (long r = 0; r < in2; r++) for (long c = 0; c < o; c++) tr.setFloat(c * in2 + r, t.getFloat(r * o + c));
                    owned.add(tr);
                    t = tr;
                }
                if (t.dtype() == DType.F32) out.put(prefix + e.getKey(), t);
            }
            SafetensorsWriter.write(dir.resolve("model.safetensors"), out, Map.of("format", "pt"));
            owned.forEach(Tensor::close);
        }
        Files.writeString(dir.resolve("config.json"), CONFIG);
        try (InputStream in = Encoder.class.getResourceAsStream(Encoder.DEFAULT_TOKENIZER_RESOURCE)) {
            Files.copy(in, dir.resolve("tokenizer.json"));
        }
    }

    static final List<String> TEXTS = List.of("hello world", "A folder-loaded model should agree.", "");

    /** Per-text agreement with ONNX Runtime, as in {@link MiniLmOnnxRuntimeTest}. */
    static final double MIN_COSINE = 0.99999, MAX_ABS = 1e-4;

    /**
     * ONNX Runtime on the embedded model's bytes, one sequence at a time (no padding): the CLS row or the mean of the
     * token rows, L2-normalised when asked.
     */
    static float[][] onnxRuntime(List<int[]> seqs, Encoder.Pooling pooling, boolean normalize) throws Exception {
        byte[] bytes;
        try (InputStream in = Encoder.class.getResourceAsStream(Encoder.DEFAULT_MODEL_RESOURCE)) {
            bytes = in.readAllBytes();
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        float[][] out = new float[seqs.size()][];
        try (OrtSession session = env.createSession(bytes, new OrtSession.SessionOptions())) {
            for (int i = 0; i < seqs.size(); i++) {
                int t = seqs.get(i).length;
                long[][] ids = new long[1][t], mask = new long[1][t], types = new long[1][t];
                for (int j = 0; j < t; j++) {
                    ids[0][j] = seqs.get(i)[j];
                    mask[0][j] = 1;
                }
                try (OnnxTensor a = OnnxTensor.createTensor(env, ids); OnnxTensor m = OnnxTensor.createTensor(env, mask);
                     OnnxTensor tt = OnnxTensor.createTensor(env, types);
                     OrtSession.Result r = session.run(Map.of("input_ids", a, "attention_mask", m, "token_type_ids", tt))) {
                    float[][] hidden = ((float[][][]) r.get(0).getValue())[0];
                    int h = hidden[0].length, rows = pooling == Encoder.Pooling.CLS ? 1 : t;
                    double[] acc = new double[h];
                    for (int j = 0; j < rows; j++) for (int c = 0; c < h; c++) acc[c] += hidden[j][c];
                    double norm = 0;
                    for (int c = 0; c < h; c++) {
                        acc[c] /= rows;
                        norm += acc[c] * acc[c];
                    }
                    double scale = normalize ? 1 / Math.max(Math.sqrt(norm), 1e-12) : 1;
                    out[i] = new float[h];
                    for (int c = 0; c < h; c++) out[i][c] = (float) (acc[c] * scale);
                }
            }
        }
        return out;
    }

    static List<int[]> ids(Encoder encoder, List<String> texts) {
        List<int[]> out = new ArrayList<>();
        for (String text : texts) {
            Encoding e = encoder.tokenizer().encode(text, true);
            out.add(Arrays.copyOf(e.ids(), e.realLength()));
        }
        return out;
    }

    static void assertClose(float[][] want, float[][] got, String what) {
        for (int i = 0; i < want.length; i++) {
            double dot = 0, nw = 0, ng = 0, worst = 0;
            for (int c = 0; c < want[i].length; c++) {
                dot += (double) want[i][c] * got[i][c];
                nw += (double) want[i][c] * want[i][c];
                ng += (double) got[i][c] * got[i][c];
                worst = Math.max(worst, Math.abs(want[i][c] - got[i][c]));
            }
            double cosine = dot / Math.sqrt(nw * ng);
            assertTrue(cosine >= MIN_COSINE && worst <= MAX_ABS,
                    what + ", text " + i + ": cosine " + cosine + ", max |Δ| " + worst + " against ONNX Runtime");
        }
    }

    @Test
    void aHfFolderEmbedsLikeOnnxRuntime(@TempDir Path dir) throws Exception {
        writeFolder(dir.resolve("plain"), "");
        writeFolder(dir.resolve("prefixed"), "bert.");
        Files.writeString(dir.resolve("prefixed").resolve("modules.json"), "[{\"type\": \"sentence_transformers.models.Pooling\"}]");
        Files.createDirectories(dir.resolve("prefixed").resolve("1_Pooling"));
        Files.writeString(dir.resolve("prefixed").resolve("1_Pooling").resolve("config.json"), "{\"pooling_mode_cls_token\": true}");
        try (Encoder folder = Encoder.load(dir.resolve("plain")); Encoder prefixed = Encoder.load(dir.resolve("prefixed"))) {
            assertEquals(Encoder.Pooling.MEAN, folder.pooling());
            assertTrue(folder.normalizes());
            List<int[]> ids = ids(folder, TEXTS);
            assertClose(onnxRuntime(ids, Encoder.Pooling.MEAN, true), folder.embed(TEXTS), "mean");
            // sentence-transformers files: CLS pooling, no Normalize module
            assertEquals(Encoder.Pooling.CLS, prefixed.pooling());
            assertTrue(!prefixed.normalizes());
            assertClose(onnxRuntime(ids, Encoder.Pooling.CLS, false), prefixed.embed(TEXTS), "CLS");
        }
    }

    @Test
    void anOnnxFileWithItsTokenizerBesideIt(@TempDir Path dir) throws Exception {
        try (InputStream in = Encoder.class.getResourceAsStream(Encoder.DEFAULT_MODEL_RESOURCE)) {
            Files.copy(in, dir.resolve("model.onnx"));
        }
        try (InputStream in = Encoder.class.getResourceAsStream(Encoder.DEFAULT_TOKENIZER_RESOURCE)) {
            Files.copy(in, dir.resolve("tokenizer.json"));
        }
        try (Encoder ref = Encoder.loadDefault(); Encoder file = Encoder.load(dir.resolve("model.onnx"));
             Encoder folder = Encoder.load(dir)) {
            float[][] a = ref.embed(TEXTS), b = file.embed(TEXTS), c = folder.embed(TEXTS);
            for (int i = 0; i < TEXTS.size(); i++) {
                assertArrayEquals(a[i], b[i], "file, text " + i);
                assertArrayEquals(a[i], c[i], "folder, text " + i);
            }
        }
    }

    @Test
    void badConfigsAreFormatErrors(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("config.json"), "{\"hidden_size\": 384}");
        assertThrows(FormatException.class, () -> EncoderConfig.fromHfConfigJson(dir.resolve("config.json")));
        Files.writeString(dir.resolve("config.json"), CONFIG.replace("\"gelu\"", "\"relu\""));
        assertThrows(FormatException.class, () -> EncoderConfig.fromHfConfigJson(dir.resolve("config.json")));
        for (String wrong : new String[] {"\"hidden_size\": 384", "\"pad_token_id\": 0", "\"layer_norm_eps\": 1e-12"}) {
            String key = wrong.substring(0, wrong.indexOf(':'));
            Files.writeString(dir.resolve("config.json"), CONFIG.replace(wrong, key + ": \"oops\""));
            var e = assertThrows(FormatException.class, () -> EncoderConfig.fromHfConfigJson(dir.resolve("config.json")));
            assertTrue(e.getMessage().contains(key.replace("\"", "")), e.getMessage());
        }
        Files.writeString(dir.resolve("config.json"), "not json");
        assertThrows(FormatException.class, () -> EncoderConfig.fromHfConfigJson(dir.resolve("config.json")));
        assertThrows(FormatException.class, () -> Encoder.load(dir).close()); // no weights in the folder
    }
}
