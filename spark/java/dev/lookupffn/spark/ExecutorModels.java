package dev.lookupffn.spark;

import dev.lookupffn.ffi.Kernels;
import dev.lookupffn.ffi.NativeLibrary;
import dev.lookupffn.model.Encoder;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The models of this JVM (an executor, or the driver in local mode): each loaded once, on first use, shared by
 * every task of the JVM (the weights are read-only; {@code TransformerEncoder.forward} keeps its activations per
 * calling thread), closed by a shutdown hook at JVM exit.
 *
 * <p>Closing must not race with a forward pass (it frees the weights the kernels read), so tasks use a model under
 * the read side of a lock, one chunk at a time, and the hook takes the write side: it waits for running chunks
 * (at most {@link #CLOSE_WAIT_SECONDS}; if a chunk is still running then, the memory is left to the OS), and any
 * later use fails with an IllegalStateException instead of touching freed memory.
 */
final class ExecutorModels {
    static final long CLOSE_WAIT_SECONDS = 10;
    /** The key of the embedded default model. */
    static final String DEFAULT_KEY = "<default all-MiniLM-L6-v2>";
    /** The start of the one INFO line each load logs (tests look for it in executors' logs). */
    static final String LOADED = "lookupffn: loaded model ";

    // Spark's own logging (SLF4J over log4j2): the line lands in the executor's stderr log beside Spark's
    private static final Logger LOG = LoggerFactory.getLogger(ExecutorModels.class);

    private static final ReentrantReadWriteLock LOCK = new ReentrantReadWriteLock();
    private static final Map<String, Encoder> MODELS = new HashMap<>(); // guarded by itself
    private static boolean hookAdded;                                     // guarded by MODELS
    private static volatile boolean closed;
    private static final java.util.concurrent.atomic.AtomicInteger LOADS = new java.util.concurrent.atomic.AtomicInteger();

    private ExecutorModels() {}

    /** Runs {@code body} with the model at {@code location} (null: the default), loading it on first use. */
    static <T> T withModel(String location, Function<Encoder, T> body) {
        LOCK.readLock().lock();
        try {
            if (closed) throw new IllegalStateException("lookupffn: this JVM is shutting down, its models are closed");
            return body.apply(get(location));
        } finally {
            LOCK.readLock().unlock();
        }
    }

    private static Encoder get(String location) {
        String key = location == null ? DEFAULT_KEY : location;
        synchronized (MODELS) {
            Encoder e = MODELS.get(key);
            if (e != null) return e;
            // threads=1: the Encoder's own pool is never used here (tasks bring theirs), so it starts no threads.
            // A failed load is not cached: every task that needs the model reports the same error.
            Encoder.Options o = Encoder.Options.DEFAULT.withThreads(1);
            long t0 = System.nanoTime();
            e = location == null ? Encoder.loadDefault(o) : Encoder.load(Path.of(location), o);
            LOADS.incrementAndGet();
            // once per model and JVM: which model and which native library this executor (or driver) runs
            LOG.info("{}{} ({} dimensions, {} pooling{}) in {} ms; native library {} (version {}, {} kernels)", LOADED, key,
                    e.dimension(), e.pooling(), e.normalizes() ? ", normalised" : "", (System.nanoTime() - t0) / 1_000_000,
                    NativeLibrary.load(), Kernels.version(), Kernels.effectiveIsa());
            MODELS.put(key, e);
            if (!hookAdded) {
                Runtime.getRuntime().addShutdownHook(
                        Thread.ofPlatform().name("lookupffn-models-close").unstarted(ExecutorModels::closeAll));
                hookAdded = true;
            }
            return e;
        }
    }

    /** How many successful model loads this JVM has done (tests: once per model). */
    static int loads() {
        return LOADS.get();
    }

    /** How many models this JVM has loaded (and not closed). */
    static int loadedCount() {
        synchronized (MODELS) {
            return MODELS.size();
        }
    }

    /** True when this JVM has loaded the model at {@code location} (null: the default). */
    static boolean isLoaded(String location) {
        synchronized (MODELS) {
            return MODELS.containsKey(location == null ? DEFAULT_KEY : location);
        }
    }

    /** The shutdown hook: waits for running chunks, then closes every model. */
    static void closeAll() {
        boolean locked = false;
        try {
            locked = LOCK.writeLock().tryLock(CLOSE_WAIT_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (!locked) return; // a chunk is still running: leave the memory to the OS rather than free it under it
        try {
            closed = true;
            synchronized (MODELS) {
                for (Encoder e : MODELS.values()) e.close();
                MODELS.clear();
            }
        } finally {
            LOCK.writeLock().unlock();
        }
    }
}
