package dev.lookupffn.ffi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.LookupFfnException.ShapeException;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** The boundary: library loading, queries, zero-copy writes, and sizes rejected before any native call. */
class FacadeTest {
    @Test
    void loadsAndAnswersQueries() {
        assertTrue(NativeLibrary.load().toString().endsWith("liblookupffn.so"));
        assertTrue(Kernels.version().matches("\\d+\\.\\d+\\.\\d+"), Kernels.version());
        assertTrue(Kernels.effectiveIsa().compareTo(Kernels.cpuIsa()) <= 0);
        Kernels.noop();
    }

    @Test
    void isaCapIsHonouredAndRestored() {
        try {
            Kernels.setMaxIsa(Isa.SCALAR);
            assertEquals(Isa.SCALAR, Kernels.effectiveIsa());
        } finally {
            Kernels.setMaxIsa(Kernels.cpuIsa());
        }
        assertEquals(Kernels.cpuIsa(), Kernels.effectiveIsa());
    }

    @Test
    void kernelWritesIntoTheCallersSegmentInPlace() {
        // zero copy: the output is the caller's native memory, written by C through the pointer we pass
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment x = arena.allocate(4 * 8, 64), g = arena.allocate(4 * 8, 64), b = arena.allocate(4 * 8, 64);
            MemorySegment y = arena.allocate(4 * 8 + 4, 64);
            for (int i = 0; i < 8; i++) {
                x.setAtIndex(ValueLayout.JAVA_FLOAT, i, i);
                g.setAtIndex(ValueLayout.JAVA_FLOAT, i, 1);
            }
            y.setAtIndex(ValueLayout.JAVA_FLOAT, 8, 42f); // a sentinel past the output
            long before = y.address();
            Kernels.layerNorm(1, 8, x, 8, g, b, 0f, y, 8);
            assertEquals(before, y.address());
            assertTrue(y.getAtIndex(ValueLayout.JAVA_FLOAT, 0) < -1.5f);
            assertTrue(y.getAtIndex(ValueLayout.JAVA_FLOAT, 7) > 1.5f);
            assertEquals(42f, y.getAtIndex(ValueLayout.JAVA_FLOAT, 8), "wrote past the declared shape");
            // the same memory, seen through a Tensor view: no copy either
            Tensor view = Tensor.wrap(y.asSlice(0, 32), DType.F32, 8);
            assertEquals(y.getAtIndex(ValueLayout.JAVA_FLOAT, 3), view.getFloat(3));
            assertFalse(view.ownsMemory());
        }
    }

    @Test
    void wrongSizesAreRejectedBeforeTheNativeCall() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment small = arena.allocate(4 * 7, 64), ok = arena.allocate(4 * 8, 64);
            // y one float short: the kernel would write out of bounds
            assertThrows(ShapeException.class, () -> Kernels.layerNorm(1, 8, ok, 8, ok, ok, 1e-5f, small, 8));
            // leading dimension smaller than the row
            assertThrows(ShapeException.class, () -> Kernels.layerNorm(2, 4, ok, 3, ok, ok, 1e-5f, ok, 4));
            // two rows with ld 8 need 12 floats
            assertThrows(ShapeException.class, () -> Kernels.layerNorm(2, 4, ok, 8, ok, ok, 1e-5f, ok, 4));
            // heap memory never crosses the boundary
            MemorySegment heap = MemorySegment.ofArray(new float[8]);
            assertThrows(ShapeException.class, () -> Kernels.layerNorm(1, 8, heap, 8, ok, ok, 1e-5f, ok, 8));
            assertThrows(ShapeException.class, () -> Kernels.layerNorm(1, 0, ok, 8, ok, ok, 1e-5f, ok, 8));
            assertThrows(ShapeException.class, () -> Kernels.layerNorm(1, 8, ok, 8, ok, ok, Float.NaN, ok, 8));
        }
    }

    @Test
    void theCapSelectsEveryLevelUpToTheCpuAndNoneAbove() {
        try {
            for (Isa isa : Isa.values()) {
                if (isa.compareTo(Kernels.cpuIsa()) > 0) {
                    assertThrows(ShapeException.class, () -> Kernels.setMaxIsa(isa));
                } else {
                    Kernels.setMaxIsa(isa);
                    assertEquals(isa, Kernels.effectiveIsa(), "the kernel table follows the cap");
                }
            }
        } finally {
            Kernels.setMaxIsa(Kernels.cpuIsa());
        }
    }

    @Test
    void aNativeRejectionNamesTheFunctionAndTheFailedCheck() {
        // past the facade's own checks (called through the bindings): the library says which check failed
        int status = dev.lookupffn.ffi.gen.lookupffn_h.lffn_gemm_f32(2, 3, 4, MemorySegment.NULL, 3, MemorySegment.NULL, 3,
                0, MemorySegment.NULL, 0, MemorySegment.NULL, 3);
        var e = assertThrows(dev.lookupffn.LookupFfnException.NativeException.class, () -> Kernels.check("lffn_gemm_f32", status));
        assertTrue(e.getMessage().contains("lffn_gemm_f32: check failed: m >= 0 && n > 0 && k > 0 && lda >= k && ldc >= n"),
                e.getMessage());
        int isaStatus = dev.lookupffn.ffi.gen.lookupffn_h.lffn_set_max_isa(7);
        var e2 = assertThrows(dev.lookupffn.LookupFfnException.NativeException.class, () -> Kernels.check("lffn_set_max_isa", isaStatus));
        assertTrue(e2.getMessage().contains("lffn_set_max_isa: check failed"), e2.getMessage());
    }

    @Test
    void usingATensorAfterCloseThrowsInsteadOfCrashing() {
        Tensor x = Tensor.allocate(DType.F32, 2, 8);
        Tensor g = Tensor.allocate(DType.F32, 8);
        MemorySegment seg = x.segment();
        x.close();
        assertThrows(IllegalStateException.class, () -> x.getFloat(0));
        assertThrows(IllegalStateException.class,
                () -> Kernels.layerNorm(2, 8, seg, 8, g.segment(), g.segment(), 1e-5f, seg, 8));
        g.close();
    }
}
