package dev.lookupffn.ffi;

import static dev.lookupffn.ffi.gen.lookupffn_h.*;

import dev.lookupffn.LookupFfnException.NativeException;
import dev.lookupffn.LookupFfnException.ShapeException;
import dev.lookupffn.runtime.Sizes;
import dev.lookupffn.tensor.DType;
import java.lang.foreign.MemorySegment;

/**
 * The checked facade over the generated bindings ({@link dev.lookupffn.ffi.gen.lookupffn_h}). Every method
 * validates sizes, leading dimensions and segment extents before the downcall, so a wrong size is a
 * {@link ShapeException} and never an out-of-bounds native access; a non-zero status becomes a
 * {@link NativeException}. Segments are borrowed for the duration of the call only.
 *
 * <p>Matrices are row-major: {@code rows × cols} with a leading dimension {@code ld ≥ cols} in elements.
 * Arguments named {@code out…}, {@code y}, {@code z}, {@code code}, {@code score}, {@code c},
 * {@code packed} and {@code workspace} are written; every other segment is only read.
 *
 * <p>Every segment must be native memory ({@link ShapeException} for a heap segment), alive
 * ({@link IllegalStateException} once its arena is closed) and usable by the calling thread
 * ({@link WrongThreadException} for memory of another thread's confined arena). Sizes whose product does not
 * fit in 64 bits are a {@link ShapeException}. A written argument must not overlap any other argument (the C
 * kernels take {@code restrict} pointers), except where a method says it may be the same memory as an input
 * (same address and leading dimension): otherwise a {@link ShapeException} names the two.
 */
public final class Kernels {
    static final long F32 = 4, I32 = 4, BF16 = 2;

    static {
        NativeLibrary.load();
    }

    private Kernels() {}

    // ---- queries ----

    public static String version() {
        return lffn_version().reinterpret(64).getString(0);
    }

    public static Isa cpuIsa() {
        return Isa.of(lffn_cpu_isa());
    }

    public static Isa effectiveIsa() {
        return Isa.of(lffn_get_effective_isa());
    }

    /** Caps the ISA of every kernel, process-wide (for tests and comparisons). */
    public static void setMaxIsa(Isa isa) {
        if (isa.compareTo(cpuIsa()) > 0)
            throw new ShapeException("this CPU supports up to " + cpuIsa() + ", cannot use " + isa);
        check("lffn_set_max_isa", lffn_set_max_isa(isa.ordinal()));
    }

    public static void noop() {
        check("lffn_noop", lffn_noop());
    }

    // ---- LayerNorm ----

    /** y[r,:] = LayerNorm(x[r,:]) · gamma + beta over {@code rows} rows; x and y may be the same memory. */
    public static void layerNorm(long rows, long cols, MemorySegment x, long ldx, MemorySegment gamma,
                                 MemorySegment beta, float eps, MemorySegment y, long ldy) {
        positive("cols", cols);
        long xb = matrix("x", x, rows, cols, ldx, F32);
        long gb = matrix("gamma", gamma, 1, cols, cols, F32);
        long bb = matrix("beta", beta, 1, cols, cols, F32);
        long yb = matrix("y", y, rows, cols, ldy, F32);
        if (!(eps >= 0)) throw new ShapeException("eps must be >= 0, got " + eps);
        sameOrDisjoint("y", y, yb, ldy, "x", x, xb, ldx);
        disjoint("y", y, yb, "gamma", gamma, gb);
        disjoint("y", y, yb, "beta", beta, bb);
        check("lffn_layernorm_f32", lffn_layernorm_f32(rows, cols, x, ldx, gamma, beta, eps, y, ldy));
    }

    /**
     * y[r,:] = LayerNorm(a[r,:] + b[r,:]) · gamma + beta over {@code rows} rows: a residual add and the LayerNorm
     * after it in one pass. y may be the same memory as a or b; nothing else may overlap y.
     */
    public static void addLayerNorm(long rows, long cols, MemorySegment a, long lda, MemorySegment b, long ldb,
                                    MemorySegment gamma, MemorySegment beta, float eps, MemorySegment y, long ldy) {
        positive("cols", cols);
        long ab = matrix("a", a, rows, cols, lda, F32);
        long bb = matrix("b", b, rows, cols, ldb, F32);
        long gb = matrix("gamma", gamma, 1, cols, cols, F32);
        long betab = matrix("beta", beta, 1, cols, cols, F32);
        long yb = matrix("y", y, rows, cols, ldy, F32);
        if (!(eps >= 0)) throw new ShapeException("eps must be >= 0, got " + eps);
        sameOrDisjoint("y", y, yb, ldy, "a", a, ab, lda);
        sameOrDisjoint("y", y, yb, ldy, "b", b, bb, ldb);
        disjoint("y", y, yb, "gamma", gamma, gb);
        disjoint("y", y, yb, "beta", beta, betab);
        check("lffn_add_layernorm_f32", lffn_add_layernorm_f32(rows, cols, a, lda, b, ldb, gamma, beta, eps, y, ldy));
    }

