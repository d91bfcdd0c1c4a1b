package dev.lookupffn.model;

import dev.lookupffn.LookupFfnException.ShapeException;
import dev.lookupffn.ffi.Kernels;
import dev.lookupffn.ffi.Kernels.Epilogue;
import dev.lookupffn.layer.LookupFfn;
import dev.lookupffn.runtime.CallGate;
import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.runtime.WorkspacePool;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.runtime.Sizes;
import dev.lookupffn.runtime.SliceCache;
import dev.lookupffn.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.function.IntFunction;

/**
 * A transformer encoder over token ids: embeddings, {@code layers} attention + feed-forward blocks, and the
 * sequence output [batch · seqLen, hidden]. One graph, two layouts ({@link EncoderConfig.Norm}):
 * <ul>
 *   <li>{@code PRE} — the paper's pre-norm RoBERTa: {@code h = x + Attn(LN_a(x)); y = h + FFN(h)}, FFN a LookupFFN
 *       (names {@code encoder.layer.i.FFN.*}, it applies its own LayerNorm) or a dense
 *       {@code LN → fc1 → GELU → fc2} (names {@code FFN.LayerNorm}, {@code FFN.fc1}, {@code FFN.fc2}); a final
 *       {@code encoder.LayerNorm}; attention weights under {@code attention.{LayerNorm,query,key,value,dense}};</li>
 *   <li>{@code POST} — BERT/RoBERTa in the HuggingFace layout: {@code h = LN(x + Attn(x)); y = LN(h + FFN(h))}
 *       with {@code attention.self.*}, {@code attention.output.*}, {@code intermediate.dense}, {@code output.*}.</li>
 * </ul>
 * Optionally a masked-LM head ({@code lm_head.*}) turns the sequence output into vocabulary logits.
 *
 * <p>Java owns the graph, the weights (copied at construction into 64-byte aligned memory this object owns,
 * linear weights packed once for the GEMM, Q/K/V fused into one GEMM) and the threads: row-wise steps split rows
 * over the {@link WorkerPool}, attention splits (sequence, head) pairs; a post-norm encoder called with few rows
 * (one sentence) splits each GEMM's output columns instead, four jobs per layer ({@code columnSplitLayers}),
 * with the same results bit for bit. Each call borrows its activation
 * buffers (and each attention range its scratch) from small pools of workspaces sized to the call and gives them
 * back at its end, so memory is bounded by the calls running at once, not by how many threads ever called. A
 * workspace also keeps the call's job bodies and views of its buffers, so that a warm call of a shape it saw
 * before allocates nothing on the Java heap (profiled calls and caller-supplied FFN blocks excepted).
 * Thread safety: {@link #forward} may be called from any number of threads at once (with caller-supplied FFN
 * blocks, {@link Options#externalFfn()}, only if those blocks allow it); {@link #close()} waits for running calls,
 * and later calls throw {@link IllegalStateException}.
 */
public final class TransformerEncoder implements AutoCloseable {
    /** The feed-forward block of a layer. */
    public enum FfnKind {
        LOOKUP,
        DENSE,
        /** A block the caller supplied ({@link Options#externalFfn()}), e.g. a oneDNN dense FFN for benchmarks. */
        EXTERNAL
    }

    /**
     * A pre-norm feed-forward block run over the whole batch at once: {@code out = FFN(x)} for x and out
     * [rows, hidden], without the residual (the encoder adds it). The encoder borrows it: the caller closes it
     * after the encoder, and the encoder is only as thread-safe as the block.
     */
    @FunctionalInterface
    public interface BatchFfn {
        void forward(Tensor x, Tensor out, WorkerPool pool);
    }

    /** The stages of a forward call, as {@link StageTimer} reports them. */
    public enum Stage {
        /** checks, mask, embedding sums and their LayerNorm */
        EMBEDDINGS,
        /** (pre-norm: LayerNorm, then) the fused Q/K/V projection */
        QKV,
        /** softmax(q·kᵀ·scale + mask)·v of every (sequence, head) */
        ATTENTION,
        /** the attention output projection and its residual (post-norm: and LayerNorm) */
        ATTENTION_OUTPUT,
        /** the feed-forward block and its residual (post-norm: and LayerNorm) */
        FFN,
        /** pre-norm: the final encoder.LayerNorm */
        FINAL_NORM
    }

    /**
     * Receives the wall-clock nanoseconds of each stage of a profiled forward call, on the calling thread, once per
     * stage and layer. A profiled call runs every stage as its own job over the whole batch (an unprofiled one
     * runs a layer's attention output and FFN as one job), so its total is a little above an unprofiled call's.
     */
    @FunctionalInterface
    public interface StageTimer {
        void add(Stage stage, long nanos);
    }

    /**
     * Loading options. {@code lookupTableDType}: how LookupFFN layers store their tables — F32: as the weights
     * hold them (fp32, or the bf16 / int8 tables of a file written by {@code convert --dtype}, kept compact); BF16
     * for half the fp32 bytes; I8 for a quarter (symmetric int8, one scale per table row and 64 columns). Int8
     * tables in the weights load only as int8. {@code gemmWeightDType}: how the dense linear layers (fused
     * Q/K/V, attention output, fc1, fc2, the masked-LM head) store their weights: F32, or BF16 (rounded to nearest
     * even once at load, half the weight bytes; sums stay fp32, the activations are rounded to bf16 too, for
     * {@code vdpbf16ps}; on a CPU without AVX512_BF16 the weights stay F32, said once in the log, see
     * {@link TransformerEncoder#gemmWeightDType()}). {@code externalFfn}: for layer i, a block that replaces the
     * layer's pre-norm FFN (its FFN.* weights are then not read), or null to keep the layer's own; null for none.
     */
    public record Options(DType lookupTableDType, DType gemmWeightDType, IntFunction<BatchFfn> externalFfn) {
        public static final Options DEFAULT = new Options(DType.F32, DType.F32, null);

        public Options {
            if (lookupTableDType != DType.F32 && lookupTableDType != DType.BF16 && lookupTableDType != DType.I8)
                throw new ShapeException("LookupFFN tables can be stored as F32, BF16 or I8, not " + lookupTableDType);
            if (gemmWeightDType != DType.F32 && gemmWeightDType != DType.BF16)
                throw new ShapeException("dense (GEMM) weights can be stored as F32 or BF16, not " + gemmWeightDType);
        }

        public Options(DType lookupTableDType, IntFunction<BatchFfn> externalFfn) {
            this(lookupTableDType, DType.F32, externalFfn);
        }

        public Options withLookupTableDType(DType d) {
            return new Options(d, gemmWeightDType, externalFfn);
        }

        public Options withGemmWeightDType(DType d) {
            return new Options(lookupTableDType, d, externalFfn);
        }

        public Options withExternalFfn(IntFunction<BatchFfn> ffn) {
            return new Options(lookupTableDType, gemmWeightDType, ffn);
        }
    }

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    /** Runs a nested job on the calling thread (LookupFfn inside one of our ranges). */
    private static final WorkerPool INLINE = WorkerPool.create(1);

    private final EncoderConfig config;
    private final Arena arena;
    private final MemorySegment wordEmb, posEmb, typeEmb, embLnW, embLnB;
    private final Layer[] layers;
    private final MemorySegment finalLnW, finalLnB; // PRE only
    private final LmHead lmHead;                    // null without lm_head.*
    private final long intermediate;                // widest dense FFN hidden width (0 when none)
    private final DType gemmWeightDType;
    private final CallGate gate = new CallGate("encoder");
    private final WorkspacePool<Workspace> workspaces;         // activations of one call, by rows (batch · seqLen)
    private final WorkspacePool<MemorySegment> attentionScratch; // one attention range's scratch, by sequence length

