package dev.lookupffn.ffi;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.lookupffn.LookupFfnException;
import dev.lookupffn.LookupFfnException.NativeException;
import dev.lookupffn.ffi.NativeLibrary;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;

/**
 * The oneDNN baseline (liblookupffn_onednn.so, a thin C wrapper over oneDNN built when CMake finds oneDNN; see
 * native/onednn/lffn_onednn.h). Bound here by hand: it is a benchmark companion, not part of the public ABI.
 * Sizes are validated by the callers ({@link dev.lookupffn.baseline.DenseFfn}) before any call.
 */
public final class OneDnn {
    private static final Linker LINKER = Linker.nativeLinker();
    private static volatile OneDnn instance;
    private static volatile String unavailableReason;

    private final MethodHandle version, setNumThreads, sgemm, matmulCreate, matmulExecute, matmulDestroy;

    private OneDnn(SymbolLookup lib) {
        version = handle(lib, "lffn_onednn_version", FunctionDescriptor.of(ADDRESS));
        setNumThreads = handle(lib, "lffn_onednn_set_num_threads", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        sgemm = handle(lib, "lffn_onednn_sgemm", FunctionDescriptor.of(JAVA_INT, JAVA_BYTE, JAVA_BYTE, JAVA_LONG,
                JAVA_LONG, JAVA_LONG, JAVA_FLOAT, ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_FLOAT, ADDRESS, JAVA_LONG));
        matmulCreate = handle(lib, "lffn_onednn_matmul_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG,
                JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT));
        matmulExecute = handle(lib, "lffn_onednn_matmul_execute", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
        matmulDestroy = handle(lib, "lffn_onednn_matmul_destroy", FunctionDescriptor.ofVoid(ADDRESS));
    }

    private static MethodHandle handle(SymbolLookup lib, String name, FunctionDescriptor desc) {
        return LINKER.downcallHandle(lib.findOrThrow(name), desc);
    }

    /** True if the oneDNN baseline library is packaged and loads (libdnnl present). */
    public static boolean available() {
        try {
            get();
            return true;
        } catch (LookupFfnException e) {
            return false;
        }
    }

    /** The loaded baseline, or an exception saying why it is unavailable. */
    public static OneDnn get() {
        OneDnn o = instance;
        if (o != null) return o;
        synchronized (OneDnn.class) {
            if (instance == null && unavailableReason == null) {
                NativeLibrary.load();
                Path p = NativeLibrary.locateOptional("liblookupffn_onednn.so");
                if (p == null) unavailableReason = "liblookupffn_onednn.so was not built (oneDNN not found by CMake: "
                        + "apt-get install libdnnl-dev ocl-icd-opencl-dev, then rebuild)";
                else {
                    try {
                        instance = new OneDnn(SymbolLookup.libraryLookup(p, Arena.global()));
                    } catch (IllegalArgumentException | UnsatisfiedLinkError e) {
                        unavailableReason = "cannot load " + p + ": " + e.getMessage();
                    }
                }
            }
            if (instance == null) throw new LookupFfnException("oneDNN baseline unavailable: " + unavailableReason);
            return instance;
        }
    }

    public String version() {
        try {
            return ((MemorySegment) version.invokeExact()).reinterpret(64).getString(0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** oneDNN's OpenMP thread count for work submitted from the calling thread. */
    public void setNumThreads(int n) {
        try {
            check("lffn_onednn_set_num_threads", (int) setNumThreads.invokeExact(n));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** dnnl_sgemm, row-major. Callers validate sizes. */
    public void sgemm(boolean transA, boolean transB, long m, long n, long k, float alpha, MemorySegment a, long lda,
                      MemorySegment b, long ldb, float beta, MemorySegment c, long ldc) {
        try {
            check("dnnl_sgemm", (int) sgemm.invokeExact((byte) (transA ? 'T' : 'N'), (byte) (transB ? 'T' : 'N'), m, n, k,
                    alpha, a, lda, b, ldb, beta, c, ldc));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** A oneDNN matmul primitive with its weights reordered once; destroy with {@link Matmul#close()}. */
    public final class Matmul implements AutoCloseable {
        private MemorySegment handle;
        public final long m, n, k;

        Matmul(long m, long n, long k, MemorySegment weightNk, MemorySegment bias, boolean gelu, boolean bf16) {
            this.m = m;
            this.n = n;
            this.k = k;
            try (Arena tmp = Arena.ofConfined()) {
                MemorySegment out = tmp.allocate(ADDRESS);
                MemorySegment biasOrNull = bias == null ? MemorySegment.NULL : bias; // invokeExact needs the static type
                int status = (int) matmulCreate.invokeExact(out, m, n, k, weightNk, biasOrNull, gelu ? 1 : 0, bf16 ? 1 : 0);
                check("lffn_onednn_matmul_create", status);
                handle = out.get(ADDRESS, 0);
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        public void execute(MemorySegment src, MemorySegment dst) {
            if (handle == null) throw new IllegalStateException("oneDNN matmul is closed");
            try {
                check("lffn_onednn_matmul_execute", (int) matmulExecute.invokeExact(handle, src, dst));
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        @Override
        public void close() {
            if (handle == null) return;
            try {
                matmulDestroy.invokeExact(handle);
            } catch (Throwable t) {
                throw rethrow(t);
            } finally {
                handle = null;
            }
        }
    }

    public Matmul matmul(long m, long n, long k, MemorySegment weightNk, MemorySegment bias, boolean gelu, boolean bf16) {
        return new Matmul(m, n, k, weightNk, bias, gelu, bf16);
    }

    private static void check(String fn, int status) {
        if (status != 0) throw new NativeException(fn, status, "oneDNN error");
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }
}