    // ---- conversions ----

    /** dst = bf16(src), round to nearest even; n elements. */
    public static void convertF32ToBf16(long n, MemorySegment src, MemorySegment dst) {
        long sb = matrix("src", src, 1, n, n, F32);
        long db = matrix("dst", dst, 1, n, n, BF16);
        disjoint("dst", dst, db, "src", src, sb);
        check("lffn_convert_f32_to_bf16", lffn_convert_f32_to_bf16(n, src, dst));
    }

    // ---- LookupFFN kernels ----

    public static long bh4WorkspaceSize(long rows, long paddedDim) {
        long size = lffn_bh4_workspace_size(rows, paddedDim);
        if (size < 0) throw new ShapeException("invalid BH4 workspace request: rows " + rows + ", P " + paddedDim);
        return size;
    }

    /** z[r, :outDim] = BH4 projection of u[r, :dim] (SPEC.md step 2). bias may be null. */
    public static void bh4Project(long rows, long dim, long paddedDim, long block, long repeats, long outDim,
                                  MemorySegment u, long ldu, MemorySegment weight, MemorySegment bias,
                                  MemorySegment workspace, MemorySegment z, long ldz) {
        positive("dim", dim);
        positive("outDim", outDim);
        if (paddedDim < dim || Long.bitCount(paddedDim) != 1)
            throw new ShapeException("padded width " + paddedDim + " must be a power of two >= " + dim);
        if (block < 1 || paddedDim % block != 0)
            throw new ShapeException("BH4 block " + block + " must divide the padded width " + paddedDim);
        if (repeats < 1 || Sizes.multiply("BH4 width", repeats, paddedDim) < outDim)
            throw new ShapeException("BH4 repeats " + repeats + " × " + paddedDim + " < out width " + outDim);
        long ub = matrix("u", u, rows, dim, ldu, F32);
        long weightCount = Sizes.multiply("BH4 weight elements", Sizes.multiply("BH4 weight elements", repeats, 4), paddedDim, block);
        long wb = matrix("weight", weight, 1, weightCount, weightCount, F32);
        long biasb = optional("bias", bias, outDim, F32);
        long ws = bh4WorkspaceSize(rows, paddedDim);
        segment("workspace", workspace, ws);
        aligned("workspace", workspace);
        long zb = matrix("z", z, rows, outDim, ldz, F32);
        disjoint("z", z, zb, "u", u, ub);
        disjoint("z", z, zb, "weight", weight, wb);
        disjoint("z", z, zb, "bias", bias, biasb);
        disjoint("z", z, zb, "workspace", workspace, ws);
        disjoint("workspace", workspace, ws, "u", u, ub);
        disjoint("workspace", workspace, ws, "weight", weight, wb);
        disjoint("workspace", workspace, ws, "bias", bias, biasb);
        check("lffn_bh4_project_f32", lffn_bh4_project_f32(rows, dim, paddedDim, block, repeats, outDim, u, ldu,
                weight, nullable(bias), workspace, z, ldz));
    }

    /** Per table: code (MSB-first sign bits) and score of z (SPEC.md step 3). */
    public static void hashCodeScore(long rows, long tables, long tau, MemorySegment z, long ldz,
                                     MemorySegment code, long ldcode, MemorySegment score, long ldscore) {
        positive("tables", tables);
        tau(tau);
        long zb = matrix("z", z, rows, Sizes.multiply("hash bits", tables, tau), ldz, F32);
        long cb = matrix("code", code, rows, tables, ldcode, I32);
        long sb = matrix("score", score, rows, tables, ldscore, F32);
        disjoint("code", code, cb, "z", z, zb);
        disjoint("score", score, sb, "z", z, zb);
        disjoint("code", code, cb, "score", score, sb);
        check("lffn_hash_code_score_f32",
                lffn_hash_code_score_f32(rows, tables, tau, z, ldz, code, ldcode, score, ldscore));
    }

    /**
     * The C value of a packed table element type: {@link DType#F32}, {@link DType#BF16} or {@link DType#I8} (int8 with
     * one fp32 scale per table row and 64-column chunk); any other type is a {@link ShapeException}.
     */
    static int tableDType(DType tableDType) {
        if (tableDType == null) throw new ShapeException("table dtype is null");
        return switch (tableDType) {
            case F32 -> LFFN_TABLE_F32();
            case BF16 -> LFFN_TABLE_BF16();
            case I8 -> LFFN_TABLE_I8();
            default -> throw new ShapeException("tables can be packed as F32, BF16 or I8, not " + tableDType);
        };
    }

