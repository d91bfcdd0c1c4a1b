package dev.lookupffn.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.tensor.Tensor;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The embedded all-MiniLM-L6-v2 run by our encoder (ONNX initializers imported by hand) against ONNX Runtime on
 * the same .onnx bytes and the same token ids (HuggingFace's Rust tokenizer through DJL): mean pooling + L2
 * normalisation on both sides, per sentence cosine >= 0.99999 and max |Δ| <= 1e-4.
 */
class MiniLmOnnxRuntimeTest {
    static final double MIN_COSINE = 0.99999, MAX_ABS = 1e-4;

    static final String LONG = ("The quick brown fox jumps over the lazy dog while the committee deliberates on "
            + "the annual budget, which, after several rounds of negotiation, finally includes funding for "
            + "renewable-energy research, public libraries and a modest increase in teachers' salaries. ").repeat(4);

    static final List<String> SENTENCES = List.of(
            "hello world",
            "A man is eating food.",
            LONG,
            "Le renard brun rapide saute par-dessus le chien paresseux.",
            "Grüße aus München: Straßenbahn, Äpfel und Übermut!",
            "東京は日本の首都です。",
            "Привет, как дела?",
            "مرحبا بالعالم",
            "I love pizza 🍕🍕 and 🚀 rockets! 👍🏽",
            "",
            "   ",
            "?!...",
            "naïve café résumé — “quoted” text");

    static byte[] onnxBytes;
    static OrtEnvironment env;
    static OrtSession session;
    static HuggingFaceTokenizer hfTokenizer;
    static Encoder encoder;

    @BeforeAll
    static void setUp(@TempDir Path dir) throws Exception {
        try (InputStream in = Encoder.class.getResourceAsStream(Encoder.DEFAULT_MODEL_RESOURCE)) {
            onnxBytes = in.readAllBytes();
        }
        env = OrtEnvironment.getEnvironment();
        session = env.createSession(onnxBytes, new OrtSession.SessionOptions());
        Path tok = dir.resolve("tokenizer.json");
        try (InputStream in = Encoder.class.getResourceAsStream(Encoder.DEFAULT_TOKENIZER_RESOURCE)) {
            Files.copy(in, tok);
        }
        hfTokenizer = HuggingFaceTokenizer.builder().optTokenizerPath(tok).optAddSpecialTokens(true)
                .optTruncation(false).optPadding(false).build();
        encoder = Encoder.loadDefault(Encoder.Options.DEFAULT.withBatchSize(8));
    }

    static double worstCosine = 1, worstAbs = 0;

    @AfterAll
    static void tearDown() throws Exception {
        System.out.println("MiniLmOnnxRuntimeTest: worst cosine " + worstCosine + ", worst max |Δ| " + worstAbs);
        if (encoder != null) encoder.close();
        if (session != null) session.close();
        if (hfTokenizer != null) hfTokenizer.close();
    }

    static int[] ids(String s) {
        long[] l = hfTokenizer.encode(s).getIds();
        int[] out = new int[l.length];
        for (int i = 0; i < l.length; i++) out[i] = (int) l[i];
        return out;
    }

    /** ONNX Runtime on a padded batch, then masked mean pooling and L2 normalisation (sentence-transformers). */
    static float[][] onnxRuntime(List<int[]> seqs) throws Exception {
        int b = seqs.size(), t = seqs.stream().mapToInt(s -> s.length).max().orElseThrow();
        long[][] ids = new long[b][t], mask = new long[b][t], types = new long[b][t];
        for (int i = 0; i < b; i++)
            for (int j = 0; j < seqs.get(i).length; j++) {
                ids[i][j] = seqs.get(i)[j];
                mask[i][j] = 1;
            }
        try (OnnxTensor a = OnnxTensor.createTensor(env, ids); OnnxTensor m = OnnxTensor.createTensor(env, mask);
             OnnxTensor tt = OnnxTensor.createTensor(env, types);
             OrtSession.Result r = session.run(Map.of("input_ids", a, "attention_mask", m, "token_type_ids", tt))) {
            float[][][] hidden = (float[][][]) r.get(0).getValue();
            float[][] out = new float[b][];
            for (int i = 0; i < b; i++) {
                int h = hidden[i][0].length;
                double[] acc = new double[h];
                int n = 0;
                for (int j = 0; j < t; j++) {
                    if (mask[i][j] == 0) continue;
                    for (int c = 0; c < h; c++) acc[c] += hidden[i][j][c];
                    n++;
                }
                double norm = 0;
                for (int c = 0; c < h; c++) {
                    acc[c] /= n;
                    norm += acc[c] * acc[c];
                }
                out[i] = new float[h];
                for (int c = 0; c < h; c++) out[i][c] = (float) (acc[c] / Math.max(Math.sqrt(norm), 1e-12));
            }
            return out;
        }
    }

    static void assertClose(String what, float[] got, float[] want) {
        assertEquals(want.length, got.length, what + ": dimension");
        double dot = 0, na = 0, nb = 0, maxAbs = 0;
        for (int i = 0; i < want.length; i++) {
            dot += (double) got[i] * want[i];
            na += (double) got[i] * got[i];
            nb += (double) want[i] * want[i];
            maxAbs = Math.max(maxAbs, Math.abs(got[i] - want[i]));
        }
        double cos = dot / Math.sqrt(na * nb);
        worstCosine = Math.min(worstCosine, cos);
        worstAbs = Math.max(worstAbs, maxAbs);
        assertTrue(cos >= MIN_COSINE && maxAbs <= MAX_ABS,
                what + ": cosine " + cos + ", max |Δ| " + maxAbs);
    }

    @Test
    void configurationIsInferredFromTheGraph() {
        EncoderConfig c = encoder.model().config();
        assertEquals(EncoderConfig.Norm.POST, c.norm());
        assertEquals(30522, c.vocabSize());
        assertEquals(384, c.hidden());
        assertEquals(6, c.layers());
        assertEquals(12, c.heads());
        assertEquals(512, c.maxPositions());
        assertEquals(0, c.positionOffset());
        assertEquals(1e-12f, c.layerNormEps());
        assertEquals(384, encoder.dimension());
    }

    @Test
    void singleSentencesMatchOnnxRuntime() throws Exception {
        for (String s : SENTENCES) {
            int[] ids = ids(s);
            float[] want = onnxRuntime(List.of(ids))[0];
            float[] got = encoder.embedIds(List.of(ids), null)[0];
            assertClose("'" + s.substring(0, Math.min(30, s.length())) + "' (" + ids.length + " tokens)", got, want);
        }
        assertTrue(ids(LONG).length >= 150, "the long sentence should be long: " + ids(LONG).length + " tokens");
    }

    @Test
    void paddedBatchesMatchOnnxRuntime() throws Exception {
        List<int[]> all = new ArrayList<>();
        for (String s : SENTENCES) all.add(ids(s));
        float[][] want = onnxRuntime(all); // one batch padded to the longest, on ONNX Runtime's side
        // ours: batches of 8 sorted by length, and one big batch, on 1 and 2 threads
        float[][] got = encoder.embedIds(all, null);
        for (int i = 0; i < all.size(); i++) assertClose("batched sentence " + i, got[i], want[i]);
        try (WorkerPool one = WorkerPool.create(1); WorkerPool two = WorkerPool.create(2);
             Tensor out = encoder.model().forward(Batch.of(all, null, 0), one);
             Tensor out2 = encoder.model().forward(Batch.of(all, null, 0), two)) {
            assertArrayEquals(out.toFloatArray(), out2.toFloatArray(), "thread count must not change results");
        }
    }

    @Test
    void embedWithOurTokenizerMatchesOnnxRuntime() throws Exception {
        float[][] got = encoder.embed(SENTENCES);
        for (int i = 0; i < SENTENCES.size(); i++) {
            int[] ids = ids(SENTENCES.get(i));
            if (ids.length > 128) ids = java.util.Arrays.copyOf(ids, 128); // tokenizer.json truncates at 128
            if (ids.length == 128) ids[127] = 102;                            // ... keeping [SEP]
            assertClose("embed sentence " + i, got[i], onnxRuntime(List.of(ids))[0]);
        }
    }
}
