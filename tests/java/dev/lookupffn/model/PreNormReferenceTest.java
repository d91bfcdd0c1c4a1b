package dev.lookupffn.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.ffi.Isa;
import dev.lookupffn.ffi.Kernels;
import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.ffi.Reference;
import dev.lookupffn.tensor.Tensor;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import java.util.stream.Stream;

/**
 * The encoder against {@link ReferenceEncoder} (float64) on random small models: pre-norm with LookupFFN (BH4 and
 * dense projections) and with a dense FFN, and post-norm BERT; padded batches with prefix masks and one mask with
 * holes (the additive-mask path), on every ISA.
 */
class PreNormReferenceTest {
    static final double MAX_REL_ERR = 1e-5;
    static final int VOCAB = 50, HIDDEN = 64, HEADS = 4, LAYERS = 2, MAXPOS = 40;

    enum Variant { PRE_LOOKUP_BH4, PRE_LOOKUP_DENSE_PROJ, PRE_DENSE, POST_BERT }

    static Stream<Arguments> cases() {
        return Stream.of(Variant.values()).flatMap(v -> Stream.of(Isa.values()).map(i -> Arguments.of(v, i)));
    }

    @AfterEach
    void restoreIsa() {
        Kernels.setMaxIsa(Kernels.cpuIsa());
    }

    static void linear(Map<String, Tensor> m, Random rnd, String base, int out, int in) {
        m.put(base + ".weight", Reference.gaussian(rnd, 1 / Math.sqrt(in), 0, out, in));
        m.put(base + ".bias", Reference.gaussian(rnd, 0.1, 0, out));
    }

    static void ln(Map<String, Tensor> m, Random rnd, String base) {
        m.put(base + ".weight", Reference.gaussian(rnd, 0.1, 1, HIDDEN));
        m.put(base + ".bias", Reference.gaussian(rnd, 0.1, 0, HIDDEN));
    }

    static Map<String, Tensor> randomModel(Variant v, long seed) {
        Random rnd = new Random(seed);
        Map<String, Tensor> m = new HashMap<>();
        m.put("embeddings.word_embeddings.weight", Reference.gaussian(rnd, 1, 0, VOCAB, HIDDEN));
        m.put("embeddings.position_embeddings.weight", Reference.gaussian(rnd, 0.5, 0, MAXPOS, HIDDEN));
        m.put("embeddings.token_type_embeddings.weight", Reference.gaussian(rnd, 0.5, 0, 2, HIDDEN));
        ln(m, rnd, "embeddings.LayerNorm");
        for (int i = 0; i < LAYERS; i++) {
            String p = "encoder.layer." + i + ".";
            if (v == Variant.POST_BERT) {
                for (String s : new String[] {"query", "key", "value"}) linear(m, rnd, p + "attention.self." + s, HIDDEN, HIDDEN);
                linear(m, rnd, p + "attention.output.dense", HIDDEN, HIDDEN);
                ln(m, rnd, p + "attention.output.LayerNorm");
                linear(m, rnd, p + "intermediate.dense", 3 * HIDDEN, HIDDEN);
                linear(m, rnd, p + "output.dense", HIDDEN, 3 * HIDDEN);
                ln(m, rnd, p + "output.LayerNorm");
                continue;
            }
            ln(m, rnd, p + "attention.LayerNorm");
            for (String s : new String[] {"query", "key", "value", "dense"}) linear(m, rnd, p + "attention." + s, HIDDEN, HIDDEN);
            if (v == Variant.PRE_DENSE) {
                ln(m, rnd, p + "FFN.LayerNorm");
                linear(m, rnd, p + "FFN.fc1", 4 * HIDDEN, HIDDEN);
                linear(m, rnd, p + "FFN.fc2", HIDDEN, 4 * HIDDEN);
            } else {
                int tables = 8, tau = 4, bits = tables * tau, block = 16;
                ln(m, rnd, p + "FFN.LayerNorm");
                if (v == Variant.PRE_LOOKUP_BH4)
                    m.put(p + "FFN.hash.projection.weight",
                            Reference.gaussian(rnd, 1 / Math.sqrt((double) block * HIDDEN), 0, 1, 4, HIDDEN / block, block, block));
                else m.put(p + "FFN.hash.projection.weight", Reference.gaussian(rnd, 1 / Math.sqrt(HIDDEN), 0, bits, HIDDEN));
                m.put(p + "FFN.hash.projection.bias", Reference.gaussian(rnd, 0.1, 0, bits));
                m.put(p + "FFN.tables", Reference.gaussian(rnd, 0.3, 0, tables, 1 << tau, HIDDEN));
                m.put(p + "FFN.bias", Reference.gaussian(rnd, 0.1, 0, HIDDEN));
            }
        }
        if (v != Variant.POST_BERT) ln(m, rnd, "encoder.LayerNorm");
        return m;
    }

    static EncoderConfig config(Variant v) {
        return v == Variant.POST_BERT
                ? new EncoderConfig(EncoderConfig.Norm.POST, VOCAB, HIDDEN, LAYERS, HEADS, MAXPOS, 2, 0, 0, 1e-12f,
                        EncoderConfig.HF_MASK_VALUE, "bert")
                : new EncoderConfig(EncoderConfig.Norm.PRE, VOCAB, HIDDEN, LAYERS, HEADS, MAXPOS, 2, 1, 2, 1e-5f,
                        EncoderConfig.PRENORM_MASK_VALUE, "lookupffn-prenorm");
    }