    /** y = x·Wᵀ + b with W packed for the GEMM, as F32 or BF16 ({@code dtype}). */
    private record Linear(long in, long out, DType dtype, MemorySegment packed, MemorySegment bias,
                          MemorySegment[] packedColumns, MemorySegment[] biasColumns) {
        /** packedColumns and biasColumns: the column split's slices of packed and bias, by first panel. */
        Linear(long in, long out, DType dtype, MemorySegment packed, MemorySegment bias) {
            this(in, out, dtype, packed, bias, new MemorySegment[(int) ((out + PANEL - 1) / PANEL)],
                    new MemorySegment[(int) ((out + PANEL - 1) / PANEL)]);
        }

        void apply(long rows, MemorySegment x, long ldx, MemorySegment y, long ldy, Epilogue epilogue) {
            gemm(rows, out, x, ldx, packed, bias, epilogue, y, ldy);
        }

        /**
         * Output columns [from, to) only: y[:, from:to] = x·W[from:to]ᵀ + b[from:to]. {@code from} is a multiple
         * of the packed panel width, so the columns' weights are one contiguous slice of the packed matrix and
         * each thread of a column split streams only its share of the weights.
         */
        void apply(long rows, MemorySegment x, long ldx, MemorySegment y, MemorySegment[] yColumns, long ldy,
                   Epilogue epilogue, long from, long to) {
            if (from == 0 && to == out) {
                gemm(rows, out, x, ldx, packed, bias, epilogue, y, ldy);
                return;
            }
            if (from % PANEL != 0 || from < 0 || to > out || from > to)
                throw new IllegalArgumentException("columns [" + from + ", " + to + ") of " + out);
            if (from == to) return; // more threads than panels: this part has none
            // a panel is PANEL columns × in rows, contiguous (fp32: 4 bytes each; bf16: k rounded up to pairs)
            long panelBytes = dtype == DType.BF16 ? Kernels.gemmPackBSizeBf16(PANEL, in) : Kernels.gemmPackBSize(PANEL, in);
            // the slices from the first panel on: kept (packed, bias: here; y: by the workspace, yColumns)
            int panel = (int) (from / PANEL);
            long packedFrom = panel * panelBytes;
            gemm(rows, to - from, x, ldx, cachedSlice(packedColumns, panel, packed, packedFrom, packed.byteSize() - packedFrom),
                    bias == null ? null : cachedSlice(biasColumns, panel, bias, from * 4, bias.byteSize() - from * 4),
                    epilogue, cachedSlice(yColumns, panel, y, from * 4, y.byteSize() - from * 4), ldy);
        }

        private void gemm(long rows, long cols, MemorySegment x, long ldx, MemorySegment packedCols, MemorySegment biasCols,
                          Epilogue epilogue, MemorySegment y, long ldy) {
            if (dtype == DType.BF16) Kernels.gemmPackedBf16(rows, cols, in, x, ldx, packedCols, biasCols, epilogue, y, ldy);
            else Kernels.gemmPacked(rows, cols, in, x, ldx, packedCols, biasCols, epilogue, y, ldy);
        }

        /** Columns [from, to) of part {@code p} of {@code parts}: whole panels, split as evenly as they go. */
        long partStart(long p, long parts) {
            long panels = (out + PANEL - 1) / PANEL;
            return Math.min(out, panels * p / parts * PANEL);
        }
    }

    /** Columns of one panel of the packed GEMM weights (native/src/gemm_internal.h: LFFN_GEMM_NR). */
    private static final long PANEL = 32;

    /** One encoder layer's parameters; unused fields are null. */
    private record Layer(MemorySegment attnLnW, MemorySegment attnLnB, Linear qkv, Linear attnOut,
                         MemorySegment attnOutLnW, MemorySegment attnOutLnB, FfnKind ffn, LookupFfn lookup,
                         MemorySegment ffnLnW, MemorySegment ffnLnB, Linear fc1, Linear fc2, MemorySegment outLnW,
                         MemorySegment outLnB, BatchFfn external) {}

    private record LmHead(Linear dense, MemorySegment lnW, MemorySegment lnB, Linear decoder) {}

    // ------------------------------------------------------------------------------------------------ loading

    /**
     * Builds the encoder from named weights. Sizes are checked against {@code config} and the tensors; the
     * position table's row count overrides {@code config.maxPositions()}.
     */
    public static TransformerEncoder create(EncoderConfig config, Weights w) {
        return new TransformerEncoder(config, w, Options.DEFAULT);
    }

    /** As {@link #create(EncoderConfig, Weights)}, with LookupFFN table storage and caller-supplied FFN blocks. */
    public static TransformerEncoder create(EncoderConfig config, Weights w, Options options) {
        return new TransformerEncoder(config, w, java.util.Objects.requireNonNull(options, "options"));
    }

    private TransformerEncoder(EncoderConfig cfg, Weights w, Options options) {
        Arena arena = Arena.ofShared();
        this.arena = arena;
        this.gemmWeightDType = Bf16Notice.effective(options.gemmWeightDType());
        Layer[] built = new Layer[cfg.layers()];
        try (Arena tmp = Arena.ofConfined()) {
            Loader ld = new Loader(w, arena, tmp, gemmWeightDType);
            int h = cfg.hidden();
            Tensor pos = ld.require("embeddings.position_embeddings.weight");
            if (pos.rank() != 2 || pos.dim(1) != h) throw ld.shape("embeddings.position_embeddings.weight", "[P, " + h + "]", pos);
            cfg = cfg.withMaxPositions((int) pos.dim(0));
            this.config = cfg;
            wordEmb = ld.matrix("embeddings.word_embeddings.weight", cfg.vocabSize(), h);
            posEmb = ld.matrix("embeddings.position_embeddings.weight", cfg.maxPositions(), h);
            typeEmb = ld.matrix("embeddings.token_type_embeddings.weight", cfg.typeVocabSize(), h);
            embLnW = ld.vector("embeddings.LayerNorm.weight", h);
            embLnB = ld.vector("embeddings.LayerNorm.bias", h);
            long widest = 0;
            for (int i = 0; i < cfg.layers(); i++) {
                BatchFfn external = options.externalFfn() == null ? null : options.externalFfn().apply(i);
                if (external != null && cfg.norm() != EncoderConfig.Norm.PRE)
                    throw new ShapeException("caller-supplied FFN blocks replace pre-norm FFNs; this encoder is " + cfg.norm());
                built[i] = cfg.norm() == EncoderConfig.Norm.PRE
                        ? preNormLayer(ld, cfg, "encoder.layer." + i + ".", options.lookupTableDType(), external)
                        : postNormLayer(ld, cfg, "encoder.layer." + i + ".");
                if (built[i].fc1() != null) widest = Math.max(widest, built[i].fc1().out());
            }
            if (w.has("encoder.layer." + cfg.layers() + ".attention.query.weight")
                    || w.has("encoder.layer." + cfg.layers() + ".attention.self.query.weight"))
                throw new ShapeException(w.source() + ": has more than the configured " + cfg.layers() + " layers");
            intermediate = widest;
            layers = built;
            if (cfg.norm() == EncoderConfig.Norm.PRE) {
                finalLnW = ld.vector("encoder.LayerNorm.weight", h);
                finalLnB = ld.vector("encoder.LayerNorm.bias", h);
            } else {
                finalLnW = finalLnB = null;
            }
            lmHead = w.has("lm_head.dense.weight") ? lmHead(ld, cfg) : null;
            final int hidden = h;
            final long inter = widest;
            workspaces = new WorkspacePool<>(1L << 40, WorkspacePool.defaultMaxIdle(),
                    (a, rows) -> new Workspace(a, rows, hidden, inter));
            attentionScratch = new WorkspacePool<>(Math.max(1, cfg.maxPositions()), WorkspacePool.defaultMaxIdle(),
                    (a, seqLen) -> a.allocate(Math.max(64, Kernels.attentionWorkspaceSize(seqLen)), Tensor.ALIGNMENT));
        } catch (RuntimeException | Error e) {
            for (Layer l : built) if (l != null && l.lookup() != null) l.lookup().close();
            arena.close();
            throw e;
        }
    }

