package dev.lookupffn.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.lookupffn.LookupFfnException;
import dev.lookupffn.ffi.Kernels;
import dev.lookupffn.layer.LookupFfn;
import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

/**
 * The public Kernels, Tensor and LookupFfn API with fuzzed sizes (small, zero, negative, huge), leading
 * dimensions, flags and memory (native, heap, freed, another thread's confined arena, misaligned, too short,
 * overlapping, null): every call either works or throws a documented exception — a LookupFfnException,
 * IllegalStateException (freed memory, closed objects) or WrongThreadException (another thread's confined
 * memory). An AssertionError from the bindings, an ArithmeticException, an index exception or a crash is a
 * finding. Seeds: tests/resources/dev/lookupffn/fuzz/KernelsFuzzTestInputs/.
 */
class KernelsFuzzTest {
    /** The packed table types the fuzzed packed-table cases pick from. */
    private static final DType[] TABLE_TYPES = {DType.F32, DType.BF16, DType.I8};
    private static final long MAX_BYTES = 1 << 20; // the harness never allocates more per segment
    private static final MemorySegment FREED;
    private static final WorkerPool POOL = WorkerPool.create(2);
    private static MemorySegment foreign; // made on first use: a thread started by a static initializer would deadlock

    static {
        try (Arena gone = Arena.ofShared()) {
            FREED = gone.allocate(MAX_BYTES, 64);
        }
    }

