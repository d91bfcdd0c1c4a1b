package dev.lookupffn.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.LookupFfnException.FormatException;
import dev.lookupffn.onnx.OnnxModel;
import dev.lookupffn.safetensors.SafetensorsWriter;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A HuggingFace folder (config.json + model.safetensors in nn.Linear layout + tokenizer.json) written from the
 * embedded ONNX model loads and embeds exactly like the ONNX import; so does a "bert."-prefixed checkpoint and an
 * .onnx file with its tokenizer beside it.
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

    @Test
    void aHfFolderEmbedsLikeTheOnnxImport(@TempDir Path dir) throws Exception {
        writeFolder(dir.resolve("plain"), "");
        writeFolder(dir.resolve("prefixed"), "bert.");
        Files.writeString(dir.resolve("prefixed").resolve("modules.json"), "[{\"type\": \"sentence_transformers.models.Pooling\"}]");
        Files.createDirectories(dir.resolve("prefixed").resolve("1_Pooling"));
        Files.writeString(dir.resolve("prefixed").resolve("1_Pooling").resolve("config.json"), "{\"pooling_mode_cls_token\": true}");
        try (Encoder ref = Encoder.loadDefault(); Encoder folder = Encoder.load(dir.resolve("plain"));
             Encoder prefixed = Encoder.load(dir.resolve("prefixed"));
             Encoder clsRef = Encoder.loadDefault(Encoder.Options.DEFAULT.withPooling(Encoder.Pooling.CLS).withNormalize(false))) {
            assertEquals(Encoder.Pooling.MEAN, folder.pooling());
            assertTrue(folder.normalizes());
            float[][] a = ref.embed(TEXTS), b = folder.embed(TEXTS);
            for (int i = 0; i < TEXTS.size(); i++) assertArrayEquals(a[i], b[i], 1e-6f, "text " + i);
            // sentence-transformers files: CLS pooling, no Normalize module
            assertEquals(Encoder.Pooling.CLS, prefixed.pooling());
            assertTrue(!prefixed.normalizes());
            float[][] c = clsRef.embed(TEXTS), d = prefixed.embed(TEXTS);
            for (int i = 0; i < TEXTS.size(); i++) assertArrayEquals(c[i], d[i], 1e-6f, "CLS text " + i);
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