    private static Layer preNormLayer(Loader ld, EncoderConfig cfg, String p, DType tableDType, BatchFfn external) {
        int h = cfg.hidden();
        MemorySegment lnW = ld.vector(p + "attention.LayerNorm.weight", h), lnB = ld.vector(p + "attention.LayerNorm.bias", h);
        Linear qkv = ld.fused(p + "attention.query", p + "attention.key", p + "attention.value", h);
        Linear out = ld.linear(p + "attention.dense", h, h);
        if (external != null)
            return new Layer(lnW, lnB, qkv, out, null, null, FfnKind.EXTERNAL, null, null, null, null, null, null, null, external);
        if (ld.w.has(p + "FFN.tables")) {
            DType stored = ld.w.get(p + "FFN.tables").dtype();
            LookupFfn ffn = LookupFfn.fromTensors(n -> ld.w.get(p + "FFN." + n), ld.w.source() + " (" + p + "FFN.)",
                    LookupFfn.Options.DEFAULT.withEps(cfg.layerNormEps())
                            .withTableDType(tableStorage(tableDType, stored, ld.w.source() + ": tensor '" + p + "FFN.tables'")));
            if (ffn.config().dim() != h || ffn.config().outDim() != h) {
                ffn.close();
                throw new ShapeException(ld.w.source() + ": " + p + "FFN maps " + ffn.config().dim() + " → "
                        + ffn.config().outDim() + ", the encoder needs " + h + " → " + h);
            }
            return new Layer(lnW, lnB, qkv, out, null, null, FfnKind.LOOKUP, ffn, null, null, null, null, null, null, null);
        }
        Linear fc1 = ld.linear(p + "FFN.fc1", -1, h);
        Linear fc2 = ld.linear(p + "FFN.fc2", h, fc1.out());
        return new Layer(lnW, lnB, qkv, out, null, null, FfnKind.DENSE, null, ld.vector(p + "FFN.LayerNorm.weight", h),
                ld.vector(p + "FFN.LayerNorm.bias", h), fc1, fc2, null, null, null);
    }

    /**
     * How a layer keeps its tables: as asked, except that F32 (no compaction asked) keeps a file's compact tables
     * compact (bf16 as bf16: the same values; int8 as int8), and int8 tables cannot become bf16 (that would round
     * twice): asking for it is an error that says to convert the original weights instead.
     */
    static DType tableStorage(DType asked, DType stored, String tensor) {
        if (stored == DType.I8 && asked == DType.BF16)
            throw new ShapeException(tensor + " holds int8 tables: they load as int8, not bf16 (convert the original "
                    + "checkpoint with --dtype bf16 for bf16 tables)");
        if (asked == DType.F32 && (stored == DType.I8 || stored == DType.BF16)) return stored;
        return asked;
    }

    private static Layer postNormLayer(Loader ld, EncoderConfig cfg, String p) {
        int h = cfg.hidden();
        Linear qkv = ld.fused(p + "attention.self.query", p + "attention.self.key", p + "attention.self.value", h);
        Linear out = ld.linear(p + "attention.output.dense", h, h);
        Linear fc1 = ld.linear(p + "intermediate.dense", -1, h);
        Linear fc2 = ld.linear(p + "output.dense", h, fc1.out());
        return new Layer(null, null, qkv, out, ld.vector(p + "attention.output.LayerNorm.weight", h),
                ld.vector(p + "attention.output.LayerNorm.bias", h), FfnKind.DENSE, null, null, null, fc1, fc2,
                ld.vector(p + "output.LayerNorm.weight", h), ld.vector(p + "output.LayerNorm.bias", h), null);
    }

    private LmHead lmHead(Loader ld, EncoderConfig cfg) {
        int h = cfg.hidden();
        Linear dense = ld.linear("lm_head.dense", h, h);
        String decW = ld.w.has("lm_head.decoder.weight") ? "lm_head.decoder.weight" : "embeddings.word_embeddings.weight";
        String bias = ld.w.has("lm_head.bias") ? "lm_head.bias" : "lm_head.decoder.bias";
        Linear decoder = ld.linear(decW, bias, cfg.vocabSize(), h);
        return new LmHead(dense, ld.vector("lm_head.layer_norm.weight", h), ld.vector("lm_head.layer_norm.bias", h), decoder);
    }

    /** Copies and checks tensors: aligned F32 in the encoder's arena, linear weights packed for the GEMM. */
    private static final class Loader {
        final Weights w;
        final Arena arena, tmp;
        final DType gemmDType;

        Loader(Weights w, Arena arena, Arena tmp, DType gemmDType) {
            this.w = w;
            this.arena = arena;
            this.tmp = tmp;
            this.gemmDType = gemmDType;
        }

        Tensor require(String name) {
            Tensor t = w.get(name);
            if (t == null) throw new ShapeException(w.source() + ": missing tensor '" + name + "'");
            return t;
        }

        ShapeException shape(String name, String want, Tensor t) {
            return new ShapeException(w.source() + ": tensor '" + name + "' should be " + want + ", got " + t.dtype() + " "
                    + Arrays.toString(t.shape()));
        }

        MemorySegment vector(String name, long n) {
            Tensor t = require(name);
            if (t.rank() != 1 || t.dim(0) != n) throw shape(name, "[" + n + "]", t);
            return copy(t, arena, name);
        }

        MemorySegment matrix(String name, long rows, long cols) {
            Tensor t = require(name);
            if (t.rank() != 2 || t.dim(0) != rows || t.dim(1) != cols) throw shape(name, "[" + rows + ", " + cols + "]", t);
            return copy(t, arena, name);
        }

        MemorySegment copy(Tensor t, Arena into, String name) {
            if (t.dtype() != DType.F32 && t.dtype() != DType.F64 && t.dtype() != DType.F16 && t.dtype() != DType.BF16)
                throw new ShapeException(w.source() + ": tensor '" + name + "' should hold floats, got " + t.dtype());
            MemorySegment out = into.allocate(Math.max(4, t.elementCount() * 4), Tensor.ALIGNMENT);
            if (t.dtype() == DType.F32) MemorySegment.copy(t.segment(), 0, out, 0, t.byteSize());
            else for (long i = 0; i < t.elementCount(); i++) out.setAtIndex(F, i, t.getFloat(i));
            return out;
        }

        /** The weight of {@code base} as [out, in] F32 in tmp; out = -1 accepts any output width. */
        MemorySegment weightOutIn(String name, long out, long in, long[] outDim) {
            Tensor t = require(name);
            boolean inOut = w.isInOut(name);
            long o = t.rank() == 2 ? (inOut ? t.dim(1) : t.dim(0)) : -1, i = t.rank() == 2 ? (inOut ? t.dim(0) : t.dim(1)) : -1;
            if (t.rank() != 2 || i != in || (out >= 0 && o != out) || o < 1) {
                String want = inOut ? "[" + in + ", " + (out < 0 ? "out" : out) + "] ([in, out])"
                        : "[" + (out < 0 ? "out" : out) + ", " + in + "] ([out, in])";
                throw shape(name, want, t);
            }
            outDim[0] = o;
            MemorySegment src = copy(t, tmp, name);
            if (!inOut) return src;
            MemorySegment dst = tmp.allocate(o * i * 4, Tensor.ALIGNMENT);
            for (long r = 0; r < i; r++)
                for (long c = 0; c < o; c++) dst.setAtIndex(F, c * i + r, src.getAtIndex(F, r * o + c));
            return dst;
        }

        Linear linear(String base, long out, long in) {
            return linear(base + ".weight", base + ".bias", out, in);
        }

        Linear linear(String weightName, String biasName, long out, long in) {
            long[] o = new long[1];
            MemorySegment wt = weightOutIn(weightName, out, in, o);
            return pack(wt, vector(biasName, o[0]), o[0], in);
        }

        /** Q, K and V as one linear [3h, h]: one GEMM, output columns [q | k | v]. */
        Linear fused(String q, String k, String v, long h) {
            MemorySegment wt = tmp.allocate(3 * h * h * 4, Tensor.ALIGNMENT), b = arena.allocate(3 * h * 4, Tensor.ALIGNMENT);
            String[] parts = {q, k, v};
            long[] o = new long[1];
            for (int j = 0; j < 3; j++) {
                MemorySegment.copy(weightOutIn(parts[j] + ".weight", h, h, o), 0, wt, j * h * h * 4, h * h * 4);
                MemorySegment.copy(vector(parts[j] + ".bias", h), 0, b, j * h * 4, h * 4);
            }
            return pack(wt, b, 3 * h, h);
        }

        Linear pack(MemorySegment outIn, MemorySegment bias, long out, long in) {
            if (gemmDType == DType.BF16) {
                MemorySegment packed = arena.allocate(Kernels.gemmPackBSizeBf16(out, in), Tensor.ALIGNMENT);
                Kernels.gemmPackBBf16(out, in, outIn, in, true, packed);
                return new Linear(in, out, DType.BF16, packed, bias);
            }
            MemorySegment packed = arena.allocate(Kernels.gemmPackBSize(out, in), Tensor.ALIGNMENT);
            Kernels.gemmPackB(out, in, outIn, in, true, packed);
            return new Linear(in, out, DType.F32, packed, bias);
        }
    }

