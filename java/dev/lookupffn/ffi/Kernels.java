package dev.lookupffn.ffi;

import static dev.lookupffn.ffi.gen.lookupffn_h.*;

import dev.lookupffn.LookupFfnException.NativeException;
import dev.lookupffn.LookupFfnException.ShapeException;
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
        matrix("x", x, rows, cols, ldx, F32);
        matrix("gamma", gamma, 1, cols, cols, F32);
        matrix("beta", beta, 1, cols, cols, F32);
        matrix("y", y, rows, cols, ldy, F32);
        if (!(eps >= 0)) throw new ShapeException("eps must be >= 0, got " + eps);
        check("lffn_layernorm_f32", lffn_layernorm_f32(rows, cols, x, ldx, gamma, beta, eps, y, ldy));
    }

    // ---- conversions ----

    /** dst = bf16(src), round to nearest even; n elements. */
    public static void convertF32ToBf16(long n, MemorySegment src, MemorySegment dst) {
        matrix("src", src, 1, n, n, F32);
        matrix("dst", dst, 1, n, n, BF16);
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
        if (repeats < 1 || Math.multiplyExact(repeats, paddedDim) < outDim)
            throw new ShapeException("BH4 repeats " + repeats + " × " + paddedDim + " < out width " + outDim);
        matrix("u", u, rows, dim, ldu, F32);
        long weightCount = Math.multiplyExact(Math.multiplyExact(repeats * 4, paddedDim), block);
        matrix("weight", weight, 1, weightCount, weightCount, F32);
        optional("bias", bias, outDim, F32);
        long ws = bh4WorkspaceSize(rows, paddedDim);
        if (workspace.byteSize() < ws)
            throw new ShapeException("BH4 workspace has " + workspace.byteSize() + " bytes, needs " + ws);
        matrix("z", z, rows, outDim, ldz, F32);
        check("lffn_bh4_project_f32", lffn_bh4_project_f32(rows, dim, paddedDim, block, repeats, outDim, u, ldu,
                weight, nullable(bias), workspace, z, ldz));
    }

    /** Per table: code (MSB-first sign bits) and score of z (SPEC.md step 3). */
    public static void hashCodeScore(long rows, long tables, long tau, MemorySegment z, long ldz,
                                     MemorySegment code, long ldcode, MemorySegment score, long ldscore) {
        positive("tables", tables);
        tau(tau);
        matrix("z", z, rows, Math.multiplyExact(tables, tau), ldz, F32);
        matrix("code", code, rows, tables, ldcode, I32);
        matrix("score", score, rows, tables, ldscore, F32);
        check("lffn_hash_code_score_f32",
                lffn_hash_code_score_f32(rows, tables, tau, z, ldz, code, ldcode, score, ldscore));
    }

    /** Bytes of the packed form of a [tables·2^τ, outDim] table (f32, or bf16 when {@code bf16}). */
    public static long tablesPackSize(long tables, long tau, long outDim, boolean bf16) {
        positive("tables", tables);
        positive("outDim", outDim);
        tau(tau);
        long size = lffn_tables_pack_size(tables, tau, outDim, bf16 ? 1 : 0);
        if (size <= 0) throw new ShapeException("invalid table packing request: " + tables + " tables, tau " + tau + ", width " + outDim);
        return size;
    }

    /** Packs an f32 table [tables·2^τ, outDim] once for {@link #gatherAccumPacked} and the fused layer. */
    public static void tablesPack(long tables, long tau, long outDim, MemorySegment table, boolean bf16, MemorySegment packed) {
        matrix("table", table, Math.multiplyExact(tables, 1L << tau), outDim, outDim, F32);
        long size = tablesPackSize(tables, tau, outDim, bf16);
        if (packed.byteSize() < size) throw new ShapeException("packed tables have " + packed.byteSize() + " bytes, need " + size);
        aligned("packed tables", packed);
        check("lffn_tables_pack_f32", lffn_tables_pack_f32(tables, tau, outDim, table, bf16 ? 1 : 0, packed));
    }

    /**
     * out[r,:] = Σ_k score[r,k] · table[k·2^τ + code[r,k], :] + bias (SPEC.md step 4) over tables packed by
     * {@link #tablesPack} (same sizes and bf16). bias may be null. Codes outside [0, 2^τ) are rejected by the
     * kernel before any read.
     */
    public static void gatherAccumPacked(long rows, long tables, long tau, long outDim, MemorySegment code, long ldcode,
                                         MemorySegment score, long ldscore, MemorySegment packed, boolean bf16,
                                         MemorySegment bias, MemorySegment out, long ldout) {
        matrix("code", code, rows, tables, ldcode, I32);
        matrix("score", score, rows, tables, ldscore, F32);
        packedTables(packed, tables, tau, outDim, bf16);
        optional("bias", bias, outDim, F32);
        matrix("out", out, rows, outDim, ldout, F32);
        check("lffn_gather_accum_packed", lffn_gather_accum_packed(rows, tables, tau, outDim, code, ldcode, score, ldscore,
                packed, bf16 ? 1 : 0, nullable(bias), out, ldout));
    }

    private static void packedTables(MemorySegment packed, long tables, long tau, long outDim, boolean bf16) {
        long size = tablesPackSize(tables, tau, outDim, bf16);
        if (packed == null || packed.byteSize() < size)
            throw new ShapeException("packed tables have " + (packed == null ? 0 : packed.byteSize()) + " bytes, need " + size);
        if (!packed.scope().isAlive()) throw new IllegalStateException("packed tables: memory already freed");
        aligned("packed tables", packed);
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
        long weightCount = Math.multiplyExact(Math.multiplyExact(Math.multiplyExact(repeats, 4), paddedDim), block);
        matrix("weight", weight, 1, weightCount, weightCount, F32);
        if (packed.byteSize() < size) throw new ShapeException("packed BH4 weights have " + packed.byteSize() + " bytes, need " + size);
        aligned("packed BH4 weights", packed);
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
     * BH4 weights packed by {@link #bh4Pack} (outDim = tables·τ), tables packed by {@link #tablesPack}; workspace from
     * {@link #lookupffnWorkspaceSize}, one per concurrent call.
     */
    public static void lookupffnForward(long rows, long dim, long paddedDim, long block, long repeats, long tables, long tau,
                                        long outDim, MemorySegment x, long ldx, MemorySegment lnWeight, MemorySegment lnBias,
                                        float eps, MemorySegment packedProj, MemorySegment projBias, MemorySegment packedTables,
                                        boolean bf16, MemorySegment bias, MemorySegment workspace, MemorySegment out, long ldout) {
        positive("dim", dim);
        if (paddedDim < dim || Long.bitCount(paddedDim) != 1)
            throw new ShapeException("padded width " + paddedDim + " must be a power of two >= " + dim);
        if (block < 1 || paddedDim % block != 0)
            throw new ShapeException("BH4 block " + block + " must divide the padded width " + paddedDim);
        long bits = Math.multiplyExact(tables, tau);
        if (repeats < 1 || Math.multiplyExact(repeats, paddedDim) < bits)
            throw new ShapeException("BH4 repeats " + repeats + " × " + paddedDim + " < " + bits + " hash bits");
        if (!(eps >= 0)) throw new ShapeException("eps must be >= 0, got " + eps);
        matrix("x", x, rows, dim, ldx, F32);
        matrix("ln_weight", lnWeight, 1, dim, dim, F32);
        matrix("ln_bias", lnBias, 1, dim, dim, F32);
        long projSize = bh4PackSize(dim, paddedDim, block, repeats, bits);
        if (packedProj.byteSize() < projSize)
            throw new ShapeException("packed BH4 weights have " + packedProj.byteSize() + " bytes, need " + projSize);
        aligned("packed BH4 weights", packedProj);
        optional("proj_bias", projBias, bits, F32);
        packedTables(packedTables, tables, tau, outDim, bf16);
        optional("bias", bias, outDim, F32);
        long ws = lookupffnWorkspaceSize(rows, dim, paddedDim, tables, tau);
        if (workspace.byteSize() < ws) throw new ShapeException("LookupFFN workspace has " + workspace.byteSize() + " bytes, needs " + ws);
        aligned("workspace", workspace);
        matrix("out", out, rows, outDim, ldout, F32);
        check("lffn_lookupffn_forward_f32", lffn_lookupffn_forward_f32(rows, dim, paddedDim, block, repeats, tables, tau, outDim,
                x, ldx, lnWeight, lnBias, eps, packedProj, nullable(projBias), packedTables, bf16 ? 1 : 0, nullable(bias),
                workspace, out, ldout));
    }

    /** The sum of n floats (a streaming read: the benchmarks use it to measure read bandwidth). */
    public static float reduceSum(long n, MemorySegment x, MemorySegment sumOut) {
        matrix("x", x, 1, n, n, F32);
        matrix("sum", sumOut, 1, 1, 1, F32);
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
        matrix("a", a, m, k, lda, F32);
        if (transB) matrix("b", b, n, k, ldb, F32);
        else matrix("b", b, k, n, ldb, F32);
        optional("bias", bias, n, F32);
        matrix("c", c, m, n, ldc, F32);
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
        if (transB) matrix("b", b, n, k, ldb, F32);
        else matrix("b", b, k, n, ldb, F32);
        long size = gemmPackBSize(n, k);
        if (packed.byteSize() < size)
            throw new ShapeException("packed B has " + packed.byteSize() + " bytes, needs " + size);
        aligned("packed", packed);
        check("lffn_gemm_pack_b_f32", lffn_gemm_pack_b_f32(n, k, b, ldb, transB ? 1 : 0, packed));
    }

    public static void gemmPacked(long m, long n, long k, MemorySegment a, long lda, MemorySegment packedB,
                                  MemorySegment bias, Epilogue epilogue, MemorySegment c, long ldc) {
        matrix("a", a, m, k, lda, F32);
        long size = gemmPackBSize(n, k);
        if (packedB.byteSize() < size)
            throw new ShapeException("packed B has " + packedB.byteSize() + " bytes, needs " + size);
        optional("bias", bias, n, F32);
        matrix("c", c, m, n, ldc, F32);
        check("lffn_gemm_packed_f32",
                lffn_gemm_packed_f32(m, n, k, a, lda, packedB, nullable(bias), epilogue.ordinal(), c, ldc));
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

    /** A rows × cols matrix with leading dimension ld (elements of elemBytes) must fit in seg. */
    static void matrix(String name, MemorySegment seg, long rows, long cols, long ld, long elemBytes) {
        if (seg == null || seg.equals(MemorySegment.NULL)) throw new ShapeException(name + " is null");
        if (rows < 0 || cols < 0) throw new ShapeException(name + ": negative size " + rows + " × " + cols);
        if (ld < cols) throw new ShapeException(name + ": leading dimension " + ld + " < " + cols + " columns");
        if (!seg.isNative()) throw new ShapeException(name + " must be native memory, not a heap segment");
        // the generated wrappers turn any failure into AssertionError, so liveness is checked here
        if (!seg.scope().isAlive()) throw new IllegalStateException(name + ": its memory was already freed (arena closed)");
        if (seg.address() % elemBytes != 0)
            throw new ShapeException(name + " is not aligned to its " + elemBytes + "-byte elements");
        long need = rows == 0 || cols == 0 ? 0
                : Math.multiplyExact(Math.addExact(Math.multiplyExact(rows - 1, Math.max(ld, cols)), cols), elemBytes);
        if (seg.byteSize() < need)
            throw new ShapeException(name + " has " + seg.byteSize() + " bytes, needs " + need + " for " + rows
                    + " × " + cols + " (leading dimension " + ld + ")");
    }

    private static void optional(String name, MemorySegment seg, long n, long elemBytes) {
        if (seg != null && !seg.equals(MemorySegment.NULL)) matrix(name, seg, 1, n, n, elemBytes);
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
        matrix("x", x, rows, cols, ldx, F32);
        optional("maskAdd", maskAdd, cols, F32);
        matrix("y", y, rows, cols, ldy, F32);
        if (!Float.isFinite(scale)) throw new ShapeException("softmax scale must be finite, got " + scale);
        check("lffn_softmax_rows_f32", lffn_softmax_rows_f32(rows, cols, x, ldx, scale, nullable(maskAdd), y, ldy));
    }

    /** y = a + b element-wise over rows × cols; y may be a or b. */
    public static void add(long rows, long cols, MemorySegment a, long lda, MemorySegment b, long ldb,
                           MemorySegment y, long ldy) {
        positive("cols", cols);
        matrix("a", a, rows, cols, lda, F32);
        matrix("b", b, rows, cols, ldb, F32);
        matrix("y", y, rows, cols, ldy, F32);
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
        positive("heads", heads);
        positive("headSize", headSize);
        long width = Math.multiplyExact(heads, headSize);
        matrix("q", q, seqLen, width, ldq, F32);
        matrix("k", k, seqLen, width, ldk, F32);
        matrix("v", v, seqLen, width, ldv, F32);
        optional("maskAdd", maskAdd, seqLen, F32);
        long ws = attentionWorkspaceSize(seqLen);
        if (workspace.byteSize() < ws)
            throw new ShapeException("attention workspace has " + workspace.byteSize() + " bytes, needs " + ws);
        aligned("workspace", workspace);
        matrix("out", out, seqLen, width, ldout, F32);
        if (!Float.isFinite(scale)) throw new ShapeException("attention scale must be finite, got " + scale);
        check("lffn_attention_f32", lffn_attention_f32(seqLen, heads, headSize, q, ldq, k, ldk, v, ldv, scale,
                nullable(maskAdd), workspace, out, ldout));
    }
}