    /** Columns per int8 quantization chunk: one scale per table row and chunk. */
    public static final int I8_CHUNK = 64;

    /** Bytes of the packed form of a [tables·2^τ, outDim] table stored as {@code tableDType} (F32, BF16 or I8). */
    public static long tablesPackSize(long tables, long tau, long outDim, DType tableDType) {
        positive("tables", tables);
        positive("outDim", outDim);
        tau(tau);
        long size = lffn_tables_pack_size(tables, tau, outDim, tableDType(tableDType));
        if (size <= 0) throw new ShapeException("invalid table packing request: " + tables + " tables, tau " + tau + ", width " + outDim);
        return size;
    }

    /**
     * Packs an f32 table [tables·2^τ, outDim] once for {@link #gatherAccumPacked} and the fused layer, converted to
     * {@code tableDType}: BF16 rounds to nearest even, I8 quantizes as {@link #tablesQuantizeI8} (then every value
     * must be finite, else a {@link NativeException}).
     */
    public static void tablesPack(long tables, long tau, long outDim, MemorySegment table, DType tableDType, MemorySegment packed) {
        positive("tables", tables);
        tau(tau);
        long tb = matrix("table", table, Sizes.multiply("table rows", tables, 1L << tau), outDim, outDim, F32);
        long size = packedOutput(packed, tables, tau, outDim, tableDType);
        disjoint("packed tables", packed, size, "table", table, tb);
        check("lffn_tables_pack_f32", lffn_tables_pack_f32(tables, tau, outDim, table, tableDType(tableDType), packed));
    }

    /** Scale columns of an int8 table of width outDim: ceil(outDim / 64). */
    public static long i8ScaleColumns(long outDim) {
        positive("outDim", outDim);
        return (outDim - 1) / I8_CHUNK + 1;
    }

    /**
     * Symmetric int8 quantization of an f32 table [tables·2^τ, outDim] per (table row, 64-column chunk):
     * scale = max|x| / 127 (0 for an all-zero chunk), q = x / scale rounded to nearest (ties to even), clamped to
     * [-127, 127]. q [tables·2^τ, outDim] int8 and scale [tables·2^τ, ceil(outDim/64)] f32 are written. Every
     * value must be finite (else a {@link NativeException}).
     */
    public static void tablesQuantizeI8(long tables, long tau, long outDim, MemorySegment table, MemorySegment q,
                                        MemorySegment scale) {
        positive("tables", tables);
        positive("outDim", outDim);
        tau(tau);
        long rows = Sizes.multiply("table rows", tables, 1L << tau);
        long tb = matrix("table", table, rows, outDim, outDim, F32);
        long qb = matrix("q", q, rows, outDim, outDim, 1);
        long sb = matrix("scale", scale, rows, i8ScaleColumns(outDim), i8ScaleColumns(outDim), F32);
        disjoint("q", q, qb, "table", table, tb);
        disjoint("scale", scale, sb, "table", table, tb);
        disjoint("scale", scale, sb, "q", q, qb);
        check("lffn_tables_quantize_i8", lffn_tables_quantize_i8(tables, tau, outDim, table, q, scale));
    }

    /**
     * Packs an int8 table given quantized (q [tables·2^τ, outDim] int8, scale [tables·2^τ, ceil(outDim/64)] f32, as
     * {@link #tablesQuantizeI8} writes them; scales finite and ≥ 0, else a {@link NativeException}) into the packed
     * form of {@link #tablesPackSize}(…, I8).
     */
    public static void tablesPackI8(long tables, long tau, long outDim, MemorySegment q, MemorySegment scale,
                                    MemorySegment packed) {
        positive("tables", tables);
        positive("outDim", outDim);
        tau(tau);
        long rows = Sizes.multiply("table rows", tables, 1L << tau);
        long qb = matrix("q", q, rows, outDim, outDim, 1);
        long sb = matrix("scale", scale, rows, i8ScaleColumns(outDim), i8ScaleColumns(outDim), F32);
        long size = packedOutput(packed, tables, tau, outDim, DType.I8);
        disjoint("packed tables", packed, size, "q", q, qb);
        disjoint("packed tables", packed, size, "scale", scale, sb);
        check("lffn_tables_pack_i8", lffn_tables_pack_i8(tables, tau, outDim, q, scale, packed));
    }

    /** Packs a bf16 table [tables·2^τ, outDim] (bf16 bits, kept as given) into the packed form of BF16. */
    public static void tablesPackBf16(long tables, long tau, long outDim, MemorySegment table, MemorySegment packed) {
        positive("tables", tables);
        positive("outDim", outDim);
        tau(tau);
        long tb = matrix("table", table, Sizes.multiply("table rows", tables, 1L << tau), outDim, outDim, BF16);
        long size = packedOutput(packed, tables, tau, outDim, DType.BF16);
        disjoint("packed tables", packed, size, "table", table, tb);
        check("lffn_tables_pack_bf16", lffn_tables_pack_bf16(tables, tau, outDim, table, packed));
    }