    /**
     * bf16 GEMM weights only where the CPU has AVX512_BF16: elsewhere the kernels would widen them to fp32 in
     * registers, which measured 0.6–0.9× the fp32 GEMM's speed (Zen 5, AVX-512 path, MiniLM shapes), so the weights
     * stay fp32, said once per process in the log.
     */
    private static final class Bf16Notice {
        private static final java.util.concurrent.atomic.AtomicBoolean SAID = new java.util.concurrent.atomic.AtomicBoolean();

        static DType effective(DType requested) {
            if (requested != DType.BF16 || Kernels.cpuIsa().compareTo(dev.lookupffn.ffi.Isa.AVX512_BF16) >= 0) return requested;
            if (!SAID.getAndSet(true))
                System.getLogger(TransformerEncoder.class.getName()).log(System.Logger.Level.WARNING,
                        "bf16 GEMM weights asked for, but this CPU has no AVX512_BF16 (vdpbf16ps): the dense layers keep "
                                + "fp32 weights (faster here than widening bf16 in registers); LookupFFN tables are unaffected");
            return DType.F32;
        }
    }

    // ------------------------------------------------------------------------------------------------ queries

    public EncoderConfig config() {
        return config;
    }

    public FfnKind ffnKind(int layer) {
        return layers[layer].ffn();
    }

    public boolean hasLmHead() {
        return lmHead != null;
    }

    /**
     * How layer {@code layer}'s LookupFFN holds its tables (F32, BF16 or I8), or null when the layer's feed-forward
     * block is not a LookupFFN.
     */
    public DType lookupTableDType(int layer) {
        LookupFfn l = layers[layer].lookup();
        return l == null ? null : l.config().tableDType();
    }

    /**
     * The resident bytes of every LookupFFN layer's tables as this encoder holds them (packed for the gather; int8
     * scales included), 0 without LookupFFN layers.
     */
    public long lookupTableBytes() {
        long bytes = 0;
        for (Layer layer : layers) if (layer.lookup() != null) bytes += layer.lookup().tableBytes();
        return bytes;
    }

    /**
     * How the dense linear layers store their weights: {@link Options#gemmWeightDType()}, except F32 where BF16 was asked
     * for on a CPU without AVX512_BF16 (the fp32 fallback, logged once).
     */
    public DType gemmWeightDType() {
        return gemmWeightDType;
    }

    // ------------------------------------------------------------------------------------------------ forward

    /** The sequence output [batch · seqLen, hidden] of a batch, as a new owned tensor, on the shared pool. */
    public Tensor forward(Batch batch) {
        return forward(batch, WorkerPool.shared());
    }

    public Tensor forward(Batch batch, WorkerPool pool) {
        Tensor out = Tensor.allocate(DType.F32, batch.rows(), config.hidden());
        try {
            forward(batch, out, pool);
            return out;
        } catch (RuntimeException | Error e) {
            out.close();
            throw e;
        }
    }

    /**
     * Writes the sequence output of {@code batch} into {@code out} [batch · seqLen, hidden] (the last layer's
     * output: after {@code encoder.LayerNorm} for pre-norm, after the last {@code output.LayerNorm} for post-norm).
     * Rows at padded positions are computed but meaningless. When {@code out} is memory of a confined arena,
     * every step runs on the calling thread.
     */
    public void forward(Batch batch, Tensor out, WorkerPool pool) {
        forward(batch, out, pool, null);
    }

    /**
     * As {@link #forward(Batch, Tensor, WorkerPool)}, reporting the time of each stage to {@code timer} (null:
     * not profiled). The output is the same with or without a timer.
     */
    public void forward(Batch batch, Tensor out, WorkerPool pool, StageTimer timer) {
        gate.enter();
        try {
            Kernels.requireUsable("output tensor", out.segment());
            out.requireDType(DType.F32);
            long n = (long) batch.batchSize() * batch.seqLen();
            if (out.rank() != 2 || out.dim(0) != n || out.dim(1) != config.hidden())
                throw new ShapeException("encoder output should be [" + n + ", " + config.hidden() + "], got "
                        + Arrays.toString(out.shape()));
            // an output confined to the calling thread keeps every step on this thread
            WorkerPool steps = pool.workersCanAccess(out.segment()) ? pool : INLINE;
            WorkspacePool.Lease<Workspace> lease = workspaces.take(n);
            try {
                forward(batch, out.segment(), lease.scratch(), steps, timer == null ? null : new StageClock(timer));
            } finally {
                lease.scratch().end();
                workspaces.release(lease);
            }
        } finally {
            gate.exit();
        }
    }

    /**
     * The whole graph into x [batch · seqLen, hidden] with the activations of one workspace. Each job's body is
     * an object of the workspace that reads this call's arguments from it, and each range reads and writes its
     * rows through views the workspace keeps: a warm call allocates nothing on the Java heap.
     */
    private void forward(Batch batch, MemorySegment x, Workspace ws, WorkerPool pool, StageClock clock) {
        final long n = ws.begin(batch, x, pool.threads());

        // 0. per sequence: how many keys attention reads (a 1…1 0…0 mask reads its prefix without a mask), the
        //    additive mask otherwise
        sequenceLengths(batch, ws);

        // 1. embeddings: x = word[id] + type[tt] + pos[offset + t], then LayerNorm (rows split over threads)
        checkIds(batch);
        pool.forRanges(n, 32, ws.embedRows);
        StageClock.lap(clock, Stage.EMBEDDINGS);

        // 2. the layers
        if (clock == null && usesColumnSplit(n)) {
            columnSplitLayers(ws, pool);
            return;
        }
        if (clock == null && splitsSequences(ws.b, pool)) {
            // every thread runs all layers over its own sequences: no thread waits for another between stages
            pool.forRanges(ws.b, 1, ws.sequenceLayers);
        } else {
            for (Layer layer : layers) {
                ws.layer = layer;
                if (clock != null || layer.external() != null) {
                    stagedLayer(layer, ws, pool, clock);
                    continue;
                }
                // 2a. qkv = (pre-norm: LN_a(x), post-norm: x) · W_qkvᵀ + b, as [n, 3h]
                pool.forRanges(n, 16, ws.qkvRows);
                // 2b. ctx = softmax(q·kᵀ/sqrt(head size) + mask)·v for every (sequence, head)
                attention(ws, pool);
                // 2c. the rest is row-wise: attention output projection, residual, FFN, residual (+ LayerNorms)
                pool.forRanges(n, 16, ws.layerRows);
            }
        }

        // 3. pre-norm: the final encoder.LayerNorm
        if (finalLnW != null) {
            pool.forRanges(n, 32, ws.finalNormRows);
            StageClock.lap(clock, Stage.FINAL_NORM);
        }
    }

    /**
     * Rows up to which a post-norm encoder splits each GEMM's output columns across the threads instead of the
     * rows: with few rows, a row split leaves every thread streaming all of a layer's weights (7 MiB for MiniLM)
     * for a handful of rows each, a column split halves each thread's share on 2 threads. Measured on MiniLM
     * (docs/PERFORMANCE.md, "One text per call").
     */
    static final long COLUMN_SPLIT_MAX_ROWS = 128;

    /** Calls of up to this many rows split columns; tests set it to compare both paths on the same input. */
    volatile long columnSplitMaxRows = COLUMN_SPLIT_MAX_ROWS;

    /** True when a call of n rows takes the column-split path ({@link #columnSplitLayers}). */
    boolean usesColumnSplit(long n) {
        return config.norm() == EncoderConfig.Norm.POST && n <= columnSplitMaxRows;
    }

