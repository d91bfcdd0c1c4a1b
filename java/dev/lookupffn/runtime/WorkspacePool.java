package dev.lookupffn.runtime;

import java.lang.foreign.Arena;

/**
 * Scratch memory for calls that may come from any number of threads. A call takes a workspace sized for its
 * rows and gives it back when it ends; given-back workspaces wait on a small stack for the next call, and one
 * more than {@code maxIdle} is freed at once. Memory is therefore bounded by the calls running at the same time
 * plus {@code maxIdle}, however many threads have ever called (a per-thread scratch grows with every thread
 * that ever called, until the model is closed).
 *
 * <p>A call gets, when there is one, the workspace its own thread gave back last, so a serving loop keeps
 * using the same memory and whatever it cached in it. Taking and giving back allocate nothing on the Java heap
 * once the workspaces exist. Each workspace lives in its own shared arena, freed when it is dropped or the
 * pool is closed.
 *
 * @param <W> what the factory builds in a workspace's arena (segments, cached views)
 */
public final class WorkspacePool<W> implements AutoCloseable {
    /** Builds the scratch of one workspace for up to {@code rows} rows in {@code arena}. */
    @FunctionalInterface
    public interface Factory<W> {
        W allocate(Arena arena, long rows);
    }

    /** One workspace: its scratch, the rows it was sized for, and the thread that used it last. */
    public static final class Lease<W> {
        private final Arena arena;
        private final long rows;
        private final W scratch;
        private long lastUser = -1;

        private Lease(Arena arena, long rows, W scratch) {
            this.arena = arena;
            this.rows = rows;
            this.scratch = scratch;
        }

        public W scratch() {
            return scratch;
        }

        public long rows() {
            return rows;
        }
    }

    private final long maxRows;
    private final Factory<W> factory;
    private final Lease<W>[] idle;
    private int idleCount;
    private boolean closed;

    /**
     * Workspaces of at most {@code maxRows} rows (larger calls work in tiles of that many rows), at most
     * {@code maxIdle} of them kept between calls.
     */
    @SuppressWarnings("unchecked")
    public WorkspacePool(long maxRows, int maxIdle, Factory<W> factory) {
        if (maxRows < 1 || maxIdle < 0) throw new IllegalArgumentException("maxRows " + maxRows + ", maxIdle " + maxIdle);
        this.maxRows = maxRows;
        this.factory = factory;
        this.idle = (Lease<W>[]) new Lease<?>[maxIdle];
    }

    /** Idle workspaces kept by default: twice the processors (native calls rarely outnumber them), at least 4. */
    public static int defaultMaxIdle() {
        return Math.max(4, 2 * Runtime.getRuntime().availableProcessors());
    }

    /** The rows a workspace for a call of {@code rows} rows is sized for: a power of two, at most maxRows. */
    public long capacityFor(long rows) {
        if (rows >= maxRows) return maxRows;
        return Math.min(maxRows, rows <= 1 ? 1 : Long.highestOneBit(rows - 1) << 1);
    }

    /** A workspace for at least min(rows, maxRows) rows; give it back with {@link #release}. */
    public Lease<W> take(long rows) {
        long want = capacityFor(rows), me = Thread.currentThread().threadId();
        Lease<W> found = null, dropped = null;
        synchronized (this) {
            if (closed) throw new IllegalStateException("the workspaces are freed (closed)");
            int pick = -1;
            for (int i = idleCount - 1; i >= 0; i--) { // most recently given back first
                if (idle[i].rows < want) continue;
                if (pick < 0) pick = i;
                if (idle[i].lastUser == me) {
                    pick = i;
                    break;
                }
            }
            if (pick >= 0) found = remove(pick);
            else if (idleCount > 0) dropped = remove(0); // none is large enough: the new one replaces the oldest
        }
        if (dropped != null) dropped.arena.close();
        return found != null ? found : allocate(want);
    }

    /** Gives a workspace back: kept for the next call, or freed when {@code maxIdle} are waiting already. */
    public void release(Lease<W> lease) {
        lease.lastUser = Thread.currentThread().threadId();
        synchronized (this) {
            if (!closed && idleCount < idle.length) {
                idle[idleCount++] = lease;
                return;
            }
        }
        lease.arena.close();
    }

    /** Workspaces waiting for a call (for tests). */
    public synchronized int idleCount() {
        return idleCount;
    }

    /** Frees the idle workspaces; ones still taken are freed when given back. Later takes throw. */
    @Override
    public void close() {
        Lease<W>[] free;
        int n;
        synchronized (this) {
            if (closed) return;
            closed = true;
            free = idle.clone();
            n = idleCount;
            java.util.Arrays.fill(idle, null);
            idleCount = 0;
        }
        for (int i = 0; i < n; i++) free[i].arena.close();
    }

    private Lease<W> remove(int i) {
        Lease<W> l = idle[i];
        System.arraycopy(idle, i + 1, idle, i, idleCount - i - 1);
        idle[--idleCount] = null;
        return l;
    }

    private Lease<W> allocate(long rows) {
        Arena arena = Arena.ofShared();
        try {
            return new Lease<>(arena, rows, factory.allocate(arena, rows));
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }
}