    private static long packedOutput(MemorySegment packed, long tables, long tau, long outDim, DType tableDType) {
        long size = tablesPackSize(tables, tau, outDim, tableDType);
        segment("packed tables", packed, size);
        aligned("packed tables", packed);
        return size;
    }

    /**
     * out[r,:] = Σ_k score[r,k] · table[k·2^τ + code[r,k], :] + bias (SPEC.md step 4) over tables packed as
     * {@code tableDType} by {@link #tablesPack}, {@link #tablesPackI8} or {@link #tablesPackBf16} (same sizes).
     * bias may be null. Codes outside [0, 2^τ) are rejected by the kernel before any read.
     */
    public static void gatherAccumPacked(long rows, long tables, long tau, long outDim, MemorySegment code, long ldcode,
                                         MemorySegment score, long ldscore, MemorySegment packed, DType tableDType,
                                         MemorySegment bias, MemorySegment out, long ldout) {
        long cb = matrix("code", code, rows, tables, ldcode, I32);
        long sb = matrix("score", score, rows, tables, ldscore, F32);
        long pb = packedOutput(packed, tables, tau, outDim, tableDType);
        long bb = optional("bias", bias, outDim, F32);
        long ob = matrix("out", out, rows, outDim, ldout, F32);
        disjoint("out", out, ob, "code", code, cb);
        disjoint("out", out, ob, "score", score, sb);
        disjoint("out", out, ob, "packed tables", packed, pb);
        disjoint("out", out, ob, "bias", bias, bb);
        check("lffn_gather_accum_packed", lffn_gather_accum_packed(rows, tables, tau, outDim, code, ldcode, score, ldscore,
                packed, tableDType(tableDType), nullable(bias), out, ldout));
    }

    /** Bytes of the BH4 weights packed by {@link #bh4Pack} for the fused layer. */
    public static long bh4PackSize(long dim, long paddedDim, long block, long repeats, long outDim) {
        long size = lffn_bh4_pack_size_f32(dim, paddedDim, block, repeats, outDim);
        if (size <= 0) throw new ShapeException("invalid BH4 packing request: d " + dim + ", P " + paddedDim + ", block "
                + block + ", repeats " + repeats + ", width " + outDim);
        return size;
    }

    /**
     * Packs BH4 weights [repeats, 4, P/b, b, b] once at load for {@link #lookupffnForward} (outDim = tables·τ): the
     * in-block Hadamard stages are folded into them here rather than on every call.
     */
    public static void bh4Pack(long dim, long paddedDim, long block, long repeats, long outDim, MemorySegment weight,
                               MemorySegment packed) {
        long size = bh4PackSize(dim, paddedDim, block, repeats, outDim);
        long weightCount = Sizes.multiply("BH4 weight elements", Sizes.multiply("BH4 weight elements", repeats, 4), paddedDim, block);
        long wb = matrix("weight", weight, 1, weightCount, weightCount, F32);
        segment("packed BH4 weights", packed, size);
        aligned("packed BH4 weights", packed);
        disjoint("packed BH4 weights", packed, size, "weight", weight, wb);
        check("lffn_bh4_pack_f32", lffn_bh4_pack_f32(dim, paddedDim, block, repeats, outDim, weight, packed));
    }

    /** Bytes of scratch one {@link #lookupffnForward} call needs (capped: large calls work in tiles). */
    public static long lookupffnWorkspaceSize(long rows, long dim, long paddedDim, long tables, long tau) {
        long size = lffn_lookupffn_workspace_size(rows, dim, paddedDim, tables, tau);
        if (size < 0) throw new ShapeException("invalid LookupFFN workspace request: rows " + rows + ", d " + dim + ", P "
                + paddedDim + ", " + tables + " tables, tau " + tau);
        return size;
    }