    /**
     * All layers of a post-norm encoder with every GEMM split by output columns (whole panels of the packed
     * weights) and four jobs per layer:
     * <ol>
     *   <li>x = LN_out(h1 + ffnOut) of the previous layer (each range into its own copy; worker 0's copy is x),
     *       then Q, K and V of the range's heads and their attention (heads are whole panels when the head size
     *       is a multiple of the panel width; otherwise the projection and the attention are two jobs);</li>
     *   <li>attnOut[:, cols] = ctx · W_o[cols]ᵀ + b_o;</li>
     *   <li>h1 = LN_attn(x + attnOut) (worker 0's copy is h1), then inter[:, cols] = GELU(h1 · W_1[cols]ᵀ + b_1);</li>
     *   <li>ffnOut[:, cols] = inter · W_2[cols]ᵀ + b_2.</li>
     * </ol>
     * The LayerNorms are computed by every range from the same inputs with the same kernels, so every copy holds
     * the same bits, and every output element is the same dot product as in the row split: the result is
     * identical to the row-split path's, whatever the thread count. h1 lives in ws.ln, attnOut and ffnOut in
     * ws.tmp.
     */
    private void columnSplitLayers(Workspace ws, WorkerPool pool) {
        final int h = config.hidden();
        final boolean headsArePanels = config.headSize() % PANEL == 0;
        ws.parts = Math.min(pool.threads(), config.heads());
        ws.ensureCopies(pool.threads(), h);
        for (int li = 0; li < layers.length; li++) {
            ws.layer = layers[li];
            ws.prev = li == 0 ? null : layers[li - 1];
            // 1. the previous layer's output LayerNorm, Q/K/V and attention
            pool.forRanges(ws.parts, 1, ws.columnQkv);
            if (!headsArePanels) attention(ws, pool);
            // 2. the attention output projection
            pool.forRanges(ws.parts, 1, ws.columnAttentionOutput);
            // 3. residual and LayerNorm, then the FFN's first GEMM with GELU
            pool.forRanges(ws.parts, 1, ws.columnFc1);
            // 4. the FFN's second GEMM (its residual and LayerNorm open the next layer's first job)
            pool.forRanges(ws.parts, 1, ws.columnFc2);
        }
        Layer last = layers[layers.length - 1];
        Kernels.addLayerNorm(ws.n, h, ws.ln, h, ws.tmp, h, last.outLnW(), last.outLnB(), config.layerNormEps(), ws.x, h);
    }

    /** Job 1 of a column-split layer, part [s, e) of ws.parts: see {@link #columnSplitLayers}. */
    private void columnQkv(Workspace ws, int worker, long s, long e) {
        final int h = config.hidden(), heads = config.heads(), hs = config.headSize();
        final long n = ws.n;
        final int parts = ws.parts;
        final Layer l = ws.layer, prev = ws.prev;
        // the first layer reads the embeddings in x, which nobody writes during this job
        MemorySegment in = worker == 0 || prev == null ? ws.x : ws.copy(worker);
        if (prev != null)
            Kernels.addLayerNorm(n, h, ws.ln, h, ws.tmp, h, prev.outLnW(), prev.outLnB(), config.layerNormEps(), in, h);
        if (hs % PANEL == 0) {
            int h0 = (int) (heads * s / parts), hEnd = (int) (heads * e / parts);
            for (int j = 0; j < 3; j++)
                l.qkv().apply(n, in, h, ws.qkv, ws.qkvColumns, 3L * h, Epilogue.NONE, (long) j * h + (long) h0 * hs,
                        (long) j * h + (long) hEnd * hs);
            attentionHeads(ws, h0, hEnd);
        } else {
            l.qkv().apply(n, in, h, ws.qkv, ws.qkvColumns, 3L * h, Epilogue.NONE, l.qkv().partStart(s, parts),
                    l.qkv().partStart(e, parts));
        }
    }

    /** Job 2: attnOut[:, cols] = ctx · W_o[cols]ᵀ + b_o. */
    private void columnAttentionOutput(Workspace ws, long s, long e) {
        Linear o = ws.layer.attnOut();
        o.apply(ws.n, ws.ctx, config.hidden(), ws.tmp, ws.tmpColumns, config.hidden(), Epilogue.NONE,
                o.partStart(s, ws.parts), o.partStart(e, ws.parts));
    }

    /** Job 3: h1 = LN_attn(x + attnOut) (into the range's own copy), then inter[:, cols] = GELU(h1 · W_1[cols]ᵀ + b_1). */
    private void columnFc1(Workspace ws, int worker, long s, long e) {
        final int h = config.hidden();
        final Layer l = ws.layer;
        MemorySegment in = worker == 0 ? ws.ln : ws.copy(worker);
        Kernels.addLayerNorm(ws.n, h, ws.x, h, ws.tmp, h, l.attnOutLnW(), l.attnOutLnB(), config.layerNormEps(), in, h);
        l.fc1().apply(ws.n, in, h, ws.inter, ws.interColumns, l.fc1().out(), Epilogue.GELU, l.fc1().partStart(s, ws.parts),
                l.fc1().partStart(e, ws.parts));
    }

    /** Job 4: ffnOut[:, cols] = inter · W_2[cols]ᵀ + b_2. */
    private void columnFc2(Workspace ws, long s, long e) {
        final Layer l = ws.layer;
        l.fc2().apply(ws.n, ws.inter, l.fc1().out(), ws.tmp, ws.tmpColumns, config.hidden(), Epilogue.NONE,
                l.fc2().partStart(s, ws.parts), l.fc2().partStart(e, ws.parts));
    }

    /**
     * True when a call of b sequences runs {@link #sequenceLayers} on each thread: at least one sequence per
     * thread, and no caller-supplied FFN (those run over all rows with their own threading). Sorted batches pad
     * every sequence to the same length, so equal sequence counts are equal work.
     */
    boolean splitsSequences(int b, WorkerPool pool) {
        if (pool.threads() < 2 || b < pool.threads()) return false;
        for (Layer layer : layers) if (layer.external() != null) return false;
        return true;
    }

    /**
     * Sequences [s0, s1) through every layer on the calling thread: the row path's steps per layer over the
     * sequences' rows (each row's result is the same as in the row path: every kernel's rows are independent of
     * how the rows are split), attention over their (sequence, head) pairs. Threads share the workspace, each on
     * its own rows; the layer is passed along, as the threads are at different layers.
     */
    private void sequenceLayers(Workspace ws, int worker, long s0, long s1) {
        final int t = ws.t, heads = config.heads();
        final long r0 = s0 * t, r1 = s1 * t;
        final RowViews v = ws.views(worker);
        WorkspacePool.Lease<MemorySegment> lease = attentionScratch.take(t);
        try {
            for (Layer layer : layers) {
                qkvRows(layer, ws, v, r0, r1);
                attentionRange(t, ws.keys, ws, lease.scratch(), s0 * heads, s1 * heads, 1);
                if (config.norm() == EncoderConfig.Norm.PRE) preNormRows(layer, ws, v, r0, r1);
                else postNormRows(layer, ws, v, r0, r1);
            }
        } finally {
            attentionScratch.release(lease);
        }
    }

    /** Heads [h0, h1) of every sequence, with one scratch lease. */
    private void attentionHeads(Workspace ws, int h0, int h1) {
        if (h0 >= h1) return;
        final int t = ws.t;
        WorkspacePool.Lease<MemorySegment> lease = attentionScratch.take(t);
        try {
            for (int seq = 0; seq < ws.b; seq++)
                attentionRange(t, ws.keys, ws, lease.scratch(), (long) seq * config.heads() + h0,
                        (long) seq * config.heads() + h1, 1);
        } finally {
            attentionScratch.release(lease);
        }
    }

    /** Times the stages of a profiled forward call: each lap reports the time since the previous one. */
    private static final class StageClock {
        private final StageTimer timer;
        private long last = System.nanoTime();

        StageClock(StageTimer timer) {
            this.timer = timer;
        }

        static void lap(StageClock clock, Stage stage) {
            if (clock == null) return;
            long now = System.nanoTime();
            clock.timer.add(stage, now - clock.last);
            clock.last = now;
        }
    }

    /**
     * One layer stage by stage, each stage a job over the whole batch: for a profiled call, and for a
     * caller-supplied FFN block (which runs over all rows with its own threading, e.g. oneDNN's).
     */
    private void stagedLayer(Layer layer, Workspace ws, WorkerPool pool, StageClock clock) {
        final long n = ws.n;
        final int h = config.hidden();
        pool.forRanges(n, 16, ws.qkvRows);
        StageClock.lap(clock, Stage.QKV);
        attention(ws, pool);
        StageClock.lap(clock, Stage.ATTENTION);
        pool.forRanges(n, 16, ws.attentionOutputRows);
        StageClock.lap(clock, Stage.ATTENTION_OUTPUT);
        if (layer.external() != null) {
            MemorySegment x = ws.x, hidden = rows(x, 0, n, h), ffnOut = rows(ws.tmp, 0, n, h);
            layer.external().forward(Tensor.wrap(hidden, DType.F32, n, h), Tensor.wrap(ffnOut, DType.F32, n, h), pool);
            pool.forRanges(n, 32, (worker, s, e) -> Kernels.add(e - s, h, rows(x, s, e, h), h, rows(ws.tmp, s, e, h), h,
                    rows(x, s, e, h), h));
        } else {
            pool.forRanges(n, 16, ws.ffnRows);
        }
        StageClock.lap(clock, Stage.FFN);
    }

