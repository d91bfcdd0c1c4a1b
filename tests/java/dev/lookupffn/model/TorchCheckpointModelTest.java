package dev.lookupffn.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.ffi.Reference;
import dev.lookupffn.pytorch.TorchZipWriter;
import dev.lookupffn.pytorch.TorchZipWriter.Bytes;
import dev.lookupffn.pytorch.TorchZipWriter.Call;
import dev.lookupffn.pytorch.TorchZipWriter.OrderedDict;
import dev.lookupffn.pytorch.TorchZipWriter.Storage;
import dev.lookupffn.pytorch.TorchZipWriter.TensorRef;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Nothing is hard-wired to the authors' fixtures' shapes: random pre-norm LookupFFN models with hidden sizes that
 * are not powers of two (96 with BH4 and two repeats; 80 with a dense projection), three layers, written as
 * Lightning checkpoints by a test torch-zip writer — with a transposed (non-contiguous) weight, two weights in one
 * storage at different offsets, a shared bias storage, cuda:0 device tags, Adam state and a non-allow-listed
 * global outside the state dict — and loaded with the Python training config, match the float64
 * {@link ReferenceEncoder} (sequence output and masked-LM logits).
 */
class TorchCheckpointModelTest {
    static final double MAX_REL_ERR = 1e-5;
    static final int VOCAB = 90, MAXPOS = 24, TYPES = 2, LAYERS = 3;

    enum Shape {
        BH4_HIDDEN_96(96, 3, 48, 16, 32, "bh4", 20),   // 48 × log2(16) = 192 hash bits > padded width 128: two repeats
        DENSE_HIDDEN_80(80, 5, 20, 8, 16, "dense", 12);

        final int hidden, heads, tables, rows, block;
        final String projection;
        /** A seed whose hash inputs all stay clear of zero (see the precondition in the test). */
        final long seed;

        Shape(int hidden, int heads, int tables, int rows, int block, String projection, long seed) {
            this.seed = seed;
            this.hidden = hidden;
            this.heads = heads;
            this.tables = tables;
            this.rows = rows;
            this.block = block;
            this.projection = projection;
        }
    }

    static Map<String, Tensor> randomModel(Shape s, long seed) {
        Random rnd = new Random(seed);
        int h = s.hidden;
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("embeddings.word_embeddings.weight", Reference.gaussian(rnd, 1, 0, VOCAB, h));
        m.put("embeddings.position_embeddings.weight", Reference.gaussian(rnd, 0.5, 0, MAXPOS + 2, h));
        m.put("embeddings.token_type_embeddings.weight", Reference.gaussian(rnd, 0.5, 0, TYPES, h));
        ln(m, rnd, "embeddings.LayerNorm", h);
        for (int i = 0; i < LAYERS; i++) {
            String p = "encoder.layer." + i + ".";
            ln(m, rnd, p + "attention.LayerNorm", h);
            for (String n : new String[] {"query", "key", "value", "dense"}) linear(m, rnd, p + "attention." + n, h, h);
            int tau = Integer.numberOfTrailingZeros(s.rows), bits = s.tables * tau;
            ln(m, rnd, p + "FFN.LayerNorm", h);
            if (s.projection.equals("bh4")) {
                int padded = Integer.highestOneBit(h) == h ? h : Integer.highestOneBit(h) << 1;
                int repeats = Math.max(1, (bits + padded - 1) / padded);
                m.put(p + "FFN.hash.projection.weight",
                        Reference.gaussian(rnd, 1 / Math.sqrt((double) s.block * h), 0, repeats, 4, padded / s.block, s.block, s.block));
            } else {
                m.put(p + "FFN.hash.projection.weight", Reference.gaussian(rnd, 1 / Math.sqrt(h), 0, bits, h));
            }
            m.put(p + "FFN.hash.projection.bias", Reference.gaussian(rnd, 0.1, 0, bits));
            m.put(p + "FFN.tables", Reference.gaussian(rnd, 0.3, 0, s.tables, s.rows, h));
            m.put(p + "FFN.bias", Reference.gaussian(rnd, 0.1, 0, h));
        }
        ln(m, rnd, "encoder.LayerNorm", h);
        linear(m, rnd, "lm_head.dense", h, h);
        ln(m, rnd, "lm_head.layer_norm", h);
        m.put("lm_head.decoder.weight", Reference.gaussian(rnd, 1 / Math.sqrt(h), 0, VOCAB, h));
        m.put("lm_head.bias", Reference.gaussian(rnd, 0.1, 0, VOCAB));
        return m;
    }