    /**
     * The whole BH4 LookupFFN layer over rows (SPEC.md steps 1–4) in one call: out[r,:] = gather(hash(BH4(LN(x[r,:])))).
     * BH4 weights packed by {@link #bh4Pack} (outDim = tables·τ), tables packed as {@code tableDType} by {@link #tablesPack},
     * {@link #tablesPackI8} or {@link #tablesPackBf16}; workspace from
     * {@link #lookupffnWorkspaceSize}, one per concurrent call.
     */
    public static void lookupffnForward(long rows, long dim, long paddedDim, long block, long repeats, long tables, long tau,
                                        long outDim, MemorySegment x, long ldx, MemorySegment lnWeight, MemorySegment lnBias,
                                        float eps, MemorySegment packedProj, MemorySegment projBias, MemorySegment packedTables,
                                        DType tableDType, MemorySegment bias, MemorySegment workspace, MemorySegment out, long ldout) {
        positive("dim", dim);
        if (paddedDim < dim || Long.bitCount(paddedDim) != 1)
            throw new ShapeException("padded width " + paddedDim + " must be a power of two >= " + dim);
        if (block < 1 || paddedDim % block != 0)
            throw new ShapeException("BH4 block " + block + " must divide the padded width " + paddedDim);
        positive("tables", tables);
        positive("outDim", outDim);
        tau(tau);
        long bits = Sizes.multiply("hash bits", tables, tau);
        if (repeats < 1 || Sizes.multiply("BH4 width", repeats, paddedDim) < bits)
            throw new ShapeException("BH4 repeats " + repeats + " × " + paddedDim + " < " + bits + " hash bits");
        if (!(eps >= 0)) throw new ShapeException("eps must be >= 0, got " + eps);
        long xb = matrix("x", x, rows, dim, ldx, F32);
        long lwb = matrix("ln_weight", lnWeight, 1, dim, dim, F32);
        long lbb = matrix("ln_bias", lnBias, 1, dim, dim, F32);
        long pwb = bh4PackSize(dim, paddedDim, block, repeats, bits);
        segment("packed BH4 weights", packedProj, pwb);
        aligned("packed BH4 weights", packedProj);
        long pbb = optional("proj_bias", projBias, bits, F32);
        long ptb = packedOutput(packedTables, tables, tau, outDim, tableDType);
        long bb = optional("bias", bias, outDim, F32);
        long ws = lookupffnWorkspaceSize(rows, dim, paddedDim, tables, tau);
        segment("workspace", workspace, ws);
        aligned("workspace", workspace);
        long ob = matrix("out", out, rows, outDim, ldout, F32);
        disjoint("out", out, ob, "workspace", workspace, ws);
        writtenDisjointFromInputs("out", out, ob, x, xb, lnWeight, lwb, lnBias, lbb, packedProj, pwb, projBias, pbb,
                packedTables, ptb, bias, bb);
        writtenDisjointFromInputs("workspace", workspace, ws, x, xb, lnWeight, lwb, lnBias, lbb, packedProj, pwb,
                projBias, pbb, packedTables, ptb, bias, bb);
        check("lffn_lookupffn_forward_f32", lffn_lookupffn_forward_f32(rows, dim, paddedDim, block, repeats, tables, tau, outDim,
                x, ldx, lnWeight, lnBias, eps, packedProj, nullable(projBias), packedTables, tableDType(tableDType), nullable(bias),
                workspace, out, ldout));
    }

    private static void writtenDisjointFromInputs(String name, MemorySegment w, long wb, MemorySegment x, long xb,
                                                  MemorySegment lnWeight, long lwb, MemorySegment lnBias, long lbb,
                                                  MemorySegment projWeight, long pwb, MemorySegment projBias, long pbb,
                                                  MemorySegment packedTables, long ptb, MemorySegment bias, long bb) {
        disjoint(name, w, wb, "x", x, xb);
        disjoint(name, w, wb, "ln_weight", lnWeight, lwb);
        disjoint(name, w, wb, "ln_bias", lnBias, lbb);
        disjoint(name, w, wb, "proj_weight", projWeight, pwb);
        disjoint(name, w, wb, "proj_bias", projBias, pbb);
        disjoint(name, w, wb, "packed tables", packedTables, ptb);
        disjoint(name, w, wb, "bias", bias, bb);
    }

    /** The sum of n floats (a streaming read: the benchmarks use it to measure read bandwidth). */
    public static float reduceSum(long n, MemorySegment x, MemorySegment sumOut) {
        long xb = matrix("x", x, 1, n, n, F32);
        long sb = matrix("sum", sumOut, 1, 1, 1, F32);
        disjoint("sum", sumOut, sb, "x", x, xb);
        check("lffn_reduce_sum_f32", lffn_reduce_sum_f32(n, x, sumOut));
        return sumOut.get(java.lang.foreign.ValueLayout.JAVA_FLOAT, 0);
    }

    // ---- GEMM ----

    public enum Epilogue {
        NONE,
        GELU
    }

    /**
     * c[m,n] = epilogue(a[m,k] · op(b) + bias); op(b) = b [k,n] or, when transB, bᵀ with b [n,k] (nn.Linear
     * weight). bias may be null.
     */
    public static void gemm(long m, long n, long k, MemorySegment a, long lda, MemorySegment b, long ldb,
                            boolean transB, MemorySegment bias, Epilogue epilogue, MemorySegment c, long ldc) {
        positive("n", n);
        positive("k", k);
        long ab = matrix("a", a, m, k, lda, F32);
        long bb = transB ? matrix("b", b, n, k, ldb, F32) : matrix("b", b, k, n, ldb, F32);
        long biasb = optional("bias", bias, n, F32);
        long cb = matrix("c", c, m, n, ldc, F32);
        disjoint("c", c, cb, "a", a, ab);
        disjoint("c", c, cb, "b", b, bb);
        disjoint("c", c, cb, "bias", bias, biasb);
        check("lffn_gemm_f32", lffn_gemm_f32(m, n, k, a, lda, b, ldb, transB ? 1 : 0, nullable(bias),
                epilogue.ordinal(), c, ldc));
    }

