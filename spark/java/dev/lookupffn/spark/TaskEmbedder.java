package dev.lookupffn.spark;

import dev.lookupffn.LookupFfnException.ShapeException;
import dev.lookupffn.model.Batch;
import dev.lookupffn.model.Encoder;
import dev.lookupffn.model.TransformerEncoder;
import dev.lookupffn.parallel.WorkerPool;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import dev.lookupffn.tokenizer.Encoding;
import dev.lookupffn.tokenizer.Tokenizer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * One task's embedding state: its own {@link WorkerPool} (its thread budget: the task thread plus
 * {@code threads - 1} workers) and its own output buffer, in an arena the task owns. Shared with the other tasks
 * of the JVM: only the read-only model (weights, tokenizer). Not thread-safe: one per task, used and closed by
 * the task's thread.
 *
 * <p>{@link #embed} does what {@link Encoder#embed(List)} does — tokenize, sort by token count, batch,
 * forward, pool (+ L2-normalise), restore the input order — with the same arithmetic, but on this task's pool
 * and buffer (the Encoder's pool is fixed when it is loaded, and one shared pool would run only one task at a
 * time on all its threads while the others fall back to one thread).
 */
final class TaskEmbedder implements AutoCloseable {

    private final int batchSize;
    private final WorkerPool pool;
    private final boolean confined;
    private final Thread owner = Thread.currentThread();
    private Arena arena;
    private MemorySegment buffer; // [rows, hidden] F32 of the largest batch so far
    private boolean closed;

    TaskEmbedder(int threads, int batchSize) {
        if (threads < 1) throw new ShapeException("threads per task must be at least 1, got " + threads);
        this.batchSize = batchSize;
        this.pool = WorkerPool.create(threads); // threads == 1: no extra thread, every kernel runs on the task thread
        // the task thread owns the arena; with workers, they write rows of the buffer too, so it must be shared
        this.confined = threads == 1;
    }

    int threads() {
        return pool.threads();
    }

    /** One embedding per text, in input order; null texts give null. */
    float[][] embed(Encoder encoder, List<String> texts) {
        if (closed) throw new IllegalStateException("task embedder is closed");
        Tokenizer tokenizer = encoder.tokenizer();
        if (tokenizer == null) throw new ShapeException("this model was loaded without a tokenizer.json: it cannot embed texts");
        TransformerEncoder model = encoder.model();
        int n = texts.size();
        int[][] ids = new int[n][], types = new int[n][];
        List<Integer> order = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            String t = texts.get(i);
            if (t == null) continue;
            Encoding e = tokenizer.encode(t, true);
            ids[i] = Arrays.copyOf(e.ids(), e.realLength());
            types[i] = Arrays.copyOf(e.typeIds(), e.realLength());
            order.add(i);
        }
        order.sort(Comparator.comparingInt(i -> ids[i].length)); // similar lengths share a batch: little padding
        int pad = tokenizer.padId();
        int h = encoder.dimension();
        float[][] out = new float[n][];
        for (int s = 0; s < order.size(); s += batchSize) {
            int e = Math.min(order.size(), s + batchSize);
            List<int[]> bi = new ArrayList<>(e - s), bt = new ArrayList<>(e - s);
            for (int k = s; k < e; k++) {
                int i = order.get(k);
                boolean empty = ids[i].length == 0;
                bi.add(empty ? new int[] {pad} : ids[i]); // nothing to embed: one padding token, as the Encoder does
                bt.add(empty ? new int[1] : types[i]);
            }
            Batch batch = Batch.of(bi, bt, pad);
            Tensor hidden = Tensor.wrap(rows((long) batch.rows() * h), DType.F32, batch.rows(), h);
            model.forward(batch, hidden, pool);
            for (int k = s; k < e; k++)
                out[order.get(k)] = encoder.pool(hidden, batch, k - s);
        }
        return out;
    }

    /** A slice of this task's buffer of {@code floats} floats, grown (in a new arena) when too small. */
    private MemorySegment rows(long floats) {
        long bytes = floats * Float.BYTES;
        if (buffer == null || buffer.byteSize() < bytes) {
            if (arena != null) arena.close();
            arena = confined ? Arena.ofConfined() : Arena.ofShared();
            long cap = Math.max(bytes, buffer == null ? 0 : buffer.byteSize() * 2);
            buffer = arena.allocate(cap, Tensor.ALIGNMENT);
        }
        return buffer.asSlice(0, bytes);
    }

    /**
     * Frees the buffer and stops the pool's workers. Idempotent. A confined arena can only be closed by its owner,
     * so a call from another thread is ignored then: the task closes it on its own thread (when its rows run out,
     * and again from the task-completion listener, which Spark runs on the task thread).
     */
    @Override
    public void close() {
        if (closed) return;
        if (confined && Thread.currentThread() != owner) return;
        closed = true;
        pool.close();
        if (arena != null) arena.close();
        arena = null;
        buffer = null;
    }
}
