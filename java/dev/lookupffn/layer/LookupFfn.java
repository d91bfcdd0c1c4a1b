package dev.lookupffn.layer;

import dev.lookupffn.LookupFfnException.ShapeException;
import dev.lookupffn.ffi.Kernels;
import dev.lookupffn.runtime.CallGate;
import dev.lookupffn.runtime.SliceCache;
import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.runtime.WorkspacePool;
import dev.lookupffn.safetensors.SafetensorsFile;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.function.Function;

/**
 * One LookupFFN layer (SPEC.md): {@code out = Σ_k score_k · tables[k, code_k, :] + bias} where code and score come
 * from hashing a projection of {@code LayerNorm(x)}. Built from tensors named as the authors' PyTorch
 * {@code state_dict}; the configuration is inferred from their shapes.
 *
 * <p>Thread safety: {@link #forward} may be called from any number of threads at once. Each running range of
 * rows borrows a workspace sized for its rows from a small pool and gives it back when done, so scratch memory
 * is bounded by the calls running at the same time, not by how many threads ever called. {@link #close()} waits
 * for running calls and frees everything; later calls throw {@link IllegalStateException}. Weights are copied
 * into memory this layer owns (64-byte aligned), so the source file may be closed, or rewritten, after loading.
 *
 * <p>Tables are stored as {@link Options#tableDType()}: F32, BF16 (half the bytes) or I8 (a quarter, plus one fp32
 * scale per table row and 64 columns; {@link #tableBytes()}). A checkpoint may hold its tables compact, as written
 * by {@code convert --dtype bf16|int8}: {@code tables} BF16 [h, 2^τ, o], or {@code tables} I8 [h, 2^τ, o] with
 * {@code tables_scale} F32 [h, 2^τ, ceil(o/64)] (or [h·2^τ, ceil(o/64)]), quantized as
 * {@link Kernels#tablesQuantizeI8}. Compact tables are packed from their own bytes, never through an F32 copy,
 * so loading them needs the compact size twice at most and keeps it once. What a file holds and what the options
 * ask for combine as follows: BF16 tables load as BF16, as F32 (exact widening) or as I8 (quantized at load);
 * I8 tables load only as I8: asking for F32 or BF16 is a {@link ShapeException} (dequantizing would cost 2–4×
 * the memory and not bring the precision back); floating-point tables load as any of the three.
 */
public final class LookupFfn implements AutoCloseable {
    /** How the hash projection is computed. */
    public enum Projection {
        BH4,
        DENSE
    }

    /**
     * The inferred configuration. {@code dim} d (input width), {@code outDim} o, {@code tables} h, {@code tau} τ
     * (log2 of rows per table), BH4's padded width P, block b and repeats R (0 for dense).
     */
    public record Config(long dim, long outDim, long tables, int tau, Projection projection, long paddedDim,
                         long block, long repeats, float eps, DType tableDType) {
        public long hashBits() {
            return tables * tau;
        }

        public long tableRows() {
            return 1L << tau;
        }
    }

    /**
     * Loading options: LayerNorm eps and the table storage type (F32; BF16 for half the table bytes; I8 for a quarter,
     * quantized symmetrically per table row and 64 columns: output within ~1e-2 relative of F32, same codes).
     */
    public record Options(float eps, DType tableDType) {
        public static final Options DEFAULT = new Options(1e-5f, DType.F32);

        public Options {
            if (!(eps >= 0)) throw new ShapeException("LayerNorm eps must be >= 0, got " + eps);
            if (tableDType != DType.F32 && tableDType != DType.BF16 && tableDType != DType.I8)
                throw new ShapeException("tables can be stored as F32, BF16 or I8, not " + tableDType);
        }

        public Options withTableDType(DType d) {
            return new Options(eps, d);
        }

        public Options withEps(float e) {
            return new Options(e, tableDType);
        }
    }

    /** Dense projection: rows per sub-tile of LayerNorm → GEMM → hash (intermediates stay in L2)... */
    static final int TILE_ROWS = 64;
    /** ...and rows per gather call, so that each table slice brought into cache serves many tokens. */
    static final int GATHER_ROWS = 2048;
    /** Rows the fused BH4 kernel's workspace is sized for (it tiles larger calls itself). */
    static final int FUSED_ROWS = 4096;

