package dev.lookupffn.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.lookupffn.LookupFfnException.FormatException;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * ONNX Runtime as a benchmark engine: one session over the model's ONNX bytes with {@code threads} intra-op
 * threads, one inter-op thread and sequential execution (all graph optimizations on, ORT's default), fed padded
 * batches of token ids with their attention mask, and the last hidden state pooled as the model card says.
 * Sessions may be run from several threads at once (ORT's sessions are thread-safe).
 *
 * <p>Only {@link EmbedBenchmark} touches this class, and only after {@link EmbedBenchmark#ortMissingReason()}
 * found ORT on the class path: the CLI runs without it.
 */
final class OrtEngine implements EmbedBenchmark.Engine {
    private final OrtEnvironment env;
    private final OrtSession session;
    private final String output;
    private final boolean hasTypes, cls, normalize;
    private final long pad;

    private OrtEngine(OrtEnvironment env, OrtSession session, String output, boolean cls, boolean normalize, long pad) {
        this.env = env;
        this.session = session;
        this.output = output;
        this.hasTypes = session.getInputNames().contains("token_type_ids");
        this.cls = cls;
        this.normalize = normalize;
        this.pad = pad;
    }

    static String version() {
        return OrtEnvironment.getEnvironment().getVersion();
    }

    /** A session over {@code onnx} with {@code threads} intra-op threads; pooling as our Encoder's for the model. */
    static OrtEngine open(byte[] onnx, int threads, boolean cls, boolean normalize, int padId) {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
            o.setIntraOpNumThreads(threads);
            o.setInterOpNumThreads(1);
            o.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
            o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            OrtSession session = env.createSession(onnx, o);
            var inputs = session.getInputNames();
            if (!inputs.contains("input_ids") || !inputs.contains("attention_mask")) {
                session.close();
                throw new FormatException("the ONNX model's inputs are " + inputs + ": ONNX Runtime needs input_ids and attention_mask");
            }
            var outputs = session.getOutputNames();
            String output = outputs.contains("last_hidden_state") ? "last_hidden_state"
                    : outputs.contains("token_embeddings") ? "token_embeddings" : outputs.iterator().next();
            return new OrtEngine(env, session, output, cls, normalize, padId);
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime: " + e.getMessage(), e);
        }
    }

    @Override
    public float[][] embed(List<int[]> ids) {
        int b = ids.size(), t = 1;
        for (int[] s : ids) t = Math.max(t, s.length);
        long[] tokenIds = new long[b * t], mask = new long[b * t];
        java.util.Arrays.fill(tokenIds, pad);
        for (int i = 0; i < b; i++) {
            int[] s = ids.get(i);
            for (int j = 0; j < s.length; j++) {
                tokenIds[i * t + j] = s[j];
                mask[i * t + j] = 1;
            }
        }
        long[] shape = {b, t};
        Map<String, OnnxTensor> in = new HashMap<>();
        try {
            in.put("input_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(tokenIds), shape));
            in.put("attention_mask", OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape));
            if (hasTypes) in.put("token_type_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(new long[b * t]), shape));
            try (OrtSession.Result r = session.run(in, java.util.Set.of(output))) {
                OnnxValue v = r.get(0);
                if (!(v instanceof OnnxTensor hidden))
                    throw new FormatException("ONNX Runtime: output " + output + " is not a tensor");
                long[] hs = hidden.getInfo().getShape();
                if (hs.length != 3 || hs[0] != b || hs[1] != t)
                    throw new FormatException("ONNX Runtime: output " + output + " has shape " + java.util.Arrays.toString(hs)
                            + ", expected [" + b + ", " + t + ", hidden]");
                return pool(hidden.getFloatBuffer(), b, t, (int) hs[2], ids);
            }
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime: " + e.getMessage(), e);
        } finally {
            for (OnnxTensor x : in.values()) x.close();
        }
    }

    /** Mean over the real tokens (or the first token), in double, then L2-normalised: sentence-transformers' pooling. */
    private float[][] pool(FloatBuffer x, int b, int t, int h, List<int[]> ids) {
        float[][] out = new float[b][h];
        double[] acc = new double[h];
        for (int i = 0; i < b; i++) {
            java.util.Arrays.fill(acc, 0);
            int count = cls ? 1 : Math.max(1, ids.get(i).length);
            for (int j = 0; j < count; j++) {
                int row = (i * t + j) * h;
                for (int c = 0; c < h; c++) acc[c] += x.get(row + c);
            }
            double norm = 0;
            for (int c = 0; c < h; c++) {
                acc[c] /= count;
                norm += acc[c] * acc[c];
            }
            double scale = normalize ? 1.0 / Math.max(Math.sqrt(norm), 1e-12) : 1.0;
            for (int c = 0; c < h; c++) out[i][c] = (float) (acc[c] * scale);
        }
        return out;
    }

    @Override
    public void close() {
        try {
            session.close();
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime: " + e.getMessage(), e);
        }
    }
}
