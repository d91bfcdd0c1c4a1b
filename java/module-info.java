/**
 * LookupFFN for the JVM: compute-lite transformer feed-forward layers on CPUs, with native kernels through FFM.
 *
 * <p>The API: {@link dev.lookupffn.layer.LookupFfn} (one layer), {@link dev.lookupffn.model.Encoder} (text in,
 * embeddings out) and {@link dev.lookupffn.model.TransformerEncoder} (the graph), the tensors, safetensors files,
 * tokenizers, the worker pool they run on, the dense baseline layer and the exception types. The native bindings,
 * the ONNX and PyTorch readers and the output-file helpers are implementation details and are not exported. The
 * native library is loaded by this module: run with {@code --enable-native-access=dev.lookupffn} (or
 * {@code ALL-UNNAMED} on the class path).
 */
module dev.lookupffn {
    requires com.fasterxml.jackson.databind;
    requires com.google.protobuf;

    exports dev.lookupffn;
    exports dev.lookupffn.baseline;
    exports dev.lookupffn.layer;
    exports dev.lookupffn.model;
    exports dev.lookupffn.parallel;
    exports dev.lookupffn.safetensors;
    exports dev.lookupffn.tensor;
    exports dev.lookupffn.tokenizer;
}