    static void linear(Map<String, Tensor> m, Random rnd, String base, int out, int in) {
        m.put(base + ".weight", Reference.gaussian(rnd, 1 / Math.sqrt(in), 0, out, in));
        m.put(base + ".bias", Reference.gaussian(rnd, 0.1, 0, out));
    }

    static void ln(Map<String, Tensor> m, Random rnd, String base, int h) {
        m.put(base + ".weight", Reference.gaussian(rnd, 0.1, 1, h));
        m.put(base + ".bias", Reference.gaussian(rnd, 0.1, 0, h));
    }

    /** The model as a Lightning checkpoint: weights under state_dict with the model. prefix, plus Adam state. */
    static void writeLightning(Path file, Shape s, Map<String, Tensor> m) {
        int h = s.hidden;
        int[] key = {0};
        OrderedDict sd = new OrderedDict();
        List<Object> exp = new ArrayList<>();
        for (var e : m.entrySet()) {
            String name = e.getKey(), full = name.startsWith("lm_head.") ? "model." + name : "model.roberta." + name;
            float[] v = e.getValue().toFloatArray();
            if (name.equals("encoder.layer.0.attention.dense.weight")) {
                // stored transposed: a [h, h] view with stride (1, h), as torch saves W.t() without .contiguous()
                float[] t = new float[v.length];
                for (int i = 0; i < h; i++) for (int j = 0; j < h; j++) t[j * h + i] = v[i * h + j];
                Storage st = new Storage(String.valueOf(key[0]++), DType.F32, t.length, "cpu", Bytes.ofFloats(t));
                sd.put(full, new TensorRef(st, 0, new long[] {h, h}, new long[] {1, h}));
            } else if (name.equals("encoder.layer.1.attention.query.weight")) {
                // query and key of layer 1 in one storage, key at an offset
                float[] k = m.get("encoder.layer.1.attention.key.weight").toFloatArray(), both = new float[2 * v.length];
                System.arraycopy(v, 0, both, 0, v.length);
                System.arraycopy(k, 0, both, v.length, k.length);
                Storage st = new Storage(String.valueOf(key[0]++), DType.F32, both.length, "cuda:0", Bytes.ofFloats(both));
                sd.put(full, TensorRef.contiguous(st, 0, h, h));
                sd.put("model.roberta.encoder.layer.1.attention.key.weight", TensorRef.contiguous(st, (long) h * h, h, h));
            } else if (name.equals("encoder.layer.1.attention.key.weight")) {
                continue;
            } else {
                Storage st = new Storage(String.valueOf(key[0]++), DType.F32, v.length, key[0] % 2 == 0 ? "cuda:0" : "cpu",
                        Bytes.ofFloats(v));
                sd.put(full, TensorRef.contiguous(st, 0, e.getValue().shape()));
                if (name.equals("lm_head.bias")) sd.put("model.lm_head.decoder.bias", TensorRef.contiguous(st, 0, VOCAB));
            }
            // Adam's moments: storages of their own, never read by the loader
            Map<String, Object> adam = new LinkedHashMap<>();
            adam.put("exp_avg", TensorRef.contiguous(new Storage(String.valueOf(key[0]++), DType.F32, v.length, "cpu",
                    Bytes.ofFloats(new float[v.length])), 0, e.getValue().shape()));
            exp.add(adam);
        }
        Map<Object, Object> top = new LinkedHashMap<>();
        top.put("epoch", 0L);
        top.put("global_step", 2L);
        top.put("pytorch-lightning_version", "1.9.4");
        top.put("state_dict", sd);
        top.put("optimizer_states", List.of(Map.of("state", exp, "param_groups", List.of(Map.of("lr", 1e-4)))));
        // a global that is not allow-listed, outside the state dict: kept opaque, never called
        top.put("hyper_parameters", new Call("argparse", "Namespace", List.of()));
        TorchZipWriter.write(file, "archive", top);
    }

