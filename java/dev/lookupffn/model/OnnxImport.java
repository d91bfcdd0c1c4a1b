package dev.lookupffn.model;

import dev.lookupffn.LookupFfnException.FormatException;
import dev.lookupffn.LookupFfnException.ShapeException;
import dev.lookupffn.onnx.OnnxModel;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Maps the initializers of an exported BERT/RoBERTa ONNX graph to their HuggingFace {@code state_dict} names and
 * infers the encoder configuration from the graph.
 *
 * <p>Initializers already named like parameters ({@code encoder.layer.0.attention.self.query.bias}) keep their
 * names (a {@code bert.}/{@code roberta.} prefix is dropped). Anonymous ones ({@code onnx::MatMul_787}) are named
 * from the nodes that use them: a MatMul/Gemm weight after the {@code X.bias} its output is added to, else after
 * the node's scope path ({@code /encoder/layer.0/attention/self/query/MatMul} →
 * {@code encoder.layer.0.attention.self.query.weight}); Gather and LayerNormalization parameters after their
 * scope path. MatMul weights are [in, out] (listed in {@link Weights#inOutLayout()}). The head count comes from
 * the attention's score scale (a constant sqrt(head size)) or the reshape to [.., heads, head size]; LayerNorm
 * eps from LayerNormalization's attribute or the constant added to the variance; a CumSum in the graph (RoBERTa's
 * position ids) makes positions start at pad_token_id + 1.
 *
 * <p>The mapping lives here, not in {@code onnx}: that package only reads ONNX files and knows nothing of encoders.
 */
final class OnnxImport {
    private static final Pattern PARAM = Pattern.compile("^(?:bert\\.|roberta\\.|model\\.)?((?:embeddings|encoder|pooler|lm_head)\\..*\\.(?:weight|bias))$");
    private static final Pattern LAYER = Pattern.compile("^encoder\\.layer\\.(\\d+)\\.");

    private OnnxImport() {}

    /** The result: the configuration and the weights under HF names (views of the model's memory). */
    record Imported(EncoderConfig config, Weights weights, Map<String, Tensor> tensors) {}

    static Imported importEncoder(OnnxModel model) {
        String src = model.source();
        Map<String, Tensor> hf = new LinkedHashMap<>();
        Set<String> inOut = new HashSet<>();
        Map<String, String> assigned = new HashMap<>(); // initializer → HF name
        // 1. initializers that carry their parameter name
        for (var e : model.initializers().entrySet()) {
            Matcher m = PARAM.matcher(e.getKey());
            if (m.matches()) {
                hf.put(m.group(1), e.getValue());
                assigned.put(e.getKey(), m.group(1));
            }
        }
        Map<String, List<OnnxModel.Node>> consumers = new HashMap<>();
        for (OnnxModel.Node n : model.nodes())
            for (String in : n.inputs()) consumers.computeIfAbsent(in, k -> new java.util.ArrayList<>()).add(n);

        // 2. anonymous MatMul / Gemm weights, Gather tables, LayerNormalization parameters
        for (OnnxModel.Node n : model.nodes()) {
            switch (n.opType()) {
                case "MatMul", "Gemm" -> {
                    String wName = n.input(1);
                    Tensor w = model.initializer(wName);
                    if (w == null || assigned.containsKey(wName) || w.rank() != 2) continue;
                    String base = biasBase(n, model, consumers);
                    if (base == null) base = scopeBase(n.name());
                    if (base == null)
                        throw new FormatException(src + ": cannot tell which parameter initializer '" + wName
                                + "' (weight of " + n.opType() + " node '" + n.name() + "') is");
                    String name = base + ".weight";
                    boolean transB = n.opType().equals("Gemm") && n.intAttribute("transB", 0) != 0;
                    put(hf, assigned, inOut, wName, name, w, !transB, src);
                    if (n.opType().equals("Gemm") && model.initializer(n.input(2)) != null && !assigned.containsKey(n.input(2)))
                        put(hf, assigned, inOut, n.input(2), base + ".bias", model.initializer(n.input(2)), false, src);
                }
                case "Gather" -> {
                    Tensor w = model.initializer(n.input(0));
                    if (w == null || assigned.containsKey(n.input(0)) || w.rank() != 2 || !isFloat(w)) continue;
                    String base = scopeBase(n.name());
                    if (base != null) put(hf, assigned, inOut, n.input(0), base + ".weight", w, false, src);
                }
                case "LayerNormalization" -> {
                    String base = scopeBase(n.name());
                    for (int i = 1; i <= 2; i++) {
                        Tensor w = model.initializer(n.input(i));
                        if (w != null && !assigned.containsKey(n.input(i)) && base != null)
                            put(hf, assigned, inOut, n.input(i), base + (i == 1 ? ".weight" : ".bias"), w, false, src);
                    }
                }
                default -> {}
            }
        }
        return new Imported(config(model, hf), Weights.of(src, hf, inOut), hf);
    }

    private static boolean isFloat(Tensor t) {
        return t.dtype() == DType.F32 || t.dtype() == DType.F16 || t.dtype() == DType.BF16 || t.dtype() == DType.F64;
    }

    private static void put(Map<String, Tensor> hf, Map<String, String> assigned, Set<String> inOut, String init,
                            String name, Tensor t, boolean isInOut, String src) {
        Matcher m = PARAM.matcher(name);
        if (m.matches()) name = m.group(1);
        if (hf.containsKey(name))
            throw new FormatException(src + ": initializers '" + init + "' and another both map to parameter '" + name + "'");
        hf.put(name, t);
        assigned.put(init, name);
        if (isInOut) inOut.add(name);
    }

    /** X when the node's output is added to an initializer named X.bias. */
    private static String biasBase(OnnxModel.Node n, OnnxModel model, Map<String, List<OnnxModel.Node>> consumers) {
        for (OnnxModel.Node c : consumers.getOrDefault(n.output(0), List.of())) {
            if (!c.opType().equals("Add")) continue;
            for (String in : c.inputs()) {
                if (in.equals(n.output(0)) || model.initializer(in) == null) continue;
                Matcher m = PARAM.matcher(in);
                String name = m.matches() ? m.group(1) : in;
                if (name.endsWith(".bias")) return name.substring(0, name.length() - 5);
            }
        }
        return null;
    }

    /** "/encoder/layer.0/attention/self/query/MatMul" → "encoder.layer.0.attention.self.query". */
    static String scopeBase(String nodeName) {
        if (nodeName == null || !nodeName.startsWith("/")) return null;
        int last = nodeName.lastIndexOf('/');
        if (last <= 0) return null;
        String base = nodeName.substring(1, last).replace('/', '.');
        Matcher m = PARAM.matcher(base + ".weight");
        return m.matches() ? m.group(1).substring(0, m.group(1).length() - 7) : null;
    }

    // ---- configuration ----

    private static EncoderConfig config(OnnxModel model, Map<String, Tensor> hf) {
        String src = model.source();
        Tensor word = hf.get("embeddings.word_embeddings.weight"), pos = hf.get("embeddings.position_embeddings.weight");
        Tensor types = hf.get("embeddings.token_type_embeddings.weight");
        if (word == null || word.rank() != 2)
            throw new FormatException(src + ": no word embedding table (embeddings.word_embeddings.weight) in the graph");
        if (pos == null || pos.rank() != 2)
            throw new FormatException(src + ": no position embedding table (embeddings.position_embeddings.weight)");
        int hidden = (int) word.dim(1);
        int layers = 0;
        for (String name : hf.keySet()) {
            Matcher m = LAYER.matcher(name);
            if (m.find()) layers = Math.max(layers, Integer.parseInt(m.group(1)) + 1);
        }
        if (layers == 0) throw new FormatException(src + ": no encoder.layer.* parameters found");
        int headSize = headSize(model, hidden);
        if (headSize <= 0 || hidden % headSize != 0)
            throw new FormatException(src + ": cannot infer the attention head count from the graph");
        boolean roberta = model.nodes().stream().anyMatch(n -> n.opType().equals("CumSum"));
        int pad = roberta ? 1 : 0;
        try {
            return new EncoderConfig(EncoderConfig.Norm.POST, (int) word.dim(0), hidden, layers, hidden / headSize,
                    (int) pos.dim(0), types == null ? 1 : (int) types.dim(0), pad, roberta ? pad + 1 : 0, eps(model),
                    EncoderConfig.HF_MASK_VALUE, roberta ? "roberta" : "bert");
        } catch (ShapeException e) {
            throw new FormatException(src + ": " + e.getMessage());
        }
    }

    /** From the score scale (Div by sqrt(hs) or Mul by 1/sqrt(hs) after Q·Kᵀ), else a reshape to [.., heads, hs]. */
    private static int headSize(OnnxModel model, int hidden) {
        Set<String> qk = new HashSet<>();
        for (OnnxModel.Node n : model.nodes())
            if (n.opType().equals("MatMul") && model.initializer(n.input(1)) == null && model.initializer(n.input(0)) == null)
                qk.add(n.output(0));
        for (OnnxModel.Node n : model.nodes()) {
            if (!(n.opType().equals("Div") || n.opType().equals("Mul")) || !qk.contains(n.input(0))) continue;
            float c = scalar(model.initializer(n.input(1)));
            if (!(c > 0)) continue;
            double hs = n.opType().equals("Div") ? (double) c * c : 1.0 / ((double) c * c);
            long r = Math.round(hs);
            if (r > 0 && Math.abs(hs - r) < 1e-3 * r && hidden % r == 0) return (int) r;
        }
        for (OnnxModel.Node n : model.nodes()) {
            if (!n.opType().equals("Concat") && !n.opType().equals("Reshape")) continue;
            long[] v = n.opType().equals("Reshape") ? ints(model.initializer(n.input(1))) : concatInts(model, n);
            if (v != null && v.length == 4 && v[2] > 0 && v[3] > 0 && v[2] * v[3] == hidden) return (int) v[3];
        }
        return -1;
    }

    private static long[] concatInts(OnnxModel model, OnnxModel.Node n) {
        if (n.inputs().size() != 4) return null;
        long[] out = new long[4];
        for (int i = 2; i < 4; i++) {
            long[] v = ints(model.initializer(n.input(i)));
            if (v == null || v.length != 1) return null;
            out[i] = v[0];
        }
        return out;
    }

    private static long[] ints(Tensor t) {
        if (t == null || (t.dtype() != DType.I64 && t.dtype() != DType.I32) || t.elementCount() > 8) return null;
        long[] v = new long[(int) t.elementCount()];
        for (int i = 0; i < v.length; i++) v[i] = (long) t.getFloat(i);
        return v;
    }

    private static float scalar(Tensor t) {
        if (t == null || t.elementCount() != 1 || !isFloat(t)) return Float.NaN;
        return t.getFloat(0);
    }

    /** LayerNormalization's epsilon, or the constant added to the variance in a decomposed LayerNorm; 1e-12. */
    private static float eps(OnnxModel model) {
        for (OnnxModel.Node n : model.nodes())
            if (n.opType().equals("LayerNormalization")) return n.floatAttribute("epsilon", 1e-5f);
        for (OnnxModel.Node n : model.nodes()) {
            if (!n.opType().equals("Add") || !n.name().contains("LayerNorm")) continue;
            for (String in : n.inputs()) {
                float c = scalar(model.initializer(in));
                if (c > 0 && c < 1e-3f) return c;
            }
        }
        return 1e-12f;
    }
}