    /** Rows [s, e): qkv = (pre-norm: LN_a(x), post-norm: x) · W_qkvᵀ + b. */
    private void qkvRows(Workspace ws, int worker, long s, long e) {
        qkvRows(ws.layer, ws, ws.views(worker), s, e);
    }

    private void qkvRows(Layer layer, Workspace ws, RowViews v, long s, long e) {
        int h = config.hidden();
        MemorySegment in = v.x.rows(ws.x, s, e, h);
        if (layer.attnLnW() != null) {
            MemorySegment ln = v.ln.rows(ws.ln, s, e, h);
            Kernels.layerNorm(e - s, h, in, h, layer.attnLnW(), layer.attnLnB(), config.layerNormEps(), ln, h);
            in = ln;
        }
        layer.qkv().apply(e - s, in, h, v.qkv.rows(ws.qkv, s, e, 3L * h), 3L * h, Epilogue.NONE);
    }

    /** Rows [s, e) of a layer after attention: its attention output and its FFN. */
    private void layerRows(Workspace ws, int worker, long s, long e) {
        if (config.norm() == EncoderConfig.Norm.PRE) preNormRows(ws.layer, ws, ws.views(worker), s, e);
        else postNormRows(ws.layer, ws, ws.views(worker), s, e);
    }

    /** Rows [s, e) of the attention output (pre-norm: with its residual; post-norm: and LayerNorm). */
    private void attentionOutputRows(Workspace ws, int worker, long s, long e) {
        if (config.norm() == EncoderConfig.Norm.PRE) preNormAttentionOutput(ws.layer, ws, ws.views(worker), s, e);
        else postNormAttentionOutput(ws.layer, ws, ws.views(worker), s, e);
    }

    /** Rows [s, e) of the FFN (pre-norm: with its residual; post-norm: and LayerNorm). */
    private void ffnRows(Workspace ws, int worker, long s, long e) {
        if (config.norm() == EncoderConfig.Norm.PRE) preNormFfn(ws.layer, ws, ws.views(worker), s, e);
        else postNormFfn(ws.layer, ws, ws.views(worker), s, e);
    }

    /** Rows [s, e) of the paper's pre-norm layer after attention: x += ctx·W_oᵀ + b_o; x += FFN(x). */
    private void preNormRows(Layer l, Workspace ws, RowViews v, long s, long e) {
        preNormAttentionOutput(l, ws, v, s, e);
        preNormFfn(l, ws, v, s, e);
    }

    /** Rows [s, e): x += ctx·W_oᵀ + b_o. */
    private void preNormAttentionOutput(Layer l, Workspace ws, RowViews v, long s, long e) {
        int h = config.hidden();
        long m = e - s;
        MemorySegment xr = v.x.rows(ws.x, s, e, h), tmp = v.tmp.rows(ws.tmp, s, e, h);
        l.attnOut().apply(m, v.ctx.rows(ws.ctx, s, e, h), h, tmp, h, Epilogue.NONE);
        Kernels.add(m, h, xr, h, tmp, h, xr, h);
    }

    /** Rows [s, e): x += FFN(x) (the layer's own LookupFFN or dense FFN). */
    private void preNormFfn(Layer l, Workspace ws, RowViews v, long s, long e) {
        int h = config.hidden();
        long m = e - s;
        MemorySegment xr = v.x.rows(ws.x, s, e, h), tmp = v.tmp.rows(ws.tmp, s, e, h);
        if (l.ffn() == FfnKind.LOOKUP) {
            // LookupFFN applies its own LayerNorm; INLINE keeps it on this thread (we are inside a range already)
            l.lookup().forward(v.lookupInput(xr, m, h), v.lookupOutput(tmp, m, h), INLINE);
        } else {
            MemorySegment ln = v.ln.rows(ws.ln, s, e, h), inter = v.inter.rows(ws.inter, s, e, l.fc1().out());
            Kernels.layerNorm(m, h, xr, h, l.ffnLnW(), l.ffnLnB(), config.layerNormEps(), ln, h);
            l.fc1().apply(m, ln, h, inter, l.fc1().out(), Epilogue.GELU);
            l.fc2().apply(m, inter, l.fc1().out(), tmp, h, Epilogue.NONE);
        }
        Kernels.add(m, h, xr, h, tmp, h, xr, h);
    }

    /** Rows [s, e) of a post-norm (BERT) layer after attention: x = LN(x + ctx·W_oᵀ + b_o); x = LN(x + FFN(x)). */
    private void postNormRows(Layer l, Workspace ws, RowViews v, long s, long e) {
        postNormAttentionOutput(l, ws, v, s, e);
        postNormFfn(l, ws, v, s, e);
    }

    /** Rows [s, e): x = LN(x + ctx·W_oᵀ + b_o). */
    private void postNormAttentionOutput(Layer l, Workspace ws, RowViews v, long s, long e) {
        int h = config.hidden();
        long m = e - s;
        MemorySegment xr = v.x.rows(ws.x, s, e, h), tmp = v.tmp.rows(ws.tmp, s, e, h);
        l.attnOut().apply(m, v.ctx.rows(ws.ctx, s, e, h), h, tmp, h, Epilogue.NONE);
        Kernels.addLayerNorm(m, h, tmp, h, xr, h, l.attnOutLnW(), l.attnOutLnB(), config.layerNormEps(), xr, h);
    }

    /** Rows [s, e): x = LN(x + FFN(x)). */
    private void postNormFfn(Layer l, Workspace ws, RowViews v, long s, long e) {
        int h = config.hidden();
        long m = e - s, f = l.fc1().out();
        float eps = config.layerNormEps();
        MemorySegment xr = v.x.rows(ws.x, s, e, h), tmp = v.tmp.rows(ws.tmp, s, e, h), inter = v.inter.rows(ws.inter, s, e, f);
        l.fc1().apply(m, xr, h, inter, f, Epilogue.GELU);
        l.fc2().apply(m, inter, f, tmp, h, Epilogue.NONE);
        Kernels.addLayerNorm(m, h, tmp, h, xr, h, l.outLnW(), l.outLnB(), eps, xr, h);
    }

    /** Rows [s, e): pre-norm's final x = encoder.LayerNorm(x). */
    private void finalNormRows(Workspace ws, int worker, long s, long e) {
        int h = config.hidden();
        MemorySegment xr = ws.views(worker).xWide.rows(ws.x, s, e, h);
        Kernels.layerNorm(e - s, h, xr, h, finalLnW, finalLnB, config.layerNormEps(), xr, h);
    }

    /**
     * Self-attention of every (sequence, head) pair; runs of heads of one sequence go to one kernel call. With few
     * pairs for the threads (one long sequence, few heads) each head's queries are split too, in parts of at least
     * 16 queries (every part reads all of the head's keys).
     */
    private void attention(Workspace ws, WorkerPool pool) {
        long pairs = (long) ws.b * config.heads();
        ws.attentionSplit = (int) Math.max(1, Math.min(ws.t / 16, (2L * pool.threads() + pairs - 1) / pairs));
        pool.forRanges(pairs * ws.attentionSplit, 1, ws.attentionPairs);
    }

    /** Units [s, e) of the attention step (see {@link #attentionRange}), with one scratch lease. */
    private void attentionPairs(Workspace ws, long s, long e) {
        WorkspacePool.Lease<MemorySegment> lease = attentionScratch.take(ws.t);
        try {
            attentionRange(ws.t, ws.keys, ws, lease.scratch(), s, e, ws.attentionSplit);
        } finally {
            attentionScratch.release(lease);
        }
    }