    public static long gemmPackBSize(long n, long k) {
        positive("n", n);
        positive("k", k);
        long size = lffn_gemm_pack_b_size_f32(n, k);
        if (size <= 0) throw new ShapeException("invalid GEMM packing request n " + n + ", k " + k);
        return size;
    }

    public static void gemmPackB(long n, long k, MemorySegment b, long ldb, boolean transB, MemorySegment packed) {
        long bb = transB ? matrix("b", b, n, k, ldb, F32) : matrix("b", b, k, n, ldb, F32);
        long size = gemmPackBSize(n, k);
        segment("packed", packed, size);
        aligned("packed", packed);
        disjoint("packed", packed, size, "b", b, bb);
        check("lffn_gemm_pack_b_f32", lffn_gemm_pack_b_f32(n, k, b, ldb, transB ? 1 : 0, packed));
    }

    public static void gemmPacked(long m, long n, long k, MemorySegment a, long lda, MemorySegment packedB,
                                  MemorySegment bias, Epilogue epilogue, MemorySegment c, long ldc) {
        long ab = matrix("a", a, m, k, lda, F32);
        long size = gemmPackBSize(n, k);
        segment("packed B", packedB, size);
        long biasb = optional("bias", bias, n, F32);
        long cb = matrix("c", c, m, n, ldc, F32);
        disjoint("c", c, cb, "a", a, ab);
        disjoint("c", c, cb, "packed B", packedB, size);
        disjoint("c", c, cb, "bias", bias, biasb);
        check("lffn_gemm_packed_f32",
                lffn_gemm_packed_f32(m, n, k, a, lda, packedB, nullable(bias), epilogue.ordinal(), c, ldc));
    }

    // ---- GEMM with bf16 weights ----

    /**
     * Bytes of op(b) [k, n] packed as bf16 by {@link #gemmPackBBf16}: panels of 32 columns, each
     * {@code gemmPackBSizeBf16(32, k)} bytes and contiguous, so columns from a multiple of 32 on are a slice.
     */
    public static long gemmPackBSizeBf16(long n, long k) {
        positive("n", n);
        positive("k", k);
        long size = lffn_gemm_pack_b_size_bf16(n, k);
        if (size <= 0) throw new ShapeException("invalid bf16 GEMM packing request n " + n + ", k " + k);
        return size;
    }

    /** Packs op(b) (fp32, as {@link #gemmPackB} takes it) rounded to bf16 (nearest even) into {@code packed}. */
    public static void gemmPackBBf16(long n, long k, MemorySegment b, long ldb, boolean transB, MemorySegment packed) {
        long bb = transB ? matrix("b", b, n, k, ldb, F32) : matrix("b", b, k, n, ldb, F32);
        long size = gemmPackBSizeBf16(n, k);
        segment("packed", packed, size);
        aligned("packed", packed);
        disjoint("packed", packed, size, "b", b, bb);
        check("lffn_gemm_pack_b_bf16", lffn_gemm_pack_b_bf16(n, k, b, ldb, transB ? 1 : 0, packed));
    }

    /**
     * c[m,n] = epilogue(a[m,k] · B + bias) with B packed by {@link #gemmPackBBf16} (same n, k); sums in fp32. On
     * {@link Isa#AVX512_BF16} a is rounded to bf16 as well (vdpbf16ps); the other paths keep it fp32.
     */
    public static void gemmPackedBf16(long m, long n, long k, MemorySegment a, long lda, MemorySegment packedB,
                                      MemorySegment bias, Epilogue epilogue, MemorySegment c, long ldc) {
        long ab = matrix("a", a, m, k, lda, F32);
        long size = gemmPackBSizeBf16(n, k);
        segment("packed B", packedB, size);
        aligned("packed B", packedB);
        long biasb = optional("bias", bias, n, F32);
        long cb = matrix("c", c, m, n, ldc, F32);
        disjoint("c", c, cb, "a", a, ab);
        disjoint("c", c, cb, "packed B", packedB, size);
        disjoint("c", c, cb, "bias", bias, biasb);
        check("lffn_gemm_packed_bf16",
                lffn_gemm_packed_bf16(m, n, k, a, lda, packedB, nullable(bias), epilogue.ordinal(), c, ldc));
    }

    // ---- checks ----

