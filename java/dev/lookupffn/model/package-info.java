/**
 * Transformer encoders: which class to use.
 *
 * <ul>
 *   <li>{@link dev.lookupffn.model.Encoder}: text in, one embedding per text out. It loads a model (a HuggingFace
 *       folder, .onnx, .safetensors, a PyTorch checkpoint, or the default model), tokenizes, batches, runs the
 *       graph on its own threads, pools and normalises; {@code fillMask} uses the masked-LM head. Start here.</li>
 *   <li>{@link dev.lookupffn.model.TransformerEncoder}: the graph itself. Token ids in ({@link
 *       dev.lookupffn.model.Batch}), the hidden state of every token out (or the masked-LM logits), on a
 *       {@link dev.lookupffn.parallel.WorkerPool} the caller passes. Use it to pool differently, to feed your own
 *       tokenizer's ids, or to control threads per call; {@code Encoder.model()} gives the graph of a loaded
 *       Encoder.</li>
 * </ul>
 *
 * <p>{@link dev.lookupffn.model.ModelSource} is what both load from: the weights, their names and the configuration
 * ({@link dev.lookupffn.model.EncoderConfig}).
 */
package dev.lookupffn.model;