    /**
     * Units [s, e) of the attention step, with one range's scratch. Unit u is part u % split (a contiguous share
     * of the queries) of the (sequence, head) pair u / split; with split 1, runs of heads of a sequence go to the
     * kernel in one call. A row's result does not depend on the split.
     */
    private void attentionRange(int t, int[] keys, Workspace ws, MemorySegment scratch, long s, long e, int split) {
        final int heads = config.heads(), hs = config.headSize(), h = config.hidden();
        final float scale = config.attentionScale();
        for (long u = s; u < e; ) {
            long pair = u / split;
            int part = (int) (u % split);
            int seq = (int) (pair / heads), h0 = (int) (pair % heads);
            int count = split == 1 ? (int) Math.min(e - u, heads - h0) : 1;
            u += count;
            int len = keys[seq];
            if (len == 0) continue; // nothing to attend to: the rows stay zero
            // a masked sequence attends over all t keys with the additive mask; a prefix one over its len keys
            int rowsUsed = len < 0 ? t : len;
            int q0 = (int) ((long) rowsUsed * part / split), q1 = (int) ((long) rowsUsed * (part + 1) / split);
            if (q0 == q1) continue;
            MemorySegment mask = len < 0 ? ws.maskRow(seq) : null;
            // views of qkv (q, k, v) and ctx from the columns of head h0 of the sequence's first row, kept by ws
            // (a part of the queries starts further down: sliced per call, as few pairs are split)
            MemorySegment q = ws.qkvView(0, seq, h0), ctx = ws.ctxView(seq, h0);
            if (q0 > 0) {
                q = q.asSlice((long) q0 * 3 * h * 4);
                ctx = ctx.asSlice((long) q0 * h * 4);
            }
            Kernels.attentionRows(q1 - q0, rowsUsed, count, hs, q, 3L * h, ws.qkvView(1, seq, h0), 3L * h,
                    ws.qkvView(2, seq, h0), 3L * h, scale, mask, scratch, ctx, h);
        }
    }

    /** Keys per sequence into ws.keys: its length when the mask is 1…1 0…0 (padding rows of ctx are zeroed), -1 otherwise. */
    private void sequenceLengths(Batch batch, Workspace ws) {
        int b = batch.batchSize(), t = batch.seqLen();
        int[] keys = ws.keys;
        int[] mask = batch.attentionMask();
        for (int i = 0; i < b; i++) {
            int len = 0;
            while (len < t && mask[i * t + len] == 1) len++;
            boolean prefix = true;
            for (int j = len; j < t; j++) prefix &= mask[i * t + j] == 0;
            keys[i] = prefix ? len : -1;
            for (int j = 0; j < t; j++) ws.maskAdd.setAtIndex(F, (long) i * t + j, mask[i * t + j] == 1 ? 0f : config.maskValue());
            if (prefix && len < t) ws.padding(i, len).fill((byte) 0);
        }
    }

    private void checkIds(Batch batch) {
        int t = batch.seqLen();
        int[] ids = batch.inputIds(), types = batch.tokenTypeIds(), mask = batch.attentionMask();
        for (int r = 0; r < ids.length; r++) {
            if (ids[r] < 0 || ids[r] >= config.vocabSize())
                throw new ShapeException("token id " + ids[r] + " at sequence " + r / t + ", position " + r % t
                        + " is outside the vocabulary [0, " + config.vocabSize() + ")");
            if (types[r] < 0 || types[r] >= config.typeVocabSize())
                throw new ShapeException("token type " + types[r] + " at sequence " + r / t + ", position " + r % t
                        + " is outside [0, " + config.typeVocabSize() + ")");
            if (mask[r] == 1 && config.positionOffset() + r % t >= config.maxPositions())
                throw new ShapeException("sequence " + r / t + " has a token at position " + r % t
                        + ", beyond the model's " + config.maxSequenceLength() + " positions");
        }
    }

    /** Rows [s, e): x = LayerNorm(word[id] + type[tt] + pos[offset + t]). */
    private void embed(Workspace ws, int worker, long s, long e) {
        int h = config.hidden(), t = ws.t;
        int[] ids = ws.batch.inputIds(), types = ws.batch.tokenTypeIds();
        MemorySegment x = ws.x;
        RowViews v = ws.views(worker);
        // bulk copies into heap rows and a plain array loop (which C2 vectorises): element-wise segment access
        // here took about a quarter of a MiniLM embedding run
        float[] sum = v.sum, type = v.type, pos = v.pos;
        for (long r = s; r < e; r++) {
            int p = config.positionOffset() + (int) (r % t);
            if (p >= config.maxPositions()) p = config.padTokenId(); // a padded position past the table: meaningless
            long xo = r * h, wo = (long) ids[(int) r] * h, to = (long) types[(int) r] * h, po = (long) p * h;
            MemorySegment.copy(wordEmb, F, wo * 4, sum, 0, h);
            MemorySegment.copy(typeEmb, F, to * 4, type, 0, h);
            MemorySegment.copy(posEmb, F, po * 4, pos, 0, h);
            for (int c = 0; c < h; c++) sum[c] = sum[c] + type[c] + pos[c];
            MemorySegment.copy(sum, 0, x, F, xo * 4, h);
        }
        MemorySegment xr = v.xWide.rows(x, s, e, h);
        Kernels.layerNorm(e - s, h, xr, h, embLnW, embLnB, config.layerNormEps(), xr, h);
    }

    private static MemorySegment rows(MemorySegment m, long s, long e, long width) {
        return m.asSlice(s * width * 4, (e - s) * width * 4);
    }

    /**
     * {@code base.asSlice(offset, size)}, kept in {@code cache[index]} for later calls that ask for the same bytes
     * (index out of the cache: a new slice). Only for memory that stays the same under the cache (the encoder's
     * weights, a workspace's own buffers): a cached slice is recognised by its address and size. Threads may
     * race on an entry: each writes an equal slice, and a slice's fields are final, so a reader sees a whole one.
     */
    private static MemorySegment cachedSlice(MemorySegment[] cache, int index, MemorySegment base, long offset, long size) {
        if (index < 0 || index >= cache.length) return base.asSlice(offset, size);
        MemorySegment view = cache[index];
        if (view == null || view.address() != base.address() + offset || view.byteSize() != size)
            cache[index] = view = base.asSlice(offset, size);
        return view;
    }

    // ------------------------------------------------------------------------------------------------ MLM head

    /**
     * Masked-LM logits [rows, vocab] of a sequence output [rows, hidden]:
     * {@code decoder(layer_norm(GELU(dense(x)))) + bias}. Needs the {@code lm_head.*} tensors.
     */
    public Tensor maskedLmLogits(Tensor sequenceOutput, WorkerPool pool) {
        gate.enter();
        try {
            return logits(sequenceOutput, pool);
        } finally {
            gate.exit();
        }
    }

    private Tensor logits(Tensor sequenceOutput, WorkerPool pool) {
        if (lmHead == null) throw new ShapeException("this encoder was loaded without a masked-LM head (lm_head.*)");
        int h = config.hidden(), v = config.vocabSize();
        if (sequenceOutput.rank() != 2 || sequenceOutput.dim(1) != h)
            throw new ShapeException("sequence output should be [rows, " + h + "], got " + Arrays.toString(sequenceOutput.shape()));
        long n = sequenceOutput.dim(0);
        Tensor logits = Tensor.allocate(DType.F32, n, v);
        try (Tensor hidden = Tensor.allocate(DType.F32, n, h)) {
            MemorySegment x = sequenceOutput.segment(), y = hidden.segment(), z = logits.segment();
            pool.forRanges(n, 16, (worker, s, e) -> {
                lmHead.dense().apply(e - s, rows(x, s, e, h), h, rows(y, s, e, h), h, Epilogue.GELU);
                Kernels.layerNorm(e - s, h, rows(y, s, e, h), h, lmHead.lnW(), lmHead.lnB(), config.layerNormEps(),
                        rows(y, s, e, h), h);
                lmHead.decoder().apply(e - s, rows(y, s, e, h), h, rows(z, s, e, v), v, Epilogue.NONE);
            });
            return logits;
        } catch (RuntimeException | Error e) {
            logits.close();
            throw e;
        }
    }

    // ------------------------------------------------------------------------------------------------ buffers

    /**
     * The activations of one call of up to {@code rows} rows (batch · seqLen), in a workspace's arena; this call's
     * arguments, which the job bodies (built once per workspace) read; and the views of its buffers that the
     * ranges use, kept for the next call of the same shape. A workspace serves one call at a time, so its fields
     * are that call's alone: the caller writes them before each job, and the pool's hand-over of the job
     * publishes them to the workers.
     */
    private final class Workspace {
        final MemorySegment qkv, ctx, tmp, ln, inter, maskAdd;
        final int[] keys; // per sequence; a batch has at most one sequence per row
        private final Arena arena;
        private final long rows;
        // the column-split path's per-worker copies of a LayerNorm's output ([rows, hidden]; index 0 unused)
        private MemorySegment[] copies = new MemorySegment[1];
        // column views of the column-split GEMMs' outputs, by first panel
        final MemorySegment[] qkvColumns, tmpColumns, interColumns;
        // per worker: the row views of the row-split jobs and the embedding's heap rows
        private RowViews[] views = new RowViews[0];
        // per sequence (mask rows, padding rows of ctx) and per (sequence, first head) pair (the attention
        // kernel's q, k, v and ctx views)
        private MemorySegment[] maskRows = new MemorySegment[0], paddingRows = new MemorySegment[0],
                ctxViews = new MemorySegment[0];
        private final MemorySegment[][] qkvViews = {ctxViews, ctxViews, ctxViews};

