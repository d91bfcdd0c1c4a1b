package dev.lookupffn.pytorch;

import dev.lookupffn.tensor.DType;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The values {@link Unpickler} builds: plain data only, nothing that can run code. Python's None is Java null,
 * int is Long (or BigInteger), float Double, bool Boolean, str String, bytes byte[]. Containers compare by
 * identity and know their nesting depth, so no method here recurses (a self-containing list is harmless).
 */
final class Py {
    private Py() {}

    /** A reference to a module attribute ({@code GLOBAL module name}); never imported, only named. */
    record Global(String module, String name) {
        String qualified() {
            return module + "." + name;
        }

        @Override
        public String toString() {
            return qualified();
        }
    }

    /** Something a container holds; depth 1 for a container of scalars. */
    abstract static class Container {
        int depth = 1;

        void adopt(Object child, String source) {
            int d = depthOf(child) + 1;
            if (d > depth) {
                if (d > Unpickler.MAX_NESTING)
                    throw new dev.lookupffn.LookupFfnException.FormatException(source + ": pickle nests containers deeper than "
                            + Unpickler.MAX_NESTING + " levels");
                depth = d;
            }
        }
    }

    static int depthOf(Object o) {
        return o instanceof Container c ? c.depth : 0;
    }

    static final class Tuple extends Container {
        final Object[] items;

        Tuple(Object[] items, String source) {
            this.items = items;
            for (Object o : items) adopt(o, source);
        }

        int size() {
            return items.length;
        }

        Object get(int i) {
            return items[i];
        }

        @Override
        public String toString() {
            return "tuple of " + items.length;
        }
    }

    static final class PyList extends Container {
        final List<Object> items = new ArrayList<>();

        void add(Object o, String source) {
            adopt(o, source);
            items.add(o);
        }

        @Override
        public String toString() {
            return "list of " + items.size();
        }
    }

    /** dict or OrderedDict (insertion order kept); {@code state} holds what BUILD set (OrderedDict's _metadata). */
    static final class Dict extends Container {
        final Map<Object, Object> items = new LinkedHashMap<>();
        Object state;

        void put(Object k, Object v, String source) {
            adopt(k, source);
            adopt(v, source);
            items.put(k, v);
        }

        @Override
        public String toString() {
            return "dict of " + items.size();
        }
    }

    /**
     * What calling a callable that is not on the allow-list would have produced: kept as a name and its
     * arguments, never called. {@code callable} is null when the callable was itself not a global.
     */
    static final class Opaque extends Container {
        final Global callable;
        final Object args;
        Object state;

        Opaque(Global callable, Object args, String source) {
            this.callable = callable;
            this.args = args;
            adopt(args, source);
        }

        String describe() {
            return callable == null ? "a call of a non-global callable" : callable.qualified();
        }

        @Override
        public String toString() {
            return "opaque " + describe();
        }
    }

    /**
     * A storage named by the pickle's persistent id {@code ('storage', torch.XStorage, key, device, numel)}; its
     * bytes live in the zip entry {@code <root>/data/<key>} and are only looked at when a tensor needs them.
     */
    record StorageRef(String key, DType dtype, String typeName, String device, long numel) {}

    /** {@code torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)}: a strided view of a storage. */
    record TensorRef(StorageRef storage, long offset, long[] size, long[] stride) {}
}
