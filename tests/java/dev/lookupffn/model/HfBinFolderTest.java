package dev.lookupffn.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.LookupFfnException.FormatException;
import dev.lookupffn.onnx.OnnxModel;
import dev.lookupffn.pytorch.TorchZipWriter;
import dev.lookupffn.pytorch.TorchZipWriter.Bytes;
import dev.lookupffn.pytorch.TorchZipWriter.OrderedDict;
import dev.lookupffn.pytorch.TorchZipWriter.Storage;
import dev.lookupffn.pytorch.TorchZipWriter.TensorRef;
import dev.lookupffn.safetensors.SafetensorsWriter;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A dense BERT folder that ships only config.json + pytorch_model.bin (as many on the HF hub do, with the old
 * LayerNorm gamma/beta names and a "bert." prefix) loads through the same reader and embeds like the embedded
 * all-MiniLM-L6-v2 it was written from.
 */
class HfBinFolderTest {
    @Test
    void aBertFolderWithOnlyPytorchModelBinEmbedsLikeTheOnnxModel(@TempDir Path dir) throws Exception {
        OrderedDict sd = new OrderedDict();
        int key = 0;
        try (InputStream in = Encoder.class.getResourceAsStream(Encoder.DEFAULT_MODEL_RESOURCE);
             OnnxModel onnx = OnnxModel.read(in, "minilm")) {
            OnnxImport.Imported imp = OnnxImport.importEncoder(onnx);
            for (var e : imp.tensors().entrySet()) {
                Tensor t = e.getValue();
                if (t.dtype() != DType.F32) continue;
                float[] v = t.toFloatArray();
                long[] shape = t.shape();
                if (imp.weights().isInOut(e.getKey())) { // [in, out] → nn.Linear [out, in]
                    int in2 = (int) shape[0], o = (int) shape[1];
                    float[] tr = new float[v.length];
                    for (int r = 0; r < in2; r++) for (int c = 0; c < o; c++) tr[c * in2 + r] = v[r * o + c];
                    v = tr;
                    shape = new long[] {o, in2};
                }
                String name = "bert." + e.getKey().replaceFirst("LayerNorm\\.weight$", "LayerNorm.gamma")
                        .replaceFirst("LayerNorm\\.bias$", "LayerNorm.beta");
                sd.put(name, TensorRef.contiguous(new Storage(String.valueOf(key++), DType.F32, v.length, "cuda:0",
                        Bytes.ofFloats(v)), 0, shape));
            }
            imp.tensors().values().forEach(Tensor::close);
        }
        TorchZipWriter.write(dir.resolve("pytorch_model.bin"), "pytorch_model", sd);
        try (InputStream in = Encoder.class.getResourceAsStream(Encoder.DEFAULT_TOKENIZER_RESOURCE)) {
            Files.copy(in, dir.resolve("tokenizer.json"));
        }
        // without config.json a post-norm model cannot be configured: said plainly
        FormatException e = org.junit.jupiter.api.Assertions.assertThrows(FormatException.class, () -> Encoder.load(dir));
        assertTrue(e.getMessage().contains("config.json"), e.getMessage());
        Files.writeString(dir.resolve("config.json"), HfFolderTest.CONFIG);
        try (Encoder ref = Encoder.loadDefault(); Encoder folder = Encoder.load(dir)) {
            assertEquals(EncoderConfig.Norm.POST, folder.model().config().norm());
            float[][] a = ref.embed(HfFolderTest.TEXTS), b = folder.embed(HfFolderTest.TEXTS);
            for (int i = 0; i < a.length; i++) assertArrayEquals(a[i], b[i], 1e-6f, "text " + i);
        }
        // convert keeps the HF configuration in the metadata: the file loads alone
        Path converted = Files.createDirectory(dir.resolve("alone")).resolve("model.safetensors");
        try (ModelSource source = ModelSource.open(dir, null); java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            // what the CLI's convert writes; a dense model has no LookupFFN tables to record a dtype of
            SafetensorsWriter.write(converted, source.exportTensors(DType.F32, arena), source.exportMetadata(DType.F32));
            org.junit.jupiter.api.Assertions.assertFalse(source.exportMetadata(DType.F32).containsKey("lookupffn_tables_dtype"));
        }
        Batch batch = Batch.single(101, 7592, 2088, 102);
        try (TransformerEncoder a = Encoder.fromWeights(dir, null); TransformerEncoder b = Encoder.fromWeights(converted, null);
             Tensor x = a.forward(batch); Tensor y = b.forward(batch)) {
            assertEquals(EncoderConfig.Norm.POST, b.config().norm());
            assertArrayEquals(x.toFloatArray(), y.toFloatArray());
        }
    }
}
