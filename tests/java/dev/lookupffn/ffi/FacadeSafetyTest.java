package dev.lookupffn.ffi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.LookupFfnException.ShapeException;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The documented exceptions, never an AssertionError from the generated wrappers, an ArithmeticException or a
 * silently wrong result: heap, closed and other-thread segments in every role (workspace, packed tables, packed
 * B), sizes that overflow 64 bits, and outputs that overlap inputs.
 */
class FacadeSafetyTest {
    static final long P = 64, H = 8, TAU = 4, O = 16;

    @Test
    void heapAndClosedSegmentsAsWorkspaceOrPackedDataAreTypedErrors() {
        try (Arena arena = Arena.ofConfined()) {
            long ws = Kernels.lookupffnWorkspaceSize(4, P, P, H, TAU), packed = Kernels.tablesPackSize(H, TAU, O, DType.F32);
            MemorySegment x = arena.allocate(4 * P * 4, 64), w = arena.allocate(4 * P * 4 * P * 4, 64);
            MemorySegment ln = arena.allocate(P * 4, 64), tables = arena.allocate(packed, 64);
            MemorySegment bias = arena.allocate(O * 4, 64), out = arena.allocate(4 * O * 4, 64);
            MemorySegment heapWs = MemorySegment.ofArray(new byte[(int) ws + 64]);
            MemorySegment heapTables = MemorySegment.ofArray(new byte[(int) packed + 64]);
            MemorySegment closed;
            try (Arena gone = Arena.ofShared()) {
                closed = gone.allocate(Math.max(ws, packed) + 64, 64);
            }
            MemorySegment cl = closed;
            // workspace: heap → ShapeException, freed → IllegalStateException
            assertThrows(ShapeException.class, () -> Kernels.lookupffnForward(4, P, P, 16, 1, H, TAU, O, x, P, ln, ln, 1e-5f,
                    w, null, tables, DType.F32, bias, heapWs, out, O));
            assertThrows(IllegalStateException.class, () -> Kernels.lookupffnForward(4, P, P, 16, 1, H, TAU, O, x, P, ln, ln,
                    1e-5f, w, null, tables, DType.F32, bias, cl, out, O));
            // packed tables
            MemorySegment goodWs = arena.allocate(ws, 64);
            assertThrows(ShapeException.class, () -> Kernels.lookupffnForward(4, P, P, 16, 1, H, TAU, O, x, P, ln, ln, 1e-5f,
                    w, null, heapTables, DType.F32, bias, goodWs, out, O));
            assertThrows(ShapeException.class, () -> Kernels.tablesPack(H, TAU, O, arena.allocate(H * 16 * O * 4, 64), DType.F32,
                    heapTables));
            assertThrows(IllegalStateException.class, () -> Kernels.gatherAccumPacked(4, H, TAU, O, arena.allocate(4 * H * 4, 64),
                    H, arena.allocate(4 * H * 4, 64), H, cl, DType.F32, null, out, O));
            // packed B of the GEMM
            long pb = Kernels.gemmPackBSize(O, P);
            MemorySegment heapB = MemorySegment.ofArray(new byte[(int) pb + 64]);
            assertThrows(ShapeException.class, () -> Kernels.gemmPacked(4, O, P, x, P, heapB, null, Kernels.Epilogue.NONE, out, O));
            assertThrows(IllegalStateException.class, () -> Kernels.gemmPacked(4, O, P, x, P, cl, null, Kernels.Epilogue.NONE, out, O));
            assertThrows(ShapeException.class, () -> Kernels.gemmPackB(O, P, w, P, true, heapB));
            // BH4 and attention workspaces
            assertThrows(ShapeException.class, () -> Kernels.bh4Project(4, P, P, 16, 1, H * TAU, x, P, w, null, heapWs,
                    arena.allocate(4 * H * TAU * 4, 64), H * TAU));
            MemorySegment q = arena.allocate(4 * 3 * 16 * 4, 64);
            assertThrows(IllegalStateException.class, () -> Kernels.attention(4, 1, 16, q, 48, q.asSlice(64), 48,
                    q.asSlice(128), 48, 0.25f, null, cl, arena.allocate(4 * 16 * 4, 64), 16));
        }
    }