    private final Config config;
    private final Arena arena;
    private final MemorySegment lnWeight, lnBias; // (d)
    private final MemorySegment projection;     // BH4: Kernels.bh4Pack form, then (R, 4, P/b, b, b); or dense packed for GEMM
    private final MemorySegment projectionBias; // (h·τ)
    private final MemorySegment tables;         // (h·2^τ, o) packed by lffn_tables_pack_*, as config.tableDType()
    private final MemorySegment bias;           // (o)
    private final CallGate gate = new CallGate("layer");
    private final WorkspacePool<Scratch> workspaces;
    private final WorkerPool.SegmentRangeBody rowsBody = (worker, start, end, x, out) -> forwardRows(x, out, start, end);

    /**
     * One workspace: the fused kernel's scratch (BH4), or the dense path's tile intermediates; and the views of
     * the rows handed to its last fused call, reused while calls pass the same tensors and row ranges (a serving
     * loop with fixed buffers gets its thread's workspace back), so that a warm BH4 forward allocates nothing.
     */
    private record Scratch(MemorySegment ln, MemorySegment z, MemorySegment code, MemorySegment score,
                           MemorySegment workspace, SliceCache xRows, SliceCache outRows) {
        Scratch(MemorySegment ln, MemorySegment z, MemorySegment code, MemorySegment score, MemorySegment workspace) {
            this(ln, z, code, score, workspace, new SliceCache(), new SliceCache());
        }
    }

    private LookupFfn(Config config, Arena arena, MemorySegment lnWeight, MemorySegment lnBias,
                      MemorySegment projection, MemorySegment projectionBias, MemorySegment tables, MemorySegment bias) {
        this.config = config;
        this.arena = arena;
        this.lnWeight = lnWeight;
        this.lnBias = lnBias;
        this.projection = projection;
        this.projectionBias = projectionBias;
        this.tables = tables;
        this.bias = bias;
        long rowsPerWorkspace = config.projection() == Projection.BH4 ? FUSED_ROWS : GATHER_ROWS;
        this.workspaces = new WorkspacePool<>(rowsPerWorkspace, WorkspacePool.defaultMaxIdle(), this::newScratch);
    }

    /** Loads the layer whose tensors are {@code prefix + name} in a safetensors file. */
    public static LookupFfn load(SafetensorsFile file, String prefix, Options options) {
        return fromTensors(name -> file.contains(prefix + name) ? file.tensor(prefix + name) : null,
                file.path() + (prefix.isEmpty() ? "" : " (prefix '" + prefix + "')"), options);
    }