        // this call's arguments
        Batch batch;
        MemorySegment x;
        int b, t, parts, attentionSplit = 1;
        long n;
        Layer layer, prev;

        // the job bodies, one object each for the life of the workspace
        final WorkerPool.RangeBody embedRows = (worker, s, e) -> embed(this, worker, s, e);
        final WorkerPool.RangeBody qkvRows = (worker, s, e) -> qkvRows(this, worker, s, e);
        final WorkerPool.RangeBody attentionPairs = (worker, s, e) -> attentionPairs(this, s, e);
        final WorkerPool.RangeBody attentionOutputRows = (worker, s, e) -> attentionOutputRows(this, worker, s, e);
        final WorkerPool.RangeBody ffnRows = (worker, s, e) -> ffnRows(this, worker, s, e);
        final WorkerPool.RangeBody layerRows = (worker, s, e) -> layerRows(this, worker, s, e);
        final WorkerPool.RangeBody sequenceLayers = (worker, s, e) -> sequenceLayers(this, worker, s, e);
        final WorkerPool.RangeBody finalNormRows = (worker, s, e) -> finalNormRows(this, worker, s, e);
        final WorkerPool.RangeBody columnQkv = (worker, s, e) -> columnQkv(this, worker, s, e);
        final WorkerPool.RangeBody columnAttentionOutput = (worker, s, e) -> columnAttentionOutput(this, s, e);
        final WorkerPool.RangeBody columnFc1 = (worker, s, e) -> columnFc1(this, worker, s, e);
        final WorkerPool.RangeBody columnFc2 = (worker, s, e) -> columnFc2(this, s, e);

        Workspace(Arena a, long rows, int h, long interWidth) {
            arena = a;
            this.rows = rows;
            qkv = a.allocate(Sizes.multiply("encoder activations", rows, 3L * h, 4), Tensor.ALIGNMENT);
            ctx = a.allocate(Sizes.multiply("encoder activations", rows, h, 4), Tensor.ALIGNMENT);
            tmp = a.allocate(Sizes.multiply("encoder activations", rows, h, 4), Tensor.ALIGNMENT);
            ln = a.allocate(Sizes.multiply("encoder activations", rows, h, 4), Tensor.ALIGNMENT);
            inter = a.allocate(Math.max(4, Sizes.multiply("encoder activations", rows, interWidth, 4)), Tensor.ALIGNMENT);
            maskAdd = a.allocate(Sizes.multiply("encoder activations", rows, 1, 4), Tensor.ALIGNMENT);
            keys = new int[(int) Math.min(rows, Integer.MAX_VALUE - 8)];
            qkvColumns = new MemorySegment[(int) (3L * h / PANEL + 1)];
            tmpColumns = new MemorySegment[(int) (h / PANEL + 1)];
            interColumns = new MemorySegment[(int) (interWidth / PANEL + 1)];
        }

        /**
         * Takes this call's arguments (on the calling thread, before any job) and makes sure every worker of a
         * {@code threads}-thread pool has its views; returns the rows.
         */
        long begin(Batch batch, MemorySegment x, int threads) {
            this.batch = batch;
            this.x = x;
            b = batch.batchSize();
            t = batch.seqLen();
            n = (long) b * t;
            if (views.length < threads) {
                RowViews[] grown = Arrays.copyOf(views, threads);
                for (int w = views.length; w < threads; w++) grown[w] = new RowViews(config.hidden());
                views = grown;
            }
            if (maskRows.length < b) {
                maskRows = new MemorySegment[b];
                paddingRows = new MemorySegment[b];
            }
            // beyond this many pairs a call slices its attention views afresh (a huge batch: its kernels dominate)
            long pairs = Math.min((long) b * config.heads(), MAX_CACHED_PAIRS);
            if (ctxViews.length < pairs) {
                ctxViews = new MemorySegment[(int) pairs];
                for (int part = 0; part < 3; part++) qkvViews[part] = new MemorySegment[(int) pairs];
            }
            return n;
        }

        /** Forgets the caller's batch and output (the views keep what they need). */
        void end() {
            batch = null;
            x = null;
            layer = prev = null;
        }

        RowViews views(int worker) {
            return views[worker];
        }

        /** The additive mask of sequence {@code seq} [t]. */
        MemorySegment maskRow(int seq) {
            return cachedSlice(maskRows, seq, maskAdd, (long) seq * t * 4, (long) t * 4);
        }

        /** The rows of ctx past sequence {@code seq}'s first {@code len} tokens. */
        MemorySegment padding(int seq, int len) {
            long h = config.hidden();
            return cachedSlice(paddingRows, seq, ctx, ((long) seq * t + len) * h * 4, (long) (t - len) * h * 4);
        }

        /**
         * qkv from the first row of sequence {@code seq}, at head {@code h0}'s columns of part {@code part} (0: q,
         * 1: k, 2: v), to the buffer's end.
         */
        MemorySegment qkvView(int part, int seq, int h0) {
            long h = config.hidden();
            long offset = ((long) seq * t * 3 * h + part * h + (long) h0 * config.headSize()) * 4;
            return cachedSlice(qkvViews[part], seq * config.heads() + h0, qkv, offset, qkv.byteSize() - offset);
        }

        /** ctx from the first row of sequence {@code seq}, at head {@code h0}'s columns, to the buffer's end. */
        MemorySegment ctxView(int seq, int h0) {
            long offset = ((long) seq * t * config.hidden() + (long) h0 * config.headSize()) * 4;
            return cachedSlice(ctxViews, seq * config.heads() + h0, ctx, offset, ctx.byteSize() - offset);
        }

        /** Makes sure workers 1 … threads-1 have a copy buffer (allocated once per workspace and thread count). */
        void ensureCopies(int threads, int h) {
            if (copies.length >= threads) return;
            MemorySegment[] grown = Arrays.copyOf(copies, threads);
            for (int w = Math.max(1, copies.length); w < threads; w++)
                grown[w] = arena.allocate(Sizes.multiply("encoder activations", rows, h, 4), Tensor.ALIGNMENT);
            copies = grown; // published to the workers by the pool's job hand-over
        }

        MemorySegment copy(int worker) {
            return copies[worker];
        }
    }

    /** (sequence, head) pairs of one call whose attention views a workspace keeps. */
    private static final int MAX_CACHED_PAIRS = 1 << 16;

    /**
     * One worker's views of the rows of its range in each buffer (one per buffer and row split: the jobs over 16
     * and over 32 rows may cut different ranges), the LookupFFN tensors over them, and the embedding's heap rows.
     * Used by one range at a time: a job's ranges have distinct workers.
     */
    private static final class RowViews {
        final SliceCache x = new SliceCache(), xWide = new SliceCache(), ln = new SliceCache(), qkv = new SliceCache(),
                tmp = new SliceCache(), ctx = new SliceCache(), inter = new SliceCache();
        final float[] sum, type, pos;
        private MemorySegment lookupInputRows, lookupOutputRows;
        private Tensor lookupInput, lookupOutput;

        RowViews(int h) {
            sum = new float[h];
            type = new float[h];
            pos = new float[h];
        }

        /** rows [m, h] as a tensor, the same one while the same view comes. */
        Tensor lookupInput(MemorySegment rows, long m, long h) {
            if (rows != lookupInputRows) {
                lookupInput = Tensor.wrap(rows, DType.F32, m, h);
                lookupInputRows = rows;
            }
            return lookupInput;
        }

        Tensor lookupOutput(MemorySegment rows, long m, long h) {
            if (rows != lookupOutputRows) {
                lookupOutput = Tensor.wrap(rows, DType.F32, m, h);
                lookupOutputRows = rows;
            }
            return lookupOutput;
        }
    }

    /** Waits for running calls, then frees the weights, the LookupFFN layers and the workspaces. */
    @Override
    public void close() {
        if (!gate.close()) return;
        for (Layer l : layers) if (l.lookup() != null) l.lookup().close();
        workspaces.close();
        attentionScratch.close();
        arena.close();
    }
}
