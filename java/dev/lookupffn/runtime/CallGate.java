package dev.lookupffn.runtime;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * Counts the calls running on an object so that {@link #close()} can wait for them: after close has begun,
 * {@link #enter()} throws {@link IllegalStateException}; close returns once every call that entered before
 * has exited. So an object's memory (or a native handle) is freed only when no call can still be using it.
 * Entering and exiting are one atomic update each and allocate nothing.
 */
public final class CallGate {
    private static final int CLOSED = Integer.MIN_VALUE; // the sign bit; the low bits count running calls

    private final AtomicInteger state = new AtomicInteger();
    private final String what;

    /** {@code what} names the guarded object in the exception, e.g. "layer". */
    public CallGate(String what) {
        this.what = what;
    }

    /** Registers a call; throws IllegalStateException once close has begun. Pair with {@link #exit()}. */
    public void enter() {
        while (true) {
            int s = state.get();
            if (s < 0) throw new IllegalStateException(what + " is closed");
            if (state.compareAndSet(s, s + 1)) return;
        }
    }

    public void exit() {
        state.decrementAndGet();
    }

    public boolean isClosed() {
        return state.get() < 0;
    }

    /**
     * Refuses new calls and waits for running ones. Returns true for the caller that closed it, false when it
     * was closed already. Must not be called from inside a call on this gate (it would wait for itself).
     */
    public boolean close() {
        while (true) {
            int s = state.get();
            if (s < 0) return false;
            if (state.compareAndSet(s, s | CLOSED)) break;
        }
        while ((state.get() & ~CLOSED) != 0) LockSupport.parkNanos(100_000); // calls are short: poll
        return true;
    }
}
