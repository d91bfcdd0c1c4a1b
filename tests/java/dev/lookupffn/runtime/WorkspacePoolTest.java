package dev.lookupffn.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Workspaces: sized to the call, at most maxIdle kept, a thread gets its own back, all freed on close. */
class WorkspacePoolTest {
    @Test
    void keepsAtMostMaxIdleAndFreesTheRest() {
        AtomicInteger made = new AtomicInteger();
        WorkspacePool<MemorySegment> pool = new WorkspacePool<>(4096, 3, (arena, rows) -> {
            made.incrementAndGet();
            return arena.allocate(rows * 4, 64);
        });
        List<WorkspacePool.Lease<MemorySegment>> out = new ArrayList<>();
        for (int i = 0; i < 10; i++) out.add(pool.take(100)); // ten calls at once
        assertEquals(10, made.get());
        for (WorkspacePool.Lease<MemorySegment> l : out) {
            assertEquals(128, l.rows()); // sized to the call (a power of two), not to the largest possible call
            assertEquals(128 * 4, l.scratch().byteSize());
        }
        for (WorkspacePool.Lease<MemorySegment> l : out) pool.release(l);
        assertEquals(3, pool.idleCount());
        int freed = 0;
        for (WorkspacePool.Lease<MemorySegment> l : out) if (!l.scratch().scope().isAlive()) freed++;
        assertEquals(7, freed, "the surplus is freed at once");
        // a call of the same size reuses memory; a larger one replaces an idle workspace that is too small
        WorkspacePool.Lease<MemorySegment> again = pool.take(90);
        assertTrue(again.scratch().scope().isAlive());
        assertEquals(10, made.get());
        pool.release(again);
        WorkspacePool.Lease<MemorySegment> big = pool.take(10_000);
        assertEquals(4096, big.rows(), "capped at maxRows: larger calls work in tiles");
        assertEquals(11, made.get());
        pool.release(big);
        assertEquals(3, pool.idleCount());
        pool.close();
        for (WorkspacePool.Lease<MemorySegment> l : out) assertFalse(l.scratch().scope().isAlive());
        assertFalse(big.scratch().scope().isAlive());
        assertThrows(IllegalStateException.class, () -> pool.take(1));
    }

    @Test
    void aThreadGetsTheWorkspaceItGaveBackNotTheLastOneGivenBack() throws Exception {
        WorkspacePool<MemorySegment> pool = new WorkspacePool<>(64, 4, (arena, rows) -> arena.allocate(rows * 4, 64));
        WorkspacePool.Lease<MemorySegment> mine = pool.take(64);
        List<WorkspacePool.Lease<MemorySegment>> theirs = new ArrayList<>();
        Thread taker = Thread.ofPlatform().start(() -> theirs.add(pool.take(64)));
        taker.join();
        pool.release(mine);
        Thread giver = Thread.ofPlatform().start(() -> pool.release(theirs.get(0))); // on top of the stack now
        giver.join();
        for (int i = 0; i < 3; i++) {
            WorkspacePool.Lease<MemorySegment> l = pool.take(64);
            assertSame(mine, l, "this thread's own workspace (and whatever it cached), not the most recent one");
            pool.release(l);
        }
        pool.close();
    }
}