    /** Memory of a confined arena whose owner thread lives (parked) for the whole run. */
    private static synchronized MemorySegment foreign() {
        if (foreign == null) {
            MemorySegment[] holder = new MemorySegment[1];
            CountDownLatch ready = new CountDownLatch(1);
            Thread.ofPlatform().daemon().name("fuzz-confined-owner").start(() -> {
                Arena confined = Arena.ofConfined();
                holder[0] = confined.allocate(MAX_BYTES, 64);
                ready.countDown();
                while (true) java.util.concurrent.locks.LockSupport.park();
            });
            try {
                ready.await();
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
            foreign = holder[0];
        }
        return foreign;
    }

    @FuzzTest(maxDuration = "60s")
    void publicApiThrowsOnlyDocumentedExceptions(FuzzedDataProvider data) {
        try (Arena arena = Arena.ofConfined()) {
            try {
                call(data, arena, new Segments(data, arena));
            } catch (LookupFfnException | IllegalStateException | WrongThreadException documented) {
                // the documented answers to bad sizes, freed memory and another thread's memory
            }
        }
    }

    /** Memory for one argument: mostly right-sized native memory, sometimes every kind of wrong. */
    private record Segments(FuzzedDataProvider data, Arena arena) {
        MemorySegment of(long wantBytes) {
            long bytes = Math.max(0, Math.min(MAX_BYTES, wantBytes + data.consumeInt(-8, 8)));
            return switch (data.consumeInt(0, 15)) {
                case 0 -> MemorySegment.ofArray(new byte[(int) bytes]);
                case 1 -> FREED.asSlice(0, bytes);
                case 2 -> foreign().asSlice(0, bytes);
                case 3 -> arena.allocate(bytes + 8, 64).asSlice(data.consumeInt(1, 7), bytes);
                case 4 -> null;
                case 5 -> MemorySegment.NULL;
                case 6 -> arena.allocate(Math.max(1, bytes / 2), 64);
                default -> arena.allocate(Math.max(1, bytes), 64);
            };
        }

        /** A second argument that may overlap the first. */
        MemorySegment near(MemorySegment first, long wantBytes) {
            if (first != null && first.isNative() && first.scope().isAlive() && data.consumeBoolean()) {
                long off = Math.min(first.byteSize(), data.consumeLong(0, 256) * 4);
                return first.asSlice(off);
            }
            return of(wantBytes);
        }

        /** A dimension: usually small, sometimes 0, negative or huge. */
        long dim() {
            return switch (data.consumeInt(0, 19)) {
                case 0 -> -data.consumeLong(1, Long.MAX_VALUE);
                case 1 -> data.consumeLong(1L << 31, Long.MAX_VALUE);
                case 2 -> 0;
                default -> data.consumeLong(1, 48);
            };
        }

        long bytes(long rows, long cols, long elem) {
            if (rows <= 0 || cols <= 0 || rows > 4096 || cols > 4096) return 64;
            return rows * cols * elem;
        }
    }

    private static void call(FuzzedDataProvider data, Arena arena, Segments s) {
        long m = s.dim(), n = s.dim(), k = s.dim();
        long ld1 = data.consumeBoolean() ? n : s.dim(), ld2 = data.consumeBoolean() ? k : s.dim();
        switch (data.consumeInt(0, 12)) {
            case 0 -> {
                MemorySegment x = s.of(s.bytes(m, n, 4));
                Kernels.layerNorm(m, n, x, ld1, s.of(s.bytes(1, n, 4)), s.of(s.bytes(1, n, 4)),
                        data.consumeFloat(), s.near(x, s.bytes(m, n, 4)), ld1);
            }
            case 1 -> {
                MemorySegment a = s.of(s.bytes(m, k, 4));
                Kernels.gemm(m, n, k, a, ld2, s.of(s.bytes(k, n, 4)), data.consumeBoolean() ? k : n, data.consumeBoolean(),
                        data.consumeBoolean() ? null : s.of(s.bytes(1, n, 4)), Kernels.Epilogue.values()[data.consumeInt(0, 1)],
                        s.near(a, s.bytes(m, n, 4)), ld1);
            }
            case 2 -> {
                MemorySegment packed = s.of(n > 0 && k > 0 && n < 4096 && k < 4096 ? Kernels.gemmPackBSize(n, k) : 64);
                Kernels.gemmPackB(n, k, s.of(s.bytes(n, k, 4)), ld2, true, packed);
                Kernels.gemmPacked(m, n, k, s.of(s.bytes(m, k, 4)), ld2, packed, null, Kernels.Epilogue.NONE,
                        s.near(packed, s.bytes(m, n, 4)), ld1);
            }
            case 3 -> {
                long tau = data.consumeLong(-2, 20);
                MemorySegment z = s.of(s.bytes(m, n * Math.max(1, Math.min(tau, 16)), 4));
                Kernels.hashCodeScore(m, n, tau, z, data.consumeBoolean() ? n * tau : s.dim(), s.near(z, s.bytes(m, n, 4)), n,
                        s.of(s.bytes(m, n, 4)), n);
            }
            case 4 -> {
                long tau = data.consumeLong(-2, 10);
                MemorySegment code = s.of(s.bytes(m, n, 4));
                if (code != null && code.isNative() && code.scope().isAlive() && code.isAccessibleBy(Thread.currentThread()))
                    for (long i = 0; i + 4 <= code.byteSize(); i += 4) code.set(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, i, data.consumeInt());
                // fuzzed codes (any int, in or out of [0, 2^tau)) into packed tables
                DType td = TABLE_TYPES[data.consumeInt(0, 2)];
                long size = n > 0 && n < 64 && k > 0 && k < 256 && tau >= 1 && tau <= 10 ? Kernels.tablesPackSize(n, tau, k, td) : 64;
                Kernels.gatherAccumPacked(m, n, tau, k, code, n, s.of(s.bytes(m, n, 4)), n, s.of(size), td, null,
                        s.near(code, s.bytes(m, k, 4)), k);
            }
            case 5 -> {
                long tau = data.consumeLong(-2, 10);
                DType td = TABLE_TYPES[data.consumeInt(0, 2)];
                long size = n > 0 && n < 64 && k > 0 && k < 256 && tau >= 1 && tau <= 10 ? Kernels.tablesPackSize(n, tau, k, td) : 64;
                MemorySegment packed = s.of(size);
                Kernels.tablesPack(n, tau, k, s.of(tau >= 1 && tau <= 10 ? s.bytes(n << tau, k, 4) : 64), td, packed);
                Kernels.gatherAccumPacked(m, n, tau, k, s.of(s.bytes(m, n, 4)), n, s.of(s.bytes(m, n, 4)), n, packed, td,
                        null, s.of(s.bytes(m, k, 4)), k);
            }
            case 6 -> {
                long p = Long.highestOneBit(Math.max(1, Math.min(n, 64))) << data.consumeInt(0, 1), block = data.consumeLong(-1, 64);
                long repeats = data.consumeLong(-1, 4), out = data.consumeLong(-1, 128);
                long ws = m > 0 && m < 4096 && p < 4096 ? Kernels.bh4WorkspaceSize(m, p) : 64;
                MemorySegment u = s.of(s.bytes(m, n, 4));
                Kernels.bh4Project(m, n, p, block, repeats, out, u, ld1, s.of(s.bytes(repeats * 4 * p, block, 4)), null,
                        s.of(ws), s.near(u, s.bytes(m, out, 4)), out);
            }
            case 7 -> {
                long p = Long.highestOneBit(Math.max(1, Math.min(n, 64))) << data.consumeInt(0, 1), block = data.consumeLong(-1, 64);
                long tables = data.consumeLong(-1, 8), tau = data.consumeLong(-1, 8), repeats = data.consumeLong(-1, 4);
                DType td = TABLE_TYPES[data.consumeInt(0, 2)];
                long packedSize = tables > 0 && tau >= 1 && tau <= 8 && k > 0 && k < 256 ? Kernels.tablesPackSize(tables, tau, k, td) : 64;
                long ws = m > 0 && m < 4096 && n > 0 && n <= 64 && tables > 0 && tau >= 1 && tau <= 8
                        ? Kernels.lookupffnWorkspaceSize(m, n, p, tables, tau) : 64;
                MemorySegment x = s.of(s.bytes(m, n, 4));
                Kernels.lookupffnForward(m, n, p, block, repeats, tables, tau, k, x, ld1, s.of(s.bytes(1, n, 4)),
                        s.of(s.bytes(1, n, 4)), data.consumeFloat(), s.of(s.bytes(repeats * 4 * p, block, 4)), null,
                        s.of(packedSize), td, null, s.of(ws), s.near(x, s.bytes(m, k, 4)), k);
            }
            case 8 -> {
                MemorySegment a = s.of(s.bytes(m, n, 4));
                if (data.consumeBoolean()) Kernels.softmaxRows(m, n, a, ld1, data.consumeFloat(), null, s.near(a, s.bytes(m, n, 4)), ld1);
                else Kernels.add(m, n, a, ld1, s.of(s.bytes(m, n, 4)), n, s.near(a, s.bytes(m, n, 4)), ld1);
            }
            case 9 -> {
                long heads = data.consumeLong(-1, 4), hs = data.consumeLong(-1, 16), w = Math.max(1, heads * hs);
                long ws = m > 0 && m < 4096 ? Kernels.attentionWorkspaceSize(m) : 64;
                MemorySegment q = s.of(s.bytes(m, 3 * w, 4));
                MemorySegment kk = q != null && q.isNative() && q.byteSize() > w * 4 ? q.asSlice(w * 4) : s.of(s.bytes(m, w, 4));
                Kernels.attention(m, heads, hs, q, 3 * w, kk, 3 * w, s.of(s.bytes(m, w, 4)), w, data.consumeFloat(), null,
                        s.of(ws), s.near(q, s.bytes(m, w, 4)), w);
            }
            case 10 -> {
                long[] shape = {s.dim(), s.dim(), data.consumeBoolean() ? s.dim() : 1};
                DType dtype = DType.values()[data.consumeInt(0, DType.values().length - 1)];
                // never ask for more than the harness may allocate, unless the request is invalid anyway
                java.math.BigInteger bytes = java.math.BigInteger.valueOf(dtype.byteSize());
                boolean negative = false;
                for (long d : shape) {
                    bytes = bytes.multiply(java.math.BigInteger.valueOf(d));
                    negative |= d < 0;
                }
                if (negative || bytes.bitLength() > 63 || bytes.longValue() <= MAX_BYTES) { // invalid, or small
                    try (Tensor t = Tensor.allocate(dtype, shape)) {
                        t.dim(data.consumeInt(-5, 5));
                        t.slice(s.dim(), s.dim()).reshape(s.dim(), s.dim());
                    }
                }
            }
            default -> layer(data, s);
        }
    }

    /** The first {@code bytes} of seg when it has them (so that Tensor.wrap accepts it), else seg. */
    private static MemorySegment exact(MemorySegment seg, long bytes) {
        return seg != null && seg.byteSize() >= bytes ? seg.asSlice(0, bytes) : seg;
    }

    /** A small LookupFFN layer with fuzzed shapes, then forward on fuzzed tensors. */
    private static void layer(FuzzedDataProvider data, Segments s) {
        int d = data.consumeInt(1, 40), o = data.consumeInt(1, 24), h = data.consumeInt(1, 4), tau = data.consumeInt(1, 5);
        int p = Integer.highestOneBit(d) == d ? d : Integer.highestOneBit(d) << 1;
        int block = 1 << data.consumeInt(0, 4), bits = h * tau, r = Math.max(1, (bits + p - 1) / p);
        Map<String, Tensor> t = new HashMap<>();
        try {
            t.put("LayerNorm.weight", Tensor.allocate(DType.F32, data.consumeBoolean() ? d : d + 1));
            t.put("LayerNorm.bias", Tensor.allocate(DType.F32, d));
            t.put("hash.projection.weight", data.consumeBoolean() ? Tensor.allocate(DType.F32, bits, d)
                    : Tensor.allocate(DType.F32, r, 4, Math.max(1, p / block), block, block));
            t.put("hash.projection.bias", Tensor.allocate(DType.F32, bits));
            t.put("tables", Tensor.allocate(DType.F32, h, 1L << tau, o));
            t.put("bias", Tensor.allocate(DType.F32, o));
            try (LookupFfn layer = LookupFfn.fromTensors(t::get, "fuzz",
                    LookupFfn.Options.DEFAULT.withTableDType(data.consumeBoolean() ? DType.BF16 : DType.F32))) {
                long rows = data.consumeLong(0, 80);
                MemorySegment xs = exact(s.of(rows * d * 4), rows * d * 4), os = exact(s.near(xs, rows * o * 4), rows * o * 4);
                if (xs == null || os == null) return;
                Tensor x = Tensor.wrap(xs, DType.F32, rows, data.consumeBoolean() ? d : s.dim());
                Tensor out = Tensor.wrap(os, DType.F32, rows, o);
                if (data.consumeBoolean()) layer.forward(x, out, POOL);
                else layer.forward(x).close();
            }
        } finally {
            t.values().forEach(Tensor::close);
        }
    }
}