    static void check(String function, int status) {
        if (status != LFFN_SUCCESS()) {
            // read at once, on this thread: a virtual thread stays on its carrier between the two downcalls
            String detail = status == LFFN_INVALID_ARGUMENTS() ? lffn_last_error().reinterpret(256).getString(0) : "";
            String text = lffn_status_str(status).reinterpret(64).getString(0);
            throw new NativeException(function, status, detail.isEmpty() ? text : text + " (" + detail + ")");
        }
    }

    private static void positive(String name, long v) {
        if (v <= 0) throw new ShapeException(name + " must be positive, got " + v);
    }

    private static void tau(long tau) {
        if (tau < 1 || tau > 16) throw new ShapeException("tau (bits per table) must be in 1..16, got " + tau);
    }

    /**
     * A rows × cols matrix with leading dimension ld (elements of elemBytes) must fit in seg, a segment the
     * kernel may use ({@link #requireUsable}). Returns the bytes the kernel touches from seg's start.
     */
    static long matrix(String name, MemorySegment seg, long rows, long cols, long ld, long elemBytes) {
        if (rows < 0 || cols < 0) throw new ShapeException(name + ": negative size " + rows + " × " + cols);
        if (ld < cols) throw new ShapeException(name + ": leading dimension " + ld + " < " + cols + " columns");
        long need = rows == 0 || cols == 0 ? 0
                : Sizes.multiply(name, Sizes.add(name, Sizes.multiply(name, rows - 1, ld), cols), elemBytes);
        segment(name, seg, need);
        if (seg.address() % elemBytes != 0)
            throw new ShapeException(name + " is not aligned to its " + elemBytes + "-byte elements");
        return need;
    }

    /** An optional vector of n elements; returns the bytes touched (0 when absent). */
    private static long optional(String name, MemorySegment seg, long n, long elemBytes) {
        return seg != null && !seg.equals(MemorySegment.NULL) ? matrix(name, seg, 1, n, n, elemBytes) : 0;
    }

    /**
     * A segment a kernel may be handed: not null, native, alive and accessible from this thread. Checked here
     * because the generated wrappers turn any failure inside a downcall into an AssertionError.
     */
    public static void requireUsable(String name, MemorySegment seg) {
        if (seg == null || seg.equals(MemorySegment.NULL)) throw new ShapeException(name + " is null");
        if (!seg.isNative()) throw new ShapeException(name + " must be native memory, not a heap segment");
        if (!seg.scope().isAlive()) throw new IllegalStateException(name + ": its memory was already freed (arena closed)");
        if (!seg.isAccessibleBy(Thread.currentThread()))
            throw new WrongThreadException(name + ": its memory belongs to a confined arena of another thread ("
                    + Thread.currentThread() + " may not use it)");
    }

    /** {@link #requireUsable} and at least {@code bytes} bytes. */
    private static void segment(String name, MemorySegment seg, long bytes) {
        requireUsable(name, seg);
        if (seg.byteSize() < bytes) throw new ShapeException(name + " has " + seg.byteSize() + " bytes, needs " + bytes);
    }

    /**
     * The first {@code aBytes} of a and the first {@code bBytes} of b must not share a byte (a is written, b is
     * read or written too): aliased restrict pointers give silently wrong results. Absent (null) segments pass.
     */
    public static void disjoint(String aName, MemorySegment a, long aBytes, String bName, MemorySegment b, long bBytes) {
        if (a == null || b == null || aBytes <= 0 || bBytes <= 0) return;
        long as = a.address(), bs = b.address();
        if (as < bs + bBytes && bs < as + aBytes)
            throw new ShapeException(aName + " overlaps " + bName + " (bytes [" + Long.toHexString(as) + ", +" + aBytes
                    + ") and [" + Long.toHexString(bs) + ", +" + bBytes + ")): the kernel writes " + aName
                    + " while it reads " + bName + "; use separate buffers");
    }

    /** As {@link #disjoint}, except that exactly the same matrix (address and leading dimension) is allowed. */
    private static void sameOrDisjoint(String outName, MemorySegment out, long outBytes, long ldOut, String inName,
                                       MemorySegment in, long inBytes, long ldIn) {
        if (out.address() == in.address() && ldOut == ldIn) return;
        disjoint(outName, out, outBytes, inName, in, inBytes);
    }

    private static void aligned(String name, MemorySegment seg) {
        if (seg.address() % 64 != 0) throw new ShapeException(name + " must be 64-byte aligned");
    }

    private static MemorySegment nullable(MemorySegment seg) {
        return seg == null ? MemorySegment.NULL : seg;
    }

    // ---- attention (encoder) ----