    static Batch batch(Random rnd) {
        int[] lens = {7, 13, 1, 30};
        List<int[]> ids = new java.util.ArrayList<>(), types = new java.util.ArrayList<>();
        for (int len : lens) {
            int[] s = new int[len], t = new int[len];
            for (int j = 0; j < len; j++) {
                s[j] = 2 + rnd.nextInt(VOCAB - 2);
                t[j] = j >= len / 2 ? 1 : 0;
            }
            ids.add(s);
            types.add(t);
        }
        Batch b = Batch.of(ids, types, 1);
        // sequence 1 gets holes in its mask: the additive-mask path
        int[] mask = b.attentionMask().clone();
        mask[b.seqLen() + 3] = 0;
        mask[b.seqLen() + 20] = 1;
        return new Batch(b.batchSize(), b.seqLen(), b.inputIds(), mask, b.tokenTypeIds());
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void matchesTheFloat64Reference(Variant v, Isa isa) {
        Assumptions.assumeTrue(isa.compareTo(Kernels.cpuIsa()) <= 0, "CPU lacks " + isa);
        Kernels.setMaxIsa(isa);
        Map<String, Tensor> m = randomModel(v, 42 + v.ordinal());
        EncoderConfig cfg = config(v);
        Batch batch = batch(new Random(7));
        try (TransformerEncoder enc = TransformerEncoder.create(cfg, Weights.of("random " + v, m, java.util.Set.of()));
             WorkerPool pool = WorkerPool.create(2);
             Tensor out = enc.forward(batch, pool)) {
            assertEquals(v == Variant.PRE_DENSE || v == Variant.POST_BERT ? TransformerEncoder.FfnKind.DENSE
                    : TransformerEncoder.FfnKind.LOOKUP, enc.ffnKind(0));
            ReferenceEncoder ref = new ReferenceEncoder(enc.config(), m);
            double[][] want = ref.forward(batch);
            if (v == Variant.PRE_LOOKUP_BH4 || v == Variant.PRE_LOOKUP_DENSE_PROJ)
                assertTrue(ref.minZRatio > 1e-5, "test precondition: a hash input is within " + ref.minZRatio
                        + " of zero (a code could flip legitimately); pick another seed");
            float[] got = out.toFloatArray();
            int h = cfg.hidden();
            double num = 0, den = 0;
            for (int r = 0; r < want.length; r++) {
                if (batch.attentionMask()[r] == 0) continue;
                for (int k = 0; k < h; k++) {
                    double d = got[r * h + k] - want[r][k];
                    num += d * d;
                    den += want[r][k] * want[r][k];
                }
            }
            double err = Math.sqrt(num / den);
            assertTrue(err <= MAX_REL_ERR, v + " on " + isa + ": relative error " + err);
        } finally {
            m.values().forEach(Tensor::close);
        }
    }

    @Test
    void maskedLmHeadMatchesTheFloat64Reference() {
        Map<String, Tensor> m = randomModel(Variant.PRE_LOOKUP_BH4, 5);
        Random rnd = new Random(6);
        linear(m, rnd, "lm_head.dense", HIDDEN, HIDDEN);
        ln(m, rnd, "lm_head.layer_norm");
        m.put("lm_head.decoder.weight", Reference.gaussian(rnd, 1 / Math.sqrt(HIDDEN), 0, VOCAB, HIDDEN));
        m.put("lm_head.bias", Reference.gaussian(rnd, 0.1, 0, VOCAB));
        EncoderConfig cfg = config(Variant.PRE_LOOKUP_BH4);
        Batch batch = batch(new Random(7));
        try (TransformerEncoder enc = TransformerEncoder.create(cfg, Weights.of("lm head", m, java.util.Set.of()));
             WorkerPool pool = WorkerPool.create(2);
             Tensor out = enc.forward(batch, pool);
             Tensor logits = enc.maskedLmLogits(out, pool)) {
            ReferenceEncoder ref = new ReferenceEncoder(enc.config(), m);
            float[] seq = out.toFloatArray(), got = logits.toFloatArray();
            float[] wd = m.get("lm_head.decoder.weight").toFloatArray(), bd = m.get("lm_head.bias").toFloatArray();
            double num = 0, den = 0;
            for (int r = 0; r < (int) out.dim(0); r++) {
                double[] x = new double[HIDDEN];
                for (int k = 0; k < HIDDEN; k++) x[k] = seq[r * HIDDEN + k];
                // the head from the same sequence output: decoder(layer_norm(GELU(dense(x)))) + bias
                double[] y = ref.ln(ReferenceEncoder.gelu(ref.linear(x, "lm_head.dense")), "lm_head.layer_norm");
                for (int j = 0; j < VOCAB; j++) {
                    double s = bd[j];
                    for (int k = 0; k < HIDDEN; k++) s += (double) wd[j * HIDDEN + k] * y[k];
                    double d = got[r * VOCAB + j] - s;
                    num += d * d;
                    den += s * s;
                }
            }
            double err = Math.sqrt(num / den);
            assertTrue(err <= MAX_REL_ERR, "masked-LM logits: relative error " + err);
        } finally {
            m.values().forEach(Tensor::close);
        }
    }
}
