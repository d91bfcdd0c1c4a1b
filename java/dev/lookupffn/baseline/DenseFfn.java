package dev.lookupffn.baseline;

import dev.lookupffn.ffi.OneDnn;
import dev.lookupffn.LookupFfnException.ShapeException;
import dev.lookupffn.ffi.Kernels;
import dev.lookupffn.runtime.CallGate;
import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.runtime.WorkspacePool;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.runtime.Sizes;
import dev.lookupffn.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The dense feed-forward block LookupFFN replaces: {@code LayerNorm → x·W1ᵀ + b1 → GELU(erf) → ·W2ᵀ + b2}
 * (nn.Linear layouts: W1 [f, d], W2 [o, f]). Two backends on the same memory and thread count: our packed GEMM
 * (rows split over the {@link WorkerPool}, GELU fused into the first GEMM) and oneDNN's matmul primitive (GELU
 * as a post-op, weights reordered once, its OpenMP pool pinned to the same thread count), in f32 or bf16.
 *
 * <p>The oneDNN primitives are created for a fixed batch size ({@code rows}); the own backend takes any batch.
 * Thread safety: the own backend may be shared by any number of threads (each running range of rows borrows a
 * workspace sized for its rows from a small pool, so memory does not grow with the number of calling threads);
 * a oneDNN instance runs one call at a time (concurrent callers wait their turn: its intermediates are shared).
 * {@link #close()} waits for running calls before freeing anything (a oneDNN primitive destroyed under a
 * running call would crash the JVM); later calls throw {@link IllegalStateException}.
 */
public final class DenseFfn implements AutoCloseable {
    public enum Backend {
        OWN,
        ONEDNN,
        ONEDNN_BF16
    }

    /** The parameters; any float dtype, copied at creation. */
    public record Weights(Tensor lnWeight, Tensor lnBias, Tensor w1, Tensor b1, Tensor w2, Tensor b2) {}

    /** Rows per tile of the own backend: large enough for GEMM efficiency, small enough for L2/L3. */
    static final int TILE_ROWS = 512;

    private final Backend backend;
    private final long d, f, o, rows;
    private final int threads; // oneDNN backends: the OpenMP thread count the primitives were created for
    private final float eps;
    private final Arena arena;
    private final MemorySegment lnWeight, lnBias, b1, b2;
    private final MemorySegment packedW1, packedW2;      // own backend
    private final OneDnn.Matmul first, second;           // oneDNN backends
    private final MemorySegment lnAll, hiddenAll;        // oneDNN intermediates [rows, d], [rows, f]
    private final CallGate gate = new CallGate("dense FFN");
    private final WorkspacePool<MemorySegment[]> workspaces; // own backend: {ln [T, d], hidden [T, f]}
    private final ReentrantLock oneDnnTurn = new ReentrantLock(); // oneDNN backends: one call at a time
    private final WorkerPool.SegmentRangeBody ownBody = (worker, start, end, x, out) -> ownRows(x, out, start, end);