    @Test
    void memoryOfAnotherThreadsConfinedArenaIsAWrongThreadException() throws Exception {
        AtomicReference<MemorySegment> foreign = new AtomicReference<>();
        Object lock = new Object();
        Thread owner = Thread.ofPlatform().start(() -> {
            try (Arena confined = Arena.ofConfined()) {
                synchronized (lock) {
                    foreign.set(confined.allocate(1 << 16, 64));
                    lock.notifyAll();
                    while (foreign.get() != null) lock.wait();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        synchronized (lock) {
            while (foreign.get() == null) lock.wait();
        }
        MemorySegment f = foreign.get();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ok = arena.allocate(1 << 16, 64);
            assertThrows(WrongThreadException.class, () -> Kernels.layerNorm(2, 8, f, 8, ok, ok, 1e-5f, ok.asSlice(4096), 8));
            assertThrows(WrongThreadException.class, () -> Kernels.layerNorm(2, 8, ok, 8, ok, ok, 1e-5f, f, 8));
            long ws = Kernels.lookupffnWorkspaceSize(4, P, P, H, TAU);
            MemorySegment tables = arena.allocate(Kernels.tablesPackSize(H, TAU, O, DType.F32), 64);
            assertThrows(WrongThreadException.class, () -> Kernels.lookupffnForward(4, P, P, 16, 1, H, TAU, O, ok, P,
                    ok.asSlice(P * 4 * 4), ok.asSlice(P * 4 * 4), 1e-5f, ok.asSlice(8192), null, tables, DType.F32, null, f, ok.asSlice(40000), O));
            assertTrue(ws > 0);
        } finally {
            synchronized (lock) {
                foreign.set(null);
                lock.notifyAll();
            }
            owner.join();
        }
    }

    @Test
    void sizesThatOverflowAreShapeExceptions() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(1024, 64);
            long huge = Long.MAX_VALUE / 2;
            assertThrows(ShapeException.class, () -> Kernels.layerNorm(huge, 8, s, 8, s, s, 1e-5f, s, 8));
            assertThrows(ShapeException.class, () -> Kernels.layerNorm(3, 8, s, huge, s, s, 1e-5f, s, 8));
            assertThrows(ShapeException.class, () -> Kernels.gemm(huge, huge, huge, s, huge, s, huge, false, null,
                    Kernels.Epilogue.NONE, s, huge));
            assertThrows(ShapeException.class, () -> Kernels.hashCodeScore(2, huge, 16, s, 8, s, 8, s, 8));
            assertThrows(ShapeException.class, () -> Kernels.bh4Project(2, 8, 1L << 62, 64, huge, 8, s, 8, s, null, s, s, 8));
            assertThrows(ShapeException.class, () -> Kernels.lookupffnForward(2, 8, 1L << 62, 64, huge, 2, 4, 8, s, 8, s, s,
                    1e-5f, s, null, s, DType.F32, null, s, s, 8));
            assertThrows(ShapeException.class, () -> Kernels.attention(2, huge, huge, s, 8, s, 8, s, 8, 1f, null, s, s, 8));
            assertThrows(ShapeException.class, () -> Kernels.convertF32ToBf16(-1, s, s.asSlice(512)));
        }
        assertThrows(ShapeException.class, () -> Tensor.allocate(DType.F32, Long.MAX_VALUE / 2, 3));
        assertThrows(ShapeException.class, () -> Tensor.allocate(DType.F32, 1L << 40, 1L << 40));
        assertThrows(ShapeException.class, () -> Tensor.allocate(DType.F32, -1, 3));
        try (Tensor t = Tensor.allocate(DType.F32, 4, 3)) {
            assertThrows(ShapeException.class, () -> t.dim(2));
            assertThrows(ShapeException.class, () -> t.dim(-3));
            assertThrows(ShapeException.class, () -> t.slice(Long.MAX_VALUE, 2));
            assertThrows(ShapeException.class, () -> t.reshape(Long.MAX_VALUE, 4));
        }
    }

    @Test
    void anOutputOverlappingAnInputIsAShapeExceptionNamingBoth() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(64 * 8 * 4, 64), g = arena.allocate(8 * 4, 64);
            for (int i = 0; i < 8; i++) g.setAtIndex(ValueLayout.JAVA_FLOAT, i, 1f);
            MemorySegment shifted = buf.asSlice(8 * 4); // the same buffer one row further
            ShapeException e = assertThrows(ShapeException.class,
                    () -> Kernels.layerNorm(4, 8, buf, 8, g, g, 1e-5f, shifted, 8));
            assertTrue(e.getMessage().contains("y overlaps x"), e.getMessage());
            e = assertThrows(ShapeException.class, () -> Kernels.layerNorm(4, 8, buf, 8, g, buf.asSlice(4 * 4), 1e-5f, buf.asSlice(0), 8));
            assertTrue(e.getMessage().contains("y overlaps beta"), e.getMessage());
            MemorySegment a = arena.allocate(16 * 16 * 4, 64), b = arena.allocate(16 * 16 * 4, 64);
            e = assertThrows(ShapeException.class, () -> Kernels.gemm(8, 16, 16, a, 16, b, 16, false, null,
                    Kernels.Epilogue.NONE, a.asSlice(16 * 4), 16));
            assertTrue(e.getMessage().contains("c overlaps a"), e.getMessage());
            e = assertThrows(ShapeException.class, () -> Kernels.add(4, 8, a, 8, b, 8, b.asSlice(4), 8));
            assertTrue(e.getMessage().contains("y overlaps b"), e.getMessage());
            // exactly the same memory is allowed where the header says so: in-place LayerNorm and add
            Kernels.layerNorm(4, 8, buf, 8, g, arena.allocate(8 * 4, 64), 1e-5f, buf, 8);
            Kernels.add(4, 8, a, 8, b, 8, a, 8);
            // and side by side without sharing a byte is fine
            Kernels.layerNorm(4, 8, buf, 8, g, g, 1e-5f, buf.asSlice(4 * 8 * 4), 8);
        }
    }
}