    static String trainingConfig(Shape s) {
        return """
                from src.args import Args
                import math
                seed = 1
                model = Args()
                model.pl_module = "src.roberta.tasks.mlm.MLMModelModule"   # not needed by the encoder
                model.vocab_size = %d
                model.type_vocab_size = %d
                model.pad_token_id = 1
                model.num_hidden_layers = %d   # layers
                model.num_attention_heads = %d
                model.attention_head_size = %d
                model.layer_norm_eps = 1e-05
                model.hidden_size = %d
                model.max_position_embeddings = %d
                model.initializer = make_initializer(0.02)     # not a literal: ignored
                model.projection_type = '%s'
                model.block_size = %d
                model.ffn_num_table = %d
                model.ffn_table_size = %d
                optimizer = Args()
                optimizer.batch_size = 64
                """.formatted(VOCAB, TYPES, LAYERS, s.heads, s.hidden / s.heads, s.hidden, MAXPOS, s.projection, s.block,
                s.tables, s.rows);
    }

    static Batch batch(Random rnd) {
        int[] lens = {5, 17, MAXPOS};
        List<int[]> ids = new ArrayList<>(), types = new ArrayList<>();
        for (int len : lens) {
            int[] a = new int[len], t = new int[len];
            for (int j = 0; j < len; j++) {
                a[j] = 2 + rnd.nextInt(VOCAB - 2);
                t[j] = j >= len / 2 ? 1 : 0;
            }
            ids.add(a);
            types.add(t);
        }
        return Batch.of(ids, types, 1);
    }

    @ParameterizedTest
    @EnumSource(Shape.class)
    void aCheckpointOfAnotherShapeMatchesTheFloat64Reference(Shape s, @TempDir Path tmp) throws Exception {
        Map<String, Tensor> m = randomModel(s, s.seed);
        try {
            Path ckpt = tmp.resolve("last.ckpt"), cfg = tmp.resolve("training-config.py");
            writeLightning(ckpt, s, m);
            Files.writeString(cfg, trainingConfig(s));
            Batch batch = batch(new Random(3));
            try (Encoder enc = Encoder.load(ckpt, Encoder.Options.DEFAULT.withConfig(cfg).withThreads(2));
                 Tensor out = enc.forward(batch);
                 Tensor logits = enc.maskedLmLogits(out)) {
                EncoderConfig c = enc.model().config();
                assertEquals(s.hidden, c.hidden());
                assertEquals(s.heads, c.heads());
                assertEquals(LAYERS, c.layers());
                ReferenceEncoder ref = new ReferenceEncoder(c, m);
                double[][] want = ref.forward(batch);
                assertTrue(ref.minZRatio > 1e-5, "test precondition: a hash input is within " + ref.minZRatio
                        + " of zero (a code could flip legitimately); pick another seed");
                float[] seq = out.toFloatArray(), got = logits.toFloatArray();
                float[] wd = m.get("lm_head.decoder.weight").toFloatArray(), bd = m.get("lm_head.bias").toFloatArray();
                int h = s.hidden;
                double worstSeq = 0, worstLogits = 0;
                for (int r = 0; r < want.length; r++) {
                    if (batch.attentionMask()[r] == 0) continue;
                    double num = 0, den = 0;
                    for (int k = 0; k < h; k++) {
                        double d = seq[r * h + k] - want[r][k];
                        num += d * d;
                        den += want[r][k] * want[r][k];
                    }
                    worstSeq = Math.max(worstSeq, Math.sqrt(num / den));
                    // the head on the float64 sequence output: decoder(layer_norm(GELU(dense(x)))) + bias
                    double[] y = ref.ln(ReferenceEncoder.gelu(ref.linear(want[r], "lm_head.dense")), "lm_head.layer_norm");
                    num = 0;
                    den = 0;
                    for (int j = 0; j < VOCAB; j++) {
                        double z = bd[j];
                        for (int k = 0; k < h; k++) z += (double) wd[j * h + k] * y[k];
                        double d = got[r * VOCAB + j] - z;
                        num += d * d;
                        den += z * z;
                    }
                    worstLogits = Math.max(worstLogits, Math.sqrt(num / den));
                }
                System.out.printf("%s: worst token relative error: sequence %.2e, logits %.2e%n", s, worstSeq, worstLogits);
                assertTrue(worstSeq <= MAX_REL_ERR, s + ": sequence output, worst token relative error " + worstSeq);
                assertTrue(worstLogits <= MAX_REL_ERR, s + ": masked-LM logits, worst token relative error " + worstLogits);
            }
        } finally {
            m.values().forEach(Tensor::close);
        }
    }

