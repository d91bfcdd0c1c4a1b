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
 * not depend on which threads computed it (ranges never change what a row computes). So does a nested job: one
 * started from inside a running job of the same pool, by the caller or by a worker, runs inline on that thread.
 * Dispatch allocates nothing on the Java heap.
 *
 * <p>{@link #close()} waits for the running job (if any) to end, then stops the workers; once it has returned,
 * {@code forRanges} throws {@link IllegalStateException}. A job racing close either runs to completion (on the
 * workers or inline) or throws that exception; it never waits forever.
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

    /**
     * One worker thread and its assignment. The caller writes start/end, then the volatile ticket; the worker
     * runs a range only when its own ticket moves, so a worker that takes no part in a job never reads it and a
     * slow worker can never run a range of the next job twice.
     */
    private static final class Worker {
        final Thread thread;
        long start, end;
        volatile long ticket;
        // true while the worker is parked or about to park: only then does a new job need an unpark (a syscall)
        volatile boolean parked;

        Worker(Thread thread) {
            this.thread = thread;
        }
    }

    private static volatile WorkerPool shared;

    /**
     * How long an idle worker keeps polling for its next range before it parks. Long enough to cover the gaps
     * between the jobs of one forward call (a few microseconds of Java between kernels), short enough that an
     * idle pool gives its cores back at once.
     */
    static final long SPIN_NANOS = 50_000;

    private final int threads;
    private final Worker[] workers;
    private final ReentrantLock busy = new ReentrantLock(); // held by the caller for the whole job
    private final AtomicInteger pending = new AtomicInteger();
    private volatile boolean closed;
    // set under the busy lock when no job runs and none can start any more: only then may workers exit
    private volatile boolean stopped;

    // the current job, written under the busy lock before the workers' tickets (volatile) publish it
    private RangeBody body;
    private volatile Throwable failure;
    private volatile Thread caller;
    private volatile boolean callerParked; // the caller gave up spinning and parks until the last range ends
    private long tickets;

    // the adapter the workers run for forRanges(…, SegmentRangeBody, a, b); used under the busy lock only
    private SegmentRangeBody segmentBody;
    private MemorySegment segmentA, segmentB;
    private final RangeBody segmentAdapter = (w, s, e) -> segmentBody.run(w, s, e, segmentA, segmentB);

    private WorkerPool(int threads) {
        if (threads < 1) throw new ShapeException("thread count must be at least 1, got " + threads);
        this.threads = threads;
        this.workers = new Worker[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            final int index = i;
            Thread t = Thread.ofPlatform().daemon().name("lookupffn-worker-" + (i + 1)).unstarted(() -> loop(index));
            workers[i] = new Worker(t);
        }
        for (Worker w : workers) w.thread.start();
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

    /** True once {@link #close()} has been called. */
    public boolean isClosed() {
        return closed;
    }

    /**
     * True if this pool's workers may touch {@code segment}: false for memory of a confined arena (only its owner
     * thread may), which {@link #forRanges(long, long, SegmentRangeBody, MemorySegment, MemorySegment)} then
     * keeps on the calling thread.
     */
    public boolean workersCanAccess(MemorySegment segment) {
        return workers.length == 0 || segment == null || segment.isAccessibleBy(workers[0].thread);
    }

    /**
     * As {@link #forRanges(long, long, RangeBody)}, passing {@code a} and {@code b} to every range. When either
     * segment is confined to the calling thread, every range runs on the calling thread.
     */
    public void forRanges(long n, long minRange, SegmentRangeBody body, MemorySegment a, MemorySegment b) {
        if (closed) throw new IllegalStateException("worker pool is closed");
        if (n <= 0) return;
        int parts = parts(n, minRange);
        if (parts == 1 || !workersCanAccess(a) || !workersCanAccess(b) || !acquire()) {
            body.run(0, 0, n, a, b);
            return;
        }
        try {
            segmentBody = body;
            segmentA = a;
            segmentB = b;
            dispatch(n, parts, segmentAdapter);
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
        int parts = parts(n, minRange);
        if (parts == 1 || !acquire()) {
            body.run(0, 0, n);
            return;
        }
        try {
            dispatch(n, parts, body);
        } finally {
            busy.unlock();
        }
    }

    private int parts(long n, long minRange) {
        return (int) Math.max(1, Math.min(threads, n / Math.max(1, minRange)));
    }

    /**
     * Takes the pool for one job, or says to run inline: when another thread holds it, when this thread holds it
     * already (a nested job from inside one of its ranges: re-entering would overwrite the running job), or when
     * the pool was closed meanwhile (close holds the lock while it stops the workers).
     */
    private boolean acquire() {
        if (busy.isHeldByCurrentThread() || !busy.tryLock()) return false;
        if (closed) {
            busy.unlock();
            throw new IllegalStateException("worker pool is closed");
        }
        return true;
    }

    /** Runs one job on the workers and the calling thread; the caller holds the busy lock. */
    private void dispatch(long n, int parts, RangeBody body) {
        this.body = body;
        this.failure = null;
        this.caller = Thread.currentThread();
        pending.set(parts - 1);
        long ticket = ++tickets;
        for (int w = 1; w < parts; w++) {
            Worker worker = workers[w - 1];
            worker.start = rangeStart(n, parts, w);
            worker.end = rangeEnd(n, parts, w);
            worker.ticket = ticket; // publishes body, start and end to this worker
            // a worker that is still spinning after its last job sees the ticket without a wake-up
            if (worker.parked) LockSupport.unpark(worker.thread);
        }
        Throwable mine = null;
        try {
            body.run(0, 0, rangeEnd(n, parts, 0));
        } catch (Throwable t) {
            mine = t;
        }
        // workers unpark the caller when the last range ends; spin first, short jobs end sooner than a park
        for (int spins = 0; pending.get() > 0; spins++) {
            if (spins < 20_000) {
                Thread.onSpinWait();
            } else {
                callerParked = true; // Dekker with the last worker, as in loop()
                if (pending.get() > 0) LockSupport.park(this);
                callerParked = false;
            }
        }
        this.body = null;
        this.caller = null;
        if (closed) stopWorkers(); // closed from inside this job: the workers may go now
        Throwable t = mine != null ? mine : failure;
        if (t instanceof RuntimeException re) throw re;
        if (t instanceof Error e) throw e;
        if (t != null) throw new IllegalStateException(t);
    }

    private static long rangeStart(long n, int parts, int part) {
        return n / parts * part;
    }

    private static long rangeEnd(long n, int parts, int part) {
        return part == parts - 1 ? n : n / parts * (part + 1);
    }

    private void loop(int index) {
        Worker me = workers[index];
        long seen = 0;
        long idleSince = 0; // System.nanoTime() when the worker last finished a range; 0 while it never has
        while (true) {
            boolean stop = stopped; // read before the ticket: once stopped, no ticket can move any more
            long ticket = me.ticket;
            if (ticket != seen) {
                // an assigned range always runs, even when close() has begun: its caller is waiting for it
                seen = ticket;
                try {
                    body.run(index + 1, me.start, me.end);
                } catch (Throwable t) {
                    failure = t;
                } finally {
                    Thread c = caller;
                    if (pending.decrementAndGet() == 0 && callerParked) LockSupport.unpark(c);
                }
                idleSince = System.nanoTime();
            } else if (stop) {
                return;
            } else if (idleSince != 0 && System.nanoTime() - idleSince < SPIN_NANOS) {
                // a forward pass runs dozens of short jobs back to back: waiting for the next one here costs
                // a few microseconds of one core, a park and unpark costs tens of microseconds per job
                Thread.onSpinWait();
            } else {
                idleSince = 0;
                me.parked = true;
                // Dekker with dispatch: it writes the ticket then reads parked, we write parked then read the
                // ticket, so at least one of us sees the other's write and no job is left without a wake-up
                if (me.ticket == seen && !stopped) LockSupport.park(this);
                me.parked = false;
            }
        }
    }

    private boolean isWorkerThread() {
        Thread me = Thread.currentThread();
        for (Worker w : workers) if (w.thread == me) return true;
        return false;
    }

    /**
     * Stops the workers after the running job, if any, has ended (the shared pool cannot be closed). Called
     * from inside one of this pool's own jobs, it marks the pool closed and the workers stop after that job.
     */
    @Override
    public void close() {
        if (this == shared || closed) return;
        if (busy.isHeldByCurrentThread() || isWorkerThread()) {
            closed = true; // waiting for the lock here would wait for ourselves: the job's end stops the workers
            return;
        }
        busy.lock();
        try {
            closed = true;
            stopWorkers();
        } finally {
            busy.unlock();
        }
    }

    private void stopWorkers() {
        stopped = true;
        for (Worker w : workers) LockSupport.unpark(w.thread);
    }
}
