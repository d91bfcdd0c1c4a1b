package dev.lookupffn.parallel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Jobs inside jobs, close racing jobs, confined memory: every range runs exactly once, nobody waits forever.
 * (A hang would show as a thread still alive after a generous join; nothing here measures speed.)
 */
class WorkerPoolTest {
    /** Every index of every job, outer and nested, is visited exactly once. */
    @Test
    void nestedJobsFromTheCallerAndFromWorkersRunInlineAndVisitEveryRowOnce() throws Exception {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread t = Thread.ofPlatform().start(() -> {
            try (WorkerPool pool = WorkerPool.create(3)) {
                for (int trial = 0; trial < 2_000; trial++) {
                    int n = 90 + trial % 50, inner = 37 + trial % 11;
                    AtomicIntegerArray outerHits = new AtomicIntegerArray(n);
                    AtomicIntegerArray innerHits = new AtomicIntegerArray(n * inner);
                    pool.forRanges(n, 1, (worker, s, e) -> {
                        for (long i = s; i < e; i++) outerHits.incrementAndGet((int) i);
                        // a nested job per range: from the caller (range 0) and from the workers
                        pool.forRanges(inner, 1, (w2, s2, e2) -> {
                            for (long j = s2; j < e2; j++) innerHits.incrementAndGet((int) (s * inner + j));
                        });
                        for (long i = s + 1; i < e; i++) { // the range's other rows: one job each, same pool
                            long row = i;
                            pool.forRanges(inner, 1, (w2, s2, e2) -> {
                                for (long j = s2; j < e2; j++) innerHits.incrementAndGet((int) (row * inner + j));
                            });
                        }
                    });
                    for (int i = 0; i < n; i++) assertEquals(1, outerHits.get(i), "outer row " + i + ", trial " + trial);
                    for (int i = 0; i < n * inner; i++)
                        assertEquals(1, innerHits.get(i), "nested row " + i + ", trial " + trial);
                }
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        t.join(120_000);
        assertFalse(t.isAlive(), "a nested job left its caller waiting");
        if (failure.get() != null) throw new AssertionError("nested jobs failed", failure.get());
    }

    @Test
    void closeRacingJobsNeverLeavesACallerWaitingAndLaterJobsThrow() throws Exception {
        for (int trial = 0; trial < 1_500; trial++) {
            WorkerPool pool = WorkerPool.create(3);
            AtomicLong rows = new AtomicLong();
            AtomicReference<Throwable> unexpected = new AtomicReference<>();
            Thread caller = Thread.ofPlatform().start(() -> {
                try {
                    while (true) pool.forRanges(3_000, 1, (w, s, e) -> rows.addAndGet(e - s));
                } catch (IllegalStateException closed) {
                    // the documented answer once the pool is closed
                } catch (Throwable e) {
                    unexpected.set(e);
                }
            });
            for (int spin = 0; spin < trial % 200; spin++) Thread.onSpinWait();
            pool.close();
            caller.join(30_000);
            assertFalse(caller.isAlive(), "trial " + trial + ": a caller racing close() was left waiting");
            if (unexpected.get() != null) throw new AssertionError("trial " + trial, unexpected.get());
            assertEquals(0, rows.get() % 3_000, "a job that returned did not run all its rows");
            assertThrows(IllegalStateException.class, () -> pool.forRanges(10, 1, (w, s, e) -> {}));
        }
    }

    @Test
    void closeFromInsideAJobLetsThatJobFinish() throws Exception {
        WorkerPool pool = WorkerPool.create(3);
        AtomicIntegerArray hits = new AtomicIntegerArray(300);
        Thread t = Thread.ofPlatform().start(() -> pool.forRanges(300, 1, (w, s, e) -> {
            if (w == 1) pool.close(); // from a worker
            for (long i = s; i < e; i++) hits.incrementAndGet((int) i);
        }));
        t.join(30_000);
        assertFalse(t.isAlive());
        for (int i = 0; i < 300; i++) assertEquals(1, hits.get(i));
        assertTrue(pool.isClosed());
        assertThrows(IllegalStateException.class, () -> pool.forRanges(10, 1, (w, s, e) -> {}));
    }

    @Test
    void memoryConfinedToTheCallerStaysOnTheCallingThread() {
        try (WorkerPool pool = WorkerPool.create(3); Arena confined = Arena.ofConfined(); Arena shared = Arena.ofShared()) {
            MemorySegment mine = confined.allocate(4 * 300), everyone = shared.allocate(4 * 300);
            assertFalse(pool.workersCanAccess(mine));
            assertTrue(pool.workersCanAccess(everyone));
            Set<Thread> ran = ConcurrentHashMap.newKeySet();
            AtomicBoolean touched = new AtomicBoolean();
            pool.forRanges(300, 1, (w, s, e, a, b) -> {
                ran.add(Thread.currentThread());
                for (long i = s; i < e; i++) a.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i, i);
                touched.set(true);
            }, mine, everyone);
            assertEquals(Set.of(Thread.currentThread()), ran);
            assertTrue(touched.get());
            for (int i = 0; i < 300; i++) assertEquals(i, mine.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i));
        }
    }

    /**
     * Workers spin for a while after a job and park after that: a job must reach every worker whether it comes
     * at once (spinning), after the spin (parked), or while a worker is between the two, from callers that
     * change. Each job's ranges all run (on their own workers) and the job returns.
     */
    @Test
    void jobsReachSpinningAndParkedWorkersAlike() throws Exception {
        try (WorkerPool pool = WorkerPool.create(3)) {
            long[] pauses = {0, 1_000, WorkerPool.SPIN_NANOS / 2, WorkerPool.SPIN_NANOS, 2 * WorkerPool.SPIN_NANOS, 3_000_000};
            for (int round = 0; round < 60; round++) {
                long pause = pauses[round % pauses.length];
                long until = System.nanoTime() + pause;
                while (System.nanoTime() < until) Thread.onSpinWait();
                AtomicIntegerArray ran = new AtomicIntegerArray(3), workerOf = new AtomicIntegerArray(3);
                Runnable job = () -> pool.forRanges(3, 1, (worker, s, e) -> {
                    for (long i = s; i < e; i++) {
                        ran.incrementAndGet((int) i);
                        workerOf.set((int) i, worker);
                    }
                });
                Thread caller = Thread.ofPlatform().start(job); // callers change from job to job
                caller.join(10_000);
                assertFalse(caller.isAlive(), "job after a pause of " + pause + " ns never finished");
                for (int i = 0; i < 3; i++) {
                    assertEquals(1, ran.get(i), "range " + i + " after a pause of " + pause + " ns");
                    assertEquals(i, workerOf.get(i), "range " + i + " ran on its own worker");
                }
            }
        }
    }
}
