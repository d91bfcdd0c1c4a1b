package dev.lookupffn.runtime;

import java.lang.foreign.MemorySegment;

/**
 * The slice of the last (segment, offset, size) asked for, kept until another is asked for, so that a warm call
 * that passes the same buffers hands the same views to its downcalls instead of allocating new ones. It holds one
 * reference to the last segment, which keeps an automatic arena's memory alive until the owner asks for another
 * slice or is freed: a bounded retention, the price of allocation-free calls. Used by one thread at a time.
 */
public final class SliceCache {
    private MemorySegment base, view;
    private long offset, size;

    /** base.asSlice(offset, size), the same object as last time when nothing changed. */
    public MemorySegment of(MemorySegment base, long offset, long size) {
        if (base != this.base || offset != this.offset || size != this.size) {
            view = base.asSlice(offset, size);
            this.base = base;
            this.offset = offset;
            this.size = size;
        }
        return view;
    }

    /** Rows [s, e) of a [·, width] fp32 buffer. */
    public MemorySegment rows(MemorySegment base, long s, long e, long width) {
        return of(base, s * width * 4, (e - s) * width * 4);
    }
}
