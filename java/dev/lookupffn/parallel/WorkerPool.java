package dev.lookupffn.parallel;

import dev.lookupffn.LookupFfnException.ShapeException;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The threads that run native kernels. Java owns threading: a job over n rows is cut into one contiguous range
 * per thread, the caller runs range 0 and parked daemon workers run the others; kernels stay single-threaded.
 *
 * <p>A pool runs one job at a time. A caller that finds it busy (another thread is using it) runs its whole job
 * on its own thread instead of waiting, so one model can be shared by many threads and each call's result does
 * not depend on which threads computed it (ranges never change what a row computes). Dispatch allocates nothing
 * on the Java heap.
 */
public final class WorkerPool implements AutoCloseable {
    /** System property for the default thread count; default: the number of available processors. */
    public static final String THREADS_PROPERTY = "lookupffn.threads";

    /** One range of a job. {@code worker} is in [0, threads) and unique among the ranges of one job. */
    @FunctionalInterface
    public interface RangeBody {
        void run(int worker, long start, long end);
    }

    /**
     * A range body that gets two segments with each call, so callers can keep one instance (e.g. a method
     * reference in a final field) instead of a capturing lambda per call: dispatch then allocates nothing.
     */
    @FunctionalInterface
    public interface SegmentRangeBody {
        void run(int worker, long start, long end, MemorySegment a, MemorySegment b);
    }

    private static volatile WorkerPool shared;

    private final int threads;
    private final Thread[] workers;
    private final ReentrantLock busy = new ReentrantLock();
    private final AtomicInteger pending = new AtomicInteger();
    private volatile boolean closed;

    // the current job, published to workers through the volatile generation
    private RangeBody body;
    private long jobSize;
    private int jobParts;
    private volatile long generation;
    private volatile Throwable failure;
    private volatile Thread caller;

    private WorkerPool(int threads) {
        if (threads < 1) throw new ShapeException("thread count must be at least 1, got " + threads);
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            final int worker = i + 1;
            workers[i] = Thread.ofPlatform().daemon().name("lookupffn-worker-" + worker).unstarted(() -> loop(worker));
            workers[i].start();
        }
    }

    /** A pool of {@code threads} threads (the caller counts as one). Close it to stop its workers. */
    public static WorkerPool create(int threads) {
        return new WorkerPool(threads);
    }

    /** The process-wide default pool, sized by {@value #THREADS_PROPERTY} or the processor count. */
    public static WorkerPool shared() {
        WorkerPool p = shared;
        if (p == null) {
            synchronized (WorkerPool.class) {
                if (shared == null) shared = new WorkerPool(defaultThreads());
                p = shared;
            }
        }
        return p;
    }

    public static int defaultThreads() {
        String prop = System.getProperty(THREADS_PROPERTY);
        if (prop != null && !prop.isBlank()) {
            try {
                int n = Integer.parseInt(prop.trim());
                if (n >= 1) return n;
            } catch (NumberFormatException ignored) {
                // fall through to the error below
            }
            throw new ShapeException("-D" + THREADS_PROPERTY + " must be a positive integer, got '" + prop + "'");
        }
        return Runtime.getRuntime().availableProcessors();
    }

    public int threads() {
        return threads;
    }

    // the adapter the workers run for forRanges(…, SegmentRangeBody, a, b); used under the busy lock only
    private SegmentRangeBody segmentBody;
    private MemorySegment segmentA, segmentB;
    private final RangeBody segmentAdapter = (w, s, e) -> segmentBody.run(w, s, e, segmentA, segmentB);

    /** As {@link #forRanges(long, long, RangeBody)}, passing {@code a} and {@code b} to every range. */
    public void forRanges(long n, long minRange, SegmentRangeBody body, MemorySegment a, MemorySegment b) {
        if (closed) throw new IllegalStateException("worker pool is closed");
        if (n <= 0) return;
        int parts = (int) Math.max(1, Math.min(threads, n / Math.max(1, minRange)));
        if (parts == 1 || !busy.tryLock()) {
            body.run(0, 0, n, a, b);
            return;
        }
        try {
            segmentBody = body;
            segmentA = a;
            segmentB = b;
            forRanges(n, minRange, segmentAdapter); // re-enters the (reentrant) lock held by this thread
        } finally {
            segmentBody = null;
            segmentA = segmentB = null;
            busy.unlock();
        }
    }

    /**
     * Runs body over [0, n) cut into at most {@link #threads()} contiguous ranges of at least {@code minRange}
     * rows (the last range takes the remainder). Returns when every range is done; rethrows the first failure.
     */
    public void forRanges(long n, long minRange, RangeBody body) {
        if (closed) throw new IllegalStateException("worker pool is closed");
        if (n <= 0) return;
        int parts = (int) Math.max(1, Math.min(threads, n / Math.max(1, minRange)));
        if (parts == 1 || !busy.tryLock()) {
            body.run(0, 0, n);
            return;
        }
        try {
            this.body = body;
            this.jobSize = n;
            this.jobParts = parts;
            this.failure = null;
            this.caller = Thread.currentThread();
            pending.set(parts - 1);
            generation = generation + 1; // publishes the fields above
            for (int w = 1; w < parts; w++) LockSupport.unpark(workers[w - 1]);
            Throwable mine = null;
            try {
                body.run(0, 0, rangeEnd(n, parts, 0));
            } catch (Throwable t) {
                mine = t;
            }
            // workers unpark the caller when the last range ends; spin first, short jobs end sooner than a park
            for (int spins = 0; pending.get() > 0; spins++) {
                if (spins < 20_000) Thread.onSpinWait();
                else LockSupport.park(this);
            }
            this.body = null;
            Throwable t = mine != null ? mine : failure;
            if (t instanceof RuntimeException re) throw re;
            if (t instanceof Error e) throw e;
            if (t != null) throw new IllegalStateException(t);
        } finally {
            busy.unlock();
        }
    }

    private static long rangeEnd(long n, int parts, int part) {
        return part == parts - 1 ? n : n / parts * (part + 1);
    }

    private void loop(int worker) {
        long seen = 0;
        while (!closed) {
            long g = generation;
            if (g == seen) {
                LockSupport.park(this);
                continue;
            }
            seen = g;
            int parts = jobParts;
            if (worker >= parts) continue;
            long n = jobSize;
            try {
                body.run(worker, n / parts * worker, rangeEnd(n, parts, worker));
            } catch (Throwable t) {
                failure = t;
            } finally {
                if (pending.decrementAndGet() == 0) LockSupport.unpark(caller);
            }
        }
    }

    /** Stops the workers (the shared pool cannot be closed). */
    @Override
    public void close() {
        if (this == shared) return;
        closed = true;
        for (Thread t : workers) LockSupport.unpark(t);
    }
}