    /**
     * Builds a layer from tensors looked up by their SPEC.md names ({@code LayerNorm.weight}, {@code LayerNorm.bias},
     * {@code hash.projection.weight}, {@code hash.projection.bias}, {@code tables}, {@code bias}); the lookup
     * returns null for a missing tensor. {@code source} names where they come from, for messages.
     */
    public static LookupFfn fromTensors(Function<String, Tensor> lookup, String source, Options options) {
        Tensor lnW = require(lookup, "LayerNorm.weight", source), lnB = require(lookup, "LayerNorm.bias", source);
        Tensor projW = require(lookup, "hash.projection.weight", source);
        Tensor projB = require(lookup, "hash.projection.bias", source);
        Tensor tab = require(lookup, "tables", source), b = require(lookup, "bias", source);
        Config config = inferConfig(source, lnW, lnB, projW, projB, tab, b, options);
        Tensor tabScale = lookup.apply(TABLE_SCALE);
        checkTableStorage(source, config, tab, tabScale);

        Arena arena = Arena.ofShared();
        try {
            MemorySegment projection;
            if (config.projection() == Projection.DENSE) {
                // pack W [h·τ, d] once as the right-hand side of u·Wᵀ
                MemorySegment w = copyF32(arena, projW);
                projection = arena.allocate(Kernels.gemmPackBSize(config.hashBits(), config.dim()), Tensor.ALIGNMENT);
                Kernels.gemmPackB(config.hashBits(), config.dim(), w, config.dim(), true, projection);
            } else {
                // BH4: the form packed once for the fused kernel (the in-block Hadamard stages folded in at load,
                // not per call), then at rawBh4Offset the weights as given (trace() reads them)
                long packedBytes = Kernels.bh4PackSize(config.dim(), config.paddedDim(), config.block(), config.repeats(),
                        config.hashBits());
                projection = arena.allocate(rawBh4Offset(packedBytes) + projW.elementCount() * 4, Tensor.ALIGNMENT);
                MemorySegment raw = projection.asSlice(rawBh4Offset(packedBytes));
                try (Arena tmp = Arena.ofConfined()) {
                    MemorySegment.copy(copyF32(tmp, projW), 0, raw, 0, projW.elementCount() * 4);
                }
                Kernels.bh4Pack(config.dim(), config.paddedDim(), config.block(), config.repeats(), config.hashBits(),
                        raw, projection);
            }
            MemorySegment tables = packTables(arena, config, tab, tabScale);
            return new LookupFfn(config, arena, copyF32(arena, lnW), copyF32(arena, lnB), projection,
                    copyF32(arena, projB), tables, copyF32(arena, b));
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** The scales of compact int8 tables, beside {@code tables}. */
    static final String TABLE_SCALE = "tables_scale";

    /** Rejects table storage the options cannot use (see the class comment), naming what to do instead. */
    private static void checkTableStorage(String source, Config c, Tensor tab, Tensor scale) {
        String where = source + ": ";
        if (tab.dtype() == DType.I8) {
            if (c.tableDType() != DType.I8)
                throw new ShapeException(where + "tensor 'tables' holds int8 (quantized) tables; load them with table dtype "
                        + "I8 (LookupFfn.Options.withTableDType(DType.I8), --dtype int8): dequantizing to " + c.tableDType()
                        + " would cost more memory and not restore the precision (convert the original checkpoint instead)");
            if (scale == null)
                throw new ShapeException(where + "tensor 'tables' is I8 but '" + TABLE_SCALE + "' (its F32 scales, ["
                        + c.tables() + ", " + c.tableRows() + ", " + Kernels.i8ScaleColumns(c.outDim()) + "]) is missing");
            long cols = Kernels.i8ScaleColumns(c.outDim());
            long[] sh = scale.shape();
            boolean shapeOk = sh.length == 3 ? sh[0] == c.tables() && sh[1] == c.tableRows() && sh[2] == cols
                    : sh.length == 2 && sh[0] == c.tables() * c.tableRows() && sh[1] == cols;
            if (scale.dtype() != DType.F32 || !shapeOk)
                throw shape(where, TABLE_SCALE, "F32 [" + c.tables() + ", " + c.tableRows() + ", " + cols + "] (one scale per "
                        + "table row and 64 columns)", scale);
        } else {
            if (scale != null)
                throw new ShapeException(where + "tensor '" + TABLE_SCALE + "' is only meaningful beside I8 tables, but "
                        + "'tables' is " + tab.dtype());
            if (tab.dtype() != DType.F32 && tab.dtype() != DType.BF16 && tab.dtype() != DType.F16 && tab.dtype() != DType.F64)
                throw new ShapeException(where + "tensor 'tables' should be F32, BF16, F16, F64 or I8 (with '" + TABLE_SCALE
                        + "'), got " + tab.dtype());
        }
    }

    /**
     * The tables packed once into the gather's cache-friendly layout, as config.tableDType(). Compact tables
     * (BF16 kept as BF16, I8) are first copied from the source into a temporary buffer by Java (so a source file
     * truncated meanwhile is an exception, never a native fault) and packed from there; other sources through F32.
     */
    private static MemorySegment packTables(Arena arena, Config c, Tensor tab, Tensor scale) {
        long h = c.tables(), tau = c.tau(), o = c.outDim();
        MemorySegment packed = arena.allocate(Kernels.tablesPackSize(h, tau, o, c.tableDType()), Tensor.ALIGNMENT);
        try (Arena tmp = Arena.ofConfined()) {
            if (tab.dtype() == DType.I8)
                Kernels.tablesPackI8(h, tau, o, copyBytes(tmp, tab), copyBytes(tmp, scale), packed);
            else if (tab.dtype() == DType.BF16 && c.tableDType() == DType.BF16)
                Kernels.tablesPackBf16(h, tau, o, copyBytes(tmp, tab), packed);
            else
                Kernels.tablesPack(h, tau, o, copyF32(tmp, tab), c.tableDType(), packed);
        }
        return packed;
    }

    /** An aligned copy of a tensor's bytes as stored. */
    private static MemorySegment copyBytes(Arena arena, Tensor t) {
        MemorySegment out = arena.allocate(Math.max(Tensor.ALIGNMENT, t.byteSize()), Tensor.ALIGNMENT);
        MemorySegment.copy(t.segment(), 0, out, 0, t.byteSize());
        return out;
    }

    /**
     * Bytes of this layer's packed tables (int8: values and scales): the memory the tables hold while the layer is
     * open (the paper's 128 × 256 × 512 layer: 64 MiB F32, 32 MiB BF16, 17 MiB I8).
     */
    public long tableBytes() {
        return tables.byteSize();
    }

    private static Tensor require(Function<String, Tensor> lookup, String name, String source) {
        Tensor t = lookup.apply(name);
        if (t == null) throw new ShapeException(source + ": missing tensor '" + name + "'");
        return t;
    }

    /** An aligned F32 copy (the weights of a layer are copied once, converting BF16/F16/F64 to F32). */
    /** Byte offset of the BH4 weights as given behind their packed form of {@code packedBytes} (64-byte aligned). */
    private static long rawBh4Offset(long packedBytes) {
        return (packedBytes + Tensor.ALIGNMENT - 1) / Tensor.ALIGNMENT * Tensor.ALIGNMENT;
    }

    /** The BH4 weights as given [R, 4, P/b, b, b] (the per-stage kernels read them; the fused one the packed form). */
    private MemorySegment rawBh4() {
        Config c = config;
        return projection.asSlice(rawBh4Offset(Kernels.bh4PackSize(c.dim(), c.paddedDim(), c.block(), c.repeats(),
                c.hashBits())));
    }

    private static MemorySegment copyF32(Arena arena, Tensor t) {
        MemorySegment out = arena.allocate(Math.max(4, t.elementCount() * 4), Tensor.ALIGNMENT);
        if (t.dtype() == DType.F32) MemorySegment.copy(t.segment(), 0, out, 0, t.byteSize());
        else {
            if (t.dtype() != DType.BF16 && t.dtype() != DType.F16 && t.dtype() != DType.F64)
                throw new ShapeException("expected floating-point weights, got " + t.dtype());
            for (long i = 0; i < t.elementCount(); i++) out.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i, t.getFloat(i));
        }
        return out;
    }

    static Config inferConfig(String source, Tensor lnW, Tensor lnB, Tensor projW, Tensor projB, Tensor tab,
                              Tensor b, Options options) {
        String where = source + ": ";
        if (lnW.rank() != 1) throw shape(where, "LayerNorm.weight", "[d]", lnW);
        long d = lnW.dim(0);
        if (d < 1) throw shape(where, "LayerNorm.weight", "[d] with d >= 1", lnW);
        if (lnB.rank() != 1 || lnB.dim(0) != d) throw shape(where, "LayerNorm.bias", "[" + d + "]", lnB);
        if (tab.rank() != 3) throw shape(where, "tables", "[h, 2^tau, o]", tab);
        long h = tab.dim(0), rows = tab.dim(1), o = tab.dim(2);
        if (h < 1 || o < 1 || rows < 2 || Long.bitCount(rows) != 1 || rows > (1 << 16))
            throw shape(where, "tables", "[h, 2^tau, o] with 2 <= 2^tau <= 65536 a power of two", tab);
        int tau = Long.numberOfTrailingZeros(rows);
        if (b.rank() != 1 || b.dim(0) != o) throw shape(where, "bias", "[" + o + "] (the tables' width)", b);
        long bits = h * tau;
        if (projB.rank() != 1 || projB.dim(0) != bits)
            throw shape(where, "hash.projection.bias", "[" + bits + "] (h·tau = " + h + "·" + tau + ")", projB);
        if (projW.rank() == 2) {
            if (projW.dim(0) != bits || projW.dim(1) != d)
                throw shape(where, "hash.projection.weight", "[" + bits + ", " + d + "] (dense: [h·tau, d])", projW);
            return new Config(d, o, h, tau, Projection.DENSE, 0, 0, 0, options.eps(), options.tableDType());
        }
        if (projW.rank() != 5) throw shape(where, "hash.projection.weight", "[h·tau, d] or BH4 [R, 4, P/b, b, b]", projW);
        long p = Long.highestOneBit(d) == d ? d : Long.highestOneBit(d) << 1;
        long repeats = Math.max(1, (bits + p - 1) / p);
        long blk = projW.dim(3);
        String want = "[" + repeats + ", 4, " + (blk > 0 && p % blk == 0 ? p / blk : "P/b") + ", " + blk + ", " + blk
                + "] (BH4 with P = " + p + ", R = " + repeats + ")";
        if (blk < 1 || p % blk != 0 || projW.dim(0) != repeats || projW.dim(1) != 4 || projW.dim(2) != p / blk
                || projW.dim(4) != blk)
            throw shape(where, "hash.projection.weight", want, projW);
        return new Config(d, o, h, tau, Projection.BH4, p, blk, repeats, options.eps(), options.tableDType());
    }

    private static ShapeException shape(String where, String name, String expected, Tensor actual) {
        return new ShapeException(where + "tensor '" + name + "' should be " + expected + ", got " + actual.dtype() + " "
                + Arrays.toString(actual.shape()));
    }

    public Config config() {
        return config;
    }

    /** out = LookupFFN(x) for x [B, d], into a new owned [B, o] tensor, on the shared worker pool. */
    public Tensor forward(Tensor x) {
        if (gate.isClosed()) throw new IllegalStateException("layer is closed");
        checkInput(x);
        Tensor out = Tensor.allocate(DType.F32, x.dim(0), config.outDim());
        try {
            forward(x, out, WorkerPool.shared());
            return out;
        } catch (RuntimeException | Error e) {
            out.close();
            throw e;
        }
    }

    /**
     * out [B, o] = LookupFFN(x [B, d]), rows split over the pool (all on the calling thread when x or out is
     * memory of a confined arena). out must not overlap x. A warm call allocates nothing on the Java heap.
     */
    public void forward(Tensor x, Tensor out, WorkerPool pool) {
        gate.enter();
        try {
            checkIo(x, out);
            pool.forRanges(x.dim(0), 16, rowsBody, x.segment(), out.segment());
        } finally {
            gate.exit();
        }
    }

    private void checkIo(Tensor x, Tensor out) {
        checkInput(x);
        Kernels.requireUsable("output tensor", out.segment());
        out.requireDType(DType.F32);
        if (out.rank() != 2 || out.dim(0) != x.dim(0) || out.dim(1) != config.outDim())
            throw new ShapeException("output should be [" + x.dim(0) + ", " + config.outDim() + "], got "
                    + Arrays.toString(out.shape()));
        Kernels.disjoint("output tensor", out.segment(), out.byteSize(), "input tensor", x.segment(), x.byteSize());
    }

    private void checkInput(Tensor x) {
        Kernels.requireUsable("input tensor", x.segment());
        x.requireDType(DType.F32);
        if (x.rank() != 2 || x.dim(1) != config.dim())
            throw new ShapeException("input should be [B, " + config.dim() + "], got " + Arrays.toString(x.shape()));
    }

    /** The whole pipeline for rows [start, end) on the calling thread. */
    private void forwardRows(MemorySegment x, MemorySegment out, long start, long end) {
        WorkspacePool.Lease<Scratch> lease = workspaces.take(end - start);
        try {
            forwardRows(x, out, start, end, lease.scratch());
        } finally {
            workspaces.release(lease);
        }
    }

    private void forwardRows(MemorySegment x, MemorySegment out, long start, long end, Scratch s) {
        Config c = config;
        long d = c.dim(), o = c.outDim(), h = c.tables(), bits = c.hashBits();
        if (c.projection() == Projection.BH4) {
            // one fused call: LayerNorm → BH4 → hash → gather, tiled inside the kernel
            long n = end - start;
            Kernels.lookupffnForward(n, d, c.paddedDim(), c.block(), c.repeats(), h, c.tau(), o,
                    s.xRows().of(x, start * d * 4, n * d * 4), d, lnWeight, lnBias, c.eps(), projection, projectionBias,
                    tables, c.tableDType(), bias, s.workspace(), s.outRows().of(out, start * o * 4, n * o * 4), o);
            return;
        }
        for (long g = start; g < end; g += GATHER_ROWS) {
            long rows = Math.min(GATHER_ROWS, end - g);
            for (long r = g; r < g + rows; r += TILE_ROWS) {
                long n = Math.min(TILE_ROWS, g + rows - r);
                // 1. u = LayerNorm(x)
                Kernels.layerNorm(n, d, x.asSlice(r * d * 4, n * d * 4), d, lnWeight, lnBias, c.eps(), s.ln(), d);
                // 2. z = u·Wᵀ + bias
                project(n, s);
                // 3. code, score per table, collected for the whole gather group
                long at = (r - g) * h * 4;
                Kernels.hashCodeScore(n, h, c.tau(), s.z(), bits, s.code().asSlice(at, n * h * 4), h,
                        s.score().asSlice(at, n * h * 4), h);
            }
            // 4. out = Σ_k score · tables[k, code] + bias over the group
            Kernels.gatherAccumPacked(rows, h, c.tau(), o, s.code(), h, s.score(), h, tables, c.tableDType(), bias,
                    out.asSlice(g * o * 4, rows * o * 4), o);
        }
    }

    private void project(long n, Scratch s) {
        Config c = config;
        if (c.projection() == Projection.DENSE)
            Kernels.gemmPacked(n, c.hashBits(), c.dim(), s.ln(), c.dim(), projection, projectionBias,
                    Kernels.Epilogue.NONE, s.z(), c.hashBits());
        else
            Kernels.bh4Project(n, c.dim(), c.paddedDim(), c.block(), c.repeats(), c.hashBits(), s.ln(), c.dim(),
                    rawBh4(), projectionBias, s.workspace(), s.z(), c.hashBits());
    }

    /** Scratch for ranges of up to {@code rows} rows (at most FUSED_ROWS, or GATHER_ROWS for dense). */
    private Scratch newScratch(Arena arena, long rows) {
        Config c = config;
        if (c.projection() == Projection.BH4) {
            long ws = Kernels.lookupffnWorkspaceSize(rows, c.dim(), c.paddedDim(), c.tables(), c.tau());
            MemorySegment none = MemorySegment.NULL;
            return new Scratch(none, none, none, none, arena.allocate(Math.max(ws, 64), 64));
        }
        long t = Math.min(rows, TILE_ROWS), g = rows;
        return new Scratch(arena.allocate(t * c.dim() * 4, 64), arena.allocate(t * c.hashBits() * 4, 64),
                arena.allocate(g * c.tables() * 4, 64), arena.allocate(g * c.tables() * 4, 64), MemorySegment.NULL);
    }

    /**
     * Intermediates of the unfused chain of public kernels (LayerNorm, projection, hash, packed gather), for the
     * tests that check those kernels against the fixtures' intermediates; {@link #forward} runs the fused kernel,
     * which the tests judge on its own output. Owned tensors: close them.
     */
    record Trace(Tensor ln, Tensor z, Tensor code, Tensor score, Tensor out) implements AutoCloseable {
        @Override
        public void close() {
            ln.close();
            z.close();
            code.close();
            score.close();
            out.close();
        }
    }

    /** Runs the unfused pipeline single-threaded and keeps every intermediate (SPEC.md steps 1–4). */
    Trace trace(Tensor x) {
        gate.enter();
        try {
            return traced(x);
        } finally {
            gate.exit();
        }
    }

    private Trace traced(Tensor x) {
        checkInput(x);
        long b = x.dim(0);
        Config c = config;
        Tensor ln = Tensor.allocate(DType.F32, b, c.dim()), z = Tensor.allocate(DType.F32, b, c.hashBits());
        Tensor code = Tensor.allocate(DType.I32, b, c.tables()), score = Tensor.allocate(DType.F32, b, c.tables());
        Tensor out = Tensor.allocate(DType.F32, b, c.outDim());
        Kernels.layerNorm(b, c.dim(), x.segment(), c.dim(), lnWeight, lnBias, c.eps(), ln.segment(), c.dim());
        if (c.projection() == Projection.DENSE)
            Kernels.gemmPacked(b, c.hashBits(), c.dim(), ln.segment(), c.dim(), projection, projectionBias,
                    Kernels.Epilogue.NONE, z.segment(), c.hashBits());
        else {
            try (Arena tmp = Arena.ofConfined()) {
                MemorySegment ws = tmp.allocate(Math.max(64, Kernels.bh4WorkspaceSize(b, c.paddedDim())), 64);
                Kernels.bh4Project(b, c.dim(), c.paddedDim(), c.block(), c.repeats(), c.hashBits(), ln.segment(),
                        c.dim(), rawBh4(), projectionBias, ws, z.segment(), c.hashBits());
            }
        }
        Kernels.hashCodeScore(b, c.tables(), c.tau(), z.segment(), c.hashBits(), code.segment(), c.tables(),
                score.segment(), c.tables());
        Kernels.gatherAccumPacked(b, c.tables(), c.tau(), c.outDim(), code.segment(), c.tables(), score.segment(), c.tables(),
                tables, c.tableDType(), bias, out.segment(), c.outDim());
        return new Trace(ln, z, code, score, out);
    }

    /** Waits for running calls, then frees the weights and the workspaces; later calls throw IllegalStateException. */
    @Override
    public void close() {
        if (!gate.close()) return;
        workspaces.close();
        arena.close();
    }
}