    /** A model saved with .half(): every storage a torch.HalfStorage; the encoder widens to F32 once at load. */
    @org.junit.jupiter.api.Test
    void aHalfPrecisionCheckpointMatchesTheReferenceOnTheSameRoundedWeights(@TempDir Path tmp) throws Exception {
        Shape s = Shape.DENSE_HIDDEN_80;
        Map<String, Tensor> m = randomModel(s, s.seed);
        Map<String, Tensor> rounded = new LinkedHashMap<>();
        try {
            OrderedDict sd = new OrderedDict();
            int key = 0;
            for (var e : m.entrySet()) {
                float[] v = e.getValue().toFloatArray();
                java.nio.ByteBuffer half = java.nio.ByteBuffer.allocate(v.length * 2).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < v.length; i++) {
                    short h = Float.floatToFloat16(v[i]);
                    half.putShort(h);
                    v[i] = Float.float16ToFloat(h);
                }
                rounded.put(e.getKey(), Tensor.ofFloats(v, e.getValue().shape()));
                String full = e.getKey().startsWith("lm_head.") ? "model." + e.getKey() : "model.roberta." + e.getKey();
                sd.put(full, TensorRef.contiguous(new Storage(String.valueOf(key++), DType.F16, v.length, "cuda:0",
                        Bytes.of(half.array())), 0, e.getValue().shape()));
            }
            Path ckpt = tmp.resolve("half.ckpt"), cfg = tmp.resolve("training-config.py");
            TorchZipWriter.write(ckpt, "archive", Map.of("state_dict", sd, "pytorch-lightning_version", "1.9.4"));
            Files.writeString(cfg, trainingConfig(s));
            Batch batch = batch(new Random(3));
            try (Encoder enc = Encoder.load(ckpt, Encoder.Options.DEFAULT.withConfig(cfg).withThreads(2));
                 Tensor out = enc.forward(batch)) {
                ReferenceEncoder ref = new ReferenceEncoder(enc.model().config(), rounded);
                double[][] want = ref.forward(batch);
                assertTrue(ref.minZRatio > 1e-5, "test precondition: a hash input within " + ref.minZRatio + " of zero");
                float[] got = out.toFloatArray();
                double worst = 0;
                for (int r = 0; r < want.length; r++) {
                    if (batch.attentionMask()[r] == 0) continue;
                    double num = 0, den = 0;
                    for (int k = 0; k < s.hidden; k++) {
                        double d = got[r * s.hidden + k] - want[r][k];
                        num += d * d;
                        den += want[r][k] * want[r][k];
                    }
                    worst = Math.max(worst, Math.sqrt(num / den));
                }
                assertTrue(worst <= MAX_REL_ERR, "half-precision checkpoint: worst token relative error " + worst);
            }
        } finally {
            m.values().forEach(Tensor::close);
            rounded.values().forEach(Tensor::close);
        }
    }
}