    /** y[r,:] = softmax(x[r,:] · scale + maskAdd) over {@code rows} rows; maskAdd [cols] may be null; y may be x. */
    public static void softmaxRows(long rows, long cols, MemorySegment x, long ldx, float scale, MemorySegment maskAdd,
                                   MemorySegment y, long ldy) {
        positive("cols", cols);
        long xb = matrix("x", x, rows, cols, ldx, F32);
        long mb = optional("maskAdd", maskAdd, cols, F32);
        long yb = matrix("y", y, rows, cols, ldy, F32);
        sameOrDisjoint("y", y, yb, ldy, "x", x, xb, ldx);
        disjoint("y", y, yb, "maskAdd", maskAdd, mb);
        if (!Float.isFinite(scale)) throw new ShapeException("softmax scale must be finite, got " + scale);
        check("lffn_softmax_rows_f32", lffn_softmax_rows_f32(rows, cols, x, ldx, scale, nullable(maskAdd), y, ldy));
    }

    /** y = a + b element-wise over rows × cols; y may be a or b. */
    public static void add(long rows, long cols, MemorySegment a, long lda, MemorySegment b, long ldb,
                           MemorySegment y, long ldy) {
        positive("cols", cols);
        long ab = matrix("a", a, rows, cols, lda, F32);
        long bb = matrix("b", b, rows, cols, ldb, F32);
        long yb = matrix("y", y, rows, cols, ldy, F32);
        sameOrDisjoint("y", y, yb, ldy, "a", a, ab, lda);
        sameOrDisjoint("y", y, yb, ldy, "b", b, bb, ldb);
        check("lffn_add_f32", lffn_add_f32(rows, cols, a, lda, b, ldb, y, ldy));
    }

    public static long attentionWorkspaceSize(long seqLen) {
        long size = lffn_attention_workspace_size(seqLen);
        if (size < 0) throw new ShapeException("invalid attention workspace request: sequence length " + seqLen);
        return size;
    }

    /**
     * Self-attention of {@code heads} heads of one sequence: head h reads columns [h·hs, (h+1)·hs) of q, k, v and
     * writes them in out: out_h = softmax(q_h·k_hᵀ·scale + maskAdd)·v_h. maskAdd [seqLen] may be null.
     */
    public static void attention(long seqLen, long heads, long headSize, MemorySegment q, long ldq, MemorySegment k,
                                 long ldk, MemorySegment v, long ldv, float scale, MemorySegment maskAdd,
                                 MemorySegment workspace, MemorySegment out, long ldout) {
        positive("seqLen", seqLen);
        attentionRows(seqLen, seqLen, heads, headSize, q, ldq, k, ldk, v, ldv, scale, maskAdd, workspace, out, ldout);
    }

    /**
     * As {@link #attention} for {@code qRows} queries (q and out start at the first of them) against all {@code
     * kvLen} keys of k and v: a range of one sequence's queries, so threads can split a sequence. Every output row
     * has the same bits as in the call over all queries. 1 ≤ qRows ≤ kvLen; maskAdd [kvLen] may be null; the
     * workspace is {@link #attentionWorkspaceSize}(kvLen) bytes.
     */
    public static void attentionRows(long qRows, long kvLen, long heads, long headSize, MemorySegment q, long ldq,
                                     MemorySegment k, long ldk, MemorySegment v, long ldv, float scale,
                                     MemorySegment maskAdd, MemorySegment workspace, MemorySegment out, long ldout) {
        positive("kvLen", kvLen);
        positive("qRows", qRows);
        if (qRows > kvLen) throw new ShapeException("attention over " + kvLen + " keys cannot take " + qRows + " queries");
        positive("heads", heads);
        positive("headSize", headSize);
        long width = Sizes.multiply("attention width", heads, headSize);
        long qb = matrix("q", q, qRows, width, ldq, F32);
        long kb = matrix("k", k, kvLen, width, ldk, F32);
        long vb = matrix("v", v, kvLen, width, ldv, F32);
        long mb = optional("maskAdd", maskAdd, kvLen, F32);
        long ws = attentionWorkspaceSize(kvLen);
        segment("workspace", workspace, ws);
        aligned("workspace", workspace);
        long ob = matrix("out", out, qRows, width, ldout, F32);
        for (int w = 0; w < 2; w++) {
            String name = w == 0 ? "out" : "workspace";
            MemorySegment seg = w == 0 ? out : workspace;
            long extent = w == 0 ? ob : ws;
            disjoint(name, seg, extent, "q", q, qb);
            disjoint(name, seg, extent, "k", k, kb);
            disjoint(name, seg, extent, "v", v, vb);
            disjoint(name, seg, extent, "maskAdd", maskAdd, mb);
        }
        disjoint("out", out, ob, "workspace", workspace, ws);
        if (!Float.isFinite(scale)) throw new ShapeException("attention scale must be finite, got " + scale);
        check("lffn_attention_rows_f32", lffn_attention_rows_f32(qRows, kvLen, heads, headSize, q, ldq, k, ldk, v, ldv,
                scale, nullable(maskAdd), workspace, out, ldout));
    }
}