    private DenseFfn(Backend backend, Weights w, float eps, long rows, int threads) {
        this.backend = backend;
        this.eps = eps;
        this.rows = rows;
        d = w.lnWeight().dim(0);
        f = w.w1().dim(0);
        o = w.w2().dim(0);
        check(w);
        workspaces = new WorkspacePool<>(TILE_ROWS, WorkspacePool.defaultMaxIdle(), (a, r) -> new MemorySegment[] {
                a.allocate(r * d * 4, Tensor.ALIGNMENT), a.allocate(r * f * 4, Tensor.ALIGNMENT)});
        arena = Arena.ofShared();
        try {
            lnWeight = copy(w.lnWeight());
            lnBias = copy(w.lnBias());
            b1 = copy(w.b1());
            b2 = copy(w.b2());
            MemorySegment w1 = copy(w.w1()), w2 = copy(w.w2());
            if (backend == Backend.OWN) {
                packedW1 = arena.allocate(Kernels.gemmPackBSize(f, d), Tensor.ALIGNMENT);
                Kernels.gemmPackB(f, d, w1, d, true, packedW1);
                packedW2 = arena.allocate(Kernels.gemmPackBSize(o, f), Tensor.ALIGNMENT);
                Kernels.gemmPackB(o, f, w2, f, true, packedW2);
                first = second = null;
                lnAll = hiddenAll = null;
                this.threads = 0;
            } else {
                if (rows < 1) throw new ShapeException("oneDNN primitives need a fixed batch size >= 1, got " + rows);
                OneDnn dnn = OneDnn.get();
                // oneDNN fixes a primitive's parallel decomposition when it is created: set the threads first
                dnn.setNumThreads(threads);
                this.threads = threads;
                boolean bf16 = backend == Backend.ONEDNN_BF16;
                first = dnn.matmul(rows, f, d, w1, b1, true, bf16);
                second = dnn.matmul(rows, o, f, w2, b2, false, bf16);
                lnAll = arena.allocate(Sizes.multiply("oneDNN LayerNorm buffer", rows, d, 4), Tensor.ALIGNMENT);
                hiddenAll = arena.allocate(Sizes.multiply("oneDNN hidden buffer", rows, f, 4), Tensor.ALIGNMENT);
                packedW1 = packedW2 = null;
            }
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    /** A dense FFN on our GEMM (any batch size). */
    public static DenseFfn own(Weights w, float eps) {
        return new DenseFfn(Backend.OWN, w, eps, 0, 1);
    }

    /** A dense FFN on oneDNN for batches of exactly {@code rows} rows, run with {@code threads} OpenMP threads. */
    public static DenseFfn oneDnn(Weights w, float eps, long rows, boolean bf16, int threads) {
        if (threads < 1) throw new ShapeException("thread count must be at least 1, got " + threads);
        return new DenseFfn(bf16 ? Backend.ONEDNN_BF16 : Backend.ONEDNN, w, eps, rows, threads);
    }

    private void check(Weights w) {
        if (w.lnWeight().rank() != 1 || d < 1) throw new ShapeException("LayerNorm.weight should be [d], got " + shape(w.lnWeight()));
        if (w.lnBias().rank() != 1 || w.lnBias().dim(0) != d) throw new ShapeException("LayerNorm.bias should be [" + d + "], got " + shape(w.lnBias()));
        if (w.w1().rank() != 2 || w.w1().dim(1) != d) throw new ShapeException("W1 should be [f, " + d + "], got " + shape(w.w1()));
        if (w.b1().rank() != 1 || w.b1().dim(0) != f) throw new ShapeException("b1 should be [" + f + "], got " + shape(w.b1()));
        if (w.w2().rank() != 2 || w.w2().dim(1) != f) throw new ShapeException("W2 should be [o, " + f + "], got " + shape(w.w2()));
        if (w.b2().rank() != 1 || w.b2().dim(0) != o) throw new ShapeException("b2 should be [" + o + "], got " + shape(w.b2()));
        if (!(eps >= 0)) throw new ShapeException("LayerNorm eps must be >= 0, got " + eps);
    }

    private static String shape(Tensor t) {
        return Arrays.toString(t.shape());
    }

    private MemorySegment copy(Tensor t) {
        MemorySegment out = arena.allocate(Sizes.multiply("weights", t.elementCount(), 4), Tensor.ALIGNMENT);
        if (t.dtype() == DType.F32) MemorySegment.copy(t.segment(), 0, out, 0, t.byteSize());
        else for (long i = 0; i < t.elementCount(); i++) out.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i, t.getFloat(i));
        return out;
    }

    public Backend backend() {
        return backend;
    }

    /** FLOPs of one row: the two GEMMs (2·d·f + 2·f·o); LayerNorm, bias and GELU are not counted. */
    public double flopsPerRow() {
        return 2.0 * d * f + 2.0 * f * o;
    }

    /**
     * out [B, o] = FFN(x [B, d]); the own backend splits rows over the pool (all on the calling thread when x or
     * out is memory of a confined arena), oneDNN uses pool.threads() threads. out must not overlap x.
     */
    public void forward(Tensor x, Tensor out, WorkerPool pool) {
        gate.enter();
        try {
            if (backend == Backend.OWN) {
                checkIo(x, out);
                pool.forRanges(x.dim(0), 16, ownBody, x.segment(), out.segment());
                return;
            }
            oneDnnTurn.lock();
            try {
                checkIo(x, out);
                oneDnnForward(x, out, pool);
            } finally {
                oneDnnTurn.unlock();
            }
        } finally {
            gate.exit();
        }
    }

    private void checkIo(Tensor x, Tensor out) {
        Kernels.requireUsable("input tensor", x.segment());
        Kernels.requireUsable("output tensor", out.segment());
        x.requireDType(DType.F32);
        out.requireDType(DType.F32);
        if (x.rank() != 2 || x.dim(1) != d) throw new ShapeException("input should be [B, " + d + "], got " + shape(x));
        long b = x.dim(0);
        if (out.rank() != 2 || out.dim(0) != b || out.dim(1) != o)
            throw new ShapeException("output should be [" + b + ", " + o + "], got " + shape(out));
        Kernels.disjoint("output tensor", out.segment(), out.byteSize(), "input tensor", x.segment(), x.byteSize());
    }

    private void oneDnnForward(Tensor x, Tensor out, WorkerPool pool) {
        long b = x.dim(0);
        MemorySegment xs = x.segment(), os = out.segment();
        if (b != rows) throw new ShapeException("this oneDNN dense FFN was built for " + rows + " rows, got " + b);
        if (pool.threads() != threads)
            throw new ShapeException("this oneDNN dense FFN was built for " + threads + " threads, the pool has " + pool.threads());
        pool.forRanges(b, 16, (worker, start, end, in, ln) -> Kernels.layerNorm(end - start, d,
                in.asSlice(start * d * 4, (end - start) * d * 4), d, lnWeight, lnBias, eps,
                ln.asSlice(start * d * 4, (end - start) * d * 4), d), xs, lnAll);
        OneDnn.get().setNumThreads(threads);
        first.execute(lnAll, hiddenAll);
        second.execute(hiddenAll, os);
    }

    private void ownRows(MemorySegment x, MemorySegment out, long start, long end) {
        WorkspacePool.Lease<MemorySegment[]> lease = workspaces.take(end - start);
        try {
            MemorySegment ln = lease.scratch()[0], hidden = lease.scratch()[1];
            for (long r = start; r < end; r += TILE_ROWS) {
                long n = Math.min(TILE_ROWS, end - r);
                Kernels.layerNorm(n, d, x.asSlice(r * d * 4, n * d * 4), d, lnWeight, lnBias, eps, ln, d);
                Kernels.gemmPacked(n, f, d, ln, d, packedW1, b1, Kernels.Epilogue.GELU, hidden, f);
                Kernels.gemmPacked(n, o, f, hidden, f, packedW2, b2, Kernels.Epilogue.NONE, out.asSlice(r * o * 4, n * o * 4), o);
            }
        } finally {
            workspaces.release(lease);
        }
    }

    /** Waits for running calls, then frees the weights, workspaces and oneDNN primitives. */
    @Override
    public void close() {
        if (!gate.close()) return;
        if (first != null) first.close();
        if (second != null) second.close();
        if (workspaces != null) workspaces.close();
        if (arena != null && arena.scope().isAlive()) arena.close();
    }
}
