package dev.lookupffn.model;

import dev.lookupffn.safetensors.SafetensorsFile;
import dev.lookupffn.tensor.Tensor;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Named weight tensors for an encoder, under the PyTorch {@code state_dict} names (HuggingFace or the authors').
 * {@code lookup} returns null for a missing name. Linear weights are [out, in] (nn.Linear) unless their name is in
 * {@code inOutLayout} (ONNX MatMul initializers are stored [in, out]). The tensors are borrowed: the encoder copies
 * what it needs at construction, so the source may be closed afterwards.
 *
 * @param source names where the tensors come from, for messages
 */
public record Weights(String source, Function<String, Tensor> lookup, Set<String> inOutLayout) {
    public Tensor get(String name) {
        return lookup.apply(name);
    }

    public boolean has(String name) {
        return lookup.apply(name) != null;
    }

    public boolean isInOut(String name) {
        return inOutLayout.contains(name);
    }

    /** The tensors of a safetensors file (nn.Linear layouts); {@code prefix} is prepended to every name. */
    public static Weights of(SafetensorsFile file, String prefix) {
        return new Weights(file.path().toString(),
                n -> file.contains(prefix + n) ? file.tensor(prefix + n) : null, Set.of());
    }

    /** A map of tensors (nn.Linear layouts unless listed in inOut). */
    public static Weights of(String source, Map<String, Tensor> tensors, Set<String> inOut) {
        return new Weights(source, tensors::get, Set.copyOf(inOut));
    }
}
