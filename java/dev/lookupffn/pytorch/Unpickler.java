package dev.lookupffn.pytorch;

import dev.lookupffn.LookupFfnException.FormatException;
import dev.lookupffn.pytorch.Py.Dict;
import dev.lookupffn.pytorch.Py.Global;
import dev.lookupffn.pytorch.Py.Opaque;
import dev.lookupffn.pytorch.Py.PyList;
import dev.lookupffn.pytorch.Py.StorageRef;
import dev.lookupffn.pytorch.Py.TensorRef;
import dev.lookupffn.pytorch.Py.Tuple;
import dev.lookupffn.tensor.DType;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * A pickle reader that executes nothing: a stack machine over the opcodes of protocols 2 to 5 that builds
 * {@link Py} values. Globals are only names. Calling one ({@code REDUCE}, {@code NEWOBJ}) means something only
 * for an allow-list — {@code collections.OrderedDict}, torch's tensor and parameter rebuild functions, the
 * {@code torch.*Storage} types as persistent-id tags, set/frozenset and protocol 2's bytes encoding; any other
 * call becomes an {@link Opaque} value that the caller refuses where a tensor is expected. Globals that only
 * make sense to run code (os/posix/subprocess/builtins.eval and the like) are refused outright.
 *
 * <p>Limits keep memory bounded by the pickle's size: stack, memo and mark depth, container nesting and the
 * length of integers are capped, and every length field is checked against the bytes left.
 */
final class Unpickler {
    static final int MAX_STACK = 1 << 20;
    static final int MAX_MEMO = 1 << 22;
    static final int MAX_NESTING = 1000;
    static final int MAX_LONG_BYTES = 1024;
    static final int MAX_RANK = 64;

    /** Modules whose globals exist to run code or touch the system: a pickle naming them is hostile. */
    private static final Set<String> DENIED_MODULES = Set.of("os", "posix", "nt", "subprocess", "sys", "shutil",
            "socket", "importlib", "runpy", "pty", "ctypes", "code", "codeop", "pickle", "_pickle", "marshal",
            "webbrowser", "commands", "popen2", "multiprocessing", "signal", "torch.hub");
    /** The builtins a data pickle may name (containers and scalar types); eval, exec, getattr, open… are refused. */
    private static final Set<String> ALLOWED_BUILTINS = Set.of("set", "frozenset", "bytearray", "slice", "complex",
            "list", "dict", "tuple", "int", "float", "str", "bool", "bytes", "range", "object");

    private static final Map<String, DType> STORAGE_TYPES = Map.of("FloatStorage", DType.F32, "DoubleStorage", DType.F64,
            "HalfStorage", DType.F16, "BFloat16Storage", DType.BF16, "LongStorage", DType.I64, "IntStorage", DType.I32,
            "ShortStorage", DType.I16, "CharStorage", DType.I8, "ByteStorage", DType.U8, "BoolStorage", DType.BOOL);

    private final String source;
    private final byte[] data;
    private int pos;
    private Object[] stack = new Object[64];
    private int sp;
    private int[] marks = new int[16];
    private int mp;
    private final Map<Long, Object> memo = new HashMap<>();

    private Unpickler(String source, byte[] data) {
        this.source = source;
        this.data = data;
    }

    /** The object a pickle describes; {@code source} names the file (and entry) in messages. */
    static Object load(String source, byte[] data) {
        return new Unpickler(source, data).run();
    }

    private FormatException bad(String what) {
        return new FormatException(source + ": " + what + " (pickle byte " + pos + ")");
    }

    private Object run() {
        while (true) {
            if (pos >= data.length) throw bad("pickle ends without STOP");
            int op = data[pos++] & 0xFF;
            switch (op) {
                case 0x80 -> { // PROTO
                    int v = u8();
                    if (v > 5) throw bad("pickle protocol " + v + " is newer than 5");
                }
                case 0x95 -> skip(8); // FRAME: framing only, the bytes follow inline
                case '.' -> { // STOP
                    if (sp != 1) throw bad("STOP with " + sp + " values on the stack");
                    return stack[0];
                }
                case '(' -> { // MARK
                    if (mp == MAX_NESTING) throw bad("more than " + MAX_NESTING + " nested MARKs");
                    if (mp == marks.length) marks = Arrays.copyOf(marks, mp * 2);
                    marks[mp++] = sp;
                }
                case '0' -> pop(); // POP
                case '1' -> popMark(); // POP_MARK
                case '2' -> push(peek()); // DUP
                case 'N' -> push(null);
                case 0x88 -> push(Boolean.TRUE);
                case 0x89 -> push(Boolean.FALSE);
                case 'J' -> push((long) i32()); // BININT
                case 'K' -> push((long) u8()); // BININT1
                case 'M' -> push((long) u16()); // BININT2
                case 0x8a -> push(longOf(u8())); // LONG1
                case 0x8b -> push(longOf(length(i32()))); // LONG4
                case 'G' -> push(Double.longBitsToDouble(be64())); // BINFLOAT (big-endian)
                case 'X' -> push(utf8(length(i32()))); // BINUNICODE
                case 0x8c -> push(utf8(u8())); // SHORT_BINUNICODE
                case 0x8d -> push(utf8(length(i64()))); // BINUNICODE8
                case 'T' -> push(latin1(length(i32()))); // BINSTRING (Python 2 str)
                case 'U' -> push(latin1(u8())); // SHORT_BINSTRING
                case 'B' -> push(bytes(length(i32()))); // BINBYTES
                case 'C' -> push(bytes(u8())); // SHORT_BINBYTES
                case 0x8e, 0x96 -> push(bytes(length(i64()))); // BINBYTES8, BYTEARRAY8
                case ')' -> push(new Tuple(new Object[0], source));
                case 0x85 -> push(new Tuple(new Object[] {pop()}, source));
                case 0x86 -> {
                    Object b = pop(), a = pop();
                    push(new Tuple(new Object[] {a, b}, source));
                }
                case 0x87 -> {
                    Object c = pop(), b = pop(), a = pop();
                    push(new Tuple(new Object[] {a, b, c}, source));
                }
                case 't' -> push(new Tuple(popMark(), source)); // TUPLE
                case ']' -> push(new PyList()); // EMPTY_LIST
                case 'l' -> { // LIST
                    PyList l = new PyList();
                    for (Object o : popMark()) l.add(o, source);
                    push(l);
                }
                case 'a' -> { // APPEND
                    Object v = pop();
                    list(peek(), "APPEND").add(v, source);
                }
                case 'e' -> { // APPENDS
                    Object[] vs = popMark();
                    PyList l = list(peek(), "APPENDS");
                    for (Object v : vs) l.add(v, source);
                }
                case '}' -> push(new Dict()); // EMPTY_DICT
                case 'd' -> { // DICT
                    Dict d = new Dict();
                    putPairs(d, popMark());
                    push(d);
                }
                case 's' -> { // SETITEM
                    Object v = pop(), k = pop();
                    dict(peek(), "SETITEM").put(key(k), v, source);
                }
                case 'u' -> putPairs(dict(peekBelowMark(), "SETITEMS"), popMark()); // SETITEMS
                case 0x8f -> push(new PyList()); // EMPTY_SET (a set is kept as a list of its items)
                case 0x90 -> { // ADDITEMS
                    Object[] vs = popMark();
                    PyList s = list(peek(), "ADDITEMS");
                    for (Object v : vs) s.add(v, source);
                }
                case 0x91 -> { // FROZENSET
                    PyList s = new PyList();
                    for (Object v : popMark()) s.add(v, source);
                    push(s);
                }
                case 'h' -> push(memoGet(u8())); // BINGET
                case 'j' -> push(memoGet(u32())); // LONG_BINGET
                case 'q' -> memoPut(u8()); // BINPUT
                case 'r' -> memoPut(u32()); // LONG_BINPUT
                case 0x94 -> memoPut(memo.size()); // MEMOIZE
                case 'c' -> { // GLOBAL "module\nname\n"
                    String module = line(), name = line();
                    push(global(module, name));
                }
                case 0x93 -> { // STACK_GLOBAL
                    Object name = pop(), module = pop();
                    if (!(module instanceof String m) || !(name instanceof String n)) throw bad("STACK_GLOBAL needs two strings");
                    push(global(m, n));
                }
                case 'R' -> { // REDUCE
                    Object args = pop(), callable = pop();
                    push(call(callable, args));
                }
                case 0x81 -> { // NEWOBJ cls.__new__(cls, *args)
                    Object args = pop(), cls = pop();
                    push(call(cls, args));
                }
                case 0x92 -> { // NEWOBJ_EX
                    Object kwargs = pop(), args = pop(), cls = pop();
                    push(call(cls, new Tuple(new Object[] {args, kwargs}, source)));
                }
                case 'b' -> { // BUILD
                    Object state = pop();
                    build(peek(), state);
                }
                case 'Q' -> push(persistent(pop())); // BINPERSID
                default -> throw bad("unsupported pickle opcode 0x" + Integer.toHexString(op)
                        + (op == 'i' || op == 'o' ? " (protocol 0/1 object instantiation)" : ""));
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ stack

    private void push(Object o) {
        if (sp == MAX_STACK) throw bad("pickle stack grows past " + MAX_STACK + " values");
        if (sp == stack.length) stack = Arrays.copyOf(stack, sp * 2);
        stack[sp++] = o;
    }

    private Object pop() {
        if (sp == 0 || (mp > 0 && marks[mp - 1] == sp)) throw bad("pickle stack underflow");
        Object o = stack[--sp];
        stack[sp] = null;
        return o;
    }

    private Object peek() {
        if (sp == 0 || (mp > 0 && marks[mp - 1] == sp)) throw bad("pickle stack underflow");
        return stack[sp - 1];
    }

    private Object peekBelowMark() {
        if (mp == 0) throw bad("SETITEMS without MARK");
        int m = marks[mp - 1];
        if (m == 0 || (mp > 1 && marks[mp - 2] == m)) throw bad("pickle stack underflow");
        return stack[m - 1];
    }

    private Object[] popMark() {
        if (mp == 0) throw bad("no MARK on the pickle stack");
        int m = marks[--mp];
        Object[] items = Arrays.copyOfRange(stack, m, sp);
        Arrays.fill(stack, m, sp, null);
        sp = m;
        return items;
    }

    private PyList list(Object o, String op) {
        if (o instanceof PyList l) return l;
        throw bad(op + " on " + describe(o) + ", not a list");
    }

    private Dict dict(Object o, String op) {
        if (o instanceof Dict d) return d;
        throw bad(op + " on " + describe(o) + ", not a dict");
    }

    private void putPairs(Dict d, Object[] kv) {
        if (kv.length % 2 != 0) throw bad("odd number of values for dict items");
        for (int i = 0; i < kv.length; i += 2) d.put(key(kv[i]), kv[i + 1], source);
    }

    /** Dict keys: Python needs them hashable; str/int/float/bool/None compare by value, anything else by identity. */
    private Object key(Object k) {
        if (k instanceof PyList || k instanceof Dict) throw bad("unhashable " + describe(k) + " as a dict key");
        return k;
    }

    private Object memoGet(long i) {
        Object o = memo.get(i);
        if (o == null && !memo.containsKey(i)) throw bad("memo slot " + i + " is empty");
        return o;
    }

    private void memoPut(long i) {
        if (memo.size() >= MAX_MEMO && !memo.containsKey(i)) throw bad("pickle memo grows past " + MAX_MEMO + " values");
        memo.put(i, peek());
    }

    // ------------------------------------------------------------------------------------------------ reading

    private void need(long n) {
        if (n < 0 || n > data.length - pos) throw bad("truncated pickle: " + n + " bytes needed, " + (data.length - pos) + " left");
    }

    private void skip(int n) {
        need(n);
        pos += n;
    }

    private int u8() {
        need(1);
        return data[pos++] & 0xFF;
    }

    private int u16() {
        need(2);
        int v = (data[pos] & 0xFF) | (data[pos + 1] & 0xFF) << 8;
        pos += 2;
        return v;
    }

    private int i32() {
        need(4);
        int v = (data[pos] & 0xFF) | (data[pos + 1] & 0xFF) << 8 | (data[pos + 2] & 0xFF) << 16 | (data[pos + 3] & 0xFF) << 24;
        pos += 4;
        return v;
    }

    private long u32() {
        return i32() & 0xFFFFFFFFL;
    }

    private long i64() {
        long lo = u32(), hi = u32();
        return lo | hi << 32;
    }

    private long be64() {
        need(8);
        long v = 0;
        for (int i = 0; i < 8; i++) v = v << 8 | (data[pos++] & 0xFF);
        return v;
    }

    /** A length field: non-negative and within the bytes left. */
    private int length(long n) {
        need(n);
        return (int) n;
    }

    private String utf8(int n) {
        need(n);
        String s = new String(data, pos, n, StandardCharsets.UTF_8);
        pos += n;
        return s;
    }

    private String latin1(int n) {
        need(n);
        String s = new String(data, pos, n, StandardCharsets.ISO_8859_1);
        pos += n;
        return s;
    }

    private byte[] bytes(int n) {
        need(n);
        byte[] b = Arrays.copyOfRange(data, pos, pos + n);
        pos += n;
        return b;
    }

    /** Little-endian two's complement of n bytes: a Long when it fits, else a BigInteger. */
    private Object longOf(int n) {
        if (n > MAX_LONG_BYTES) throw bad("integer of " + n + " bytes is longer than " + MAX_LONG_BYTES);
        need(n);
        if (n == 0) return 0L;
        byte[] be = new byte[n];
        for (int i = 0; i < n; i++) be[i] = data[pos + n - 1 - i];
        pos += n;
        BigInteger v = new BigInteger(be);
        return v.bitLength() < 64 ? (Object) v.longValue() : v;
    }

    /** A text line of GLOBAL (module or name), at most 1024 bytes. */
    private String line() {
        int end = pos, limit = Math.min(data.length, pos + 1024);
        while (end < limit && data[end] != '\n') end++;
        if (end == limit) throw bad("GLOBAL name is not terminated within 1024 bytes");
        String s = new String(data, pos, end - pos, StandardCharsets.UTF_8);
        pos = end + 1;
        return s;
    }

    // ------------------------------------------------------------------------------------------------ globals

    private Global global(String module, String name) {
        String top = module.contains(".") ? module.substring(0, module.indexOf('.')) : module;
        boolean builtins = module.equals("builtins") || module.equals("__builtin__");
        if (DENIED_MODULES.contains(module) || DENIED_MODULES.contains(top) || (builtins && !ALLOWED_BUILTINS.contains(name)))
            throw bad("the pickle refers to " + module + "." + name
                    + ", which is used to run code, not to store tensors; refusing the file (nothing was executed)");
        return new Global(module, name);
    }

    /** What calling {@code callable(*args)} means for the allow-list; anything else stays an opaque value. */
    private Object call(Object callable, Object args) {
        if (!(callable instanceof Global g)) return new Opaque(null, args, source);
        if (!(args instanceof Tuple t)) throw bad("arguments of " + g + " are " + describe(args) + ", not a tuple");
        switch (g.qualified()) {
            case "collections.OrderedDict", "builtins.dict", "__builtin__.dict" -> {
                Dict d = new Dict();
                if (t.size() == 1 && t.get(0) instanceof PyList pairs) {
                    for (Object p : pairs.items) {
                        if (!(p instanceof Tuple kv) || kv.size() != 2) throw bad(g + " from a list that is not of pairs");
                        d.put(key(kv.get(0)), kv.get(1), source);
                    }
                } else if (t.size() != 0 && !(t.size() == 1 && t.get(0) instanceof Dict)) {
                    throw bad(g + " called with " + t.size() + " unexpected arguments");
                } else if (t.size() == 1) {
                    for (var e : ((Dict) t.get(0)).items.entrySet()) d.put(e.getKey(), e.getValue(), source);
                }
                return d;
            }
            case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor" -> {
                return tensor(g, t);
            }
            case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state" -> {
                if (t.size() < 1 || !(t.get(0) instanceof TensorRef data))
                    throw bad(g + " applied to " + (t.size() < 1 ? "nothing" : describe(t.get(0))) + ", not a tensor");
                return data;
            }
            case "builtins.set", "builtins.frozenset", "__builtin__.set", "__builtin__.frozenset" -> {
                PyList s = new PyList();
                if (t.size() == 1 && t.get(0) instanceof PyList items) for (Object o : items.items) s.add(o, source);
                else if (t.size() != 0) throw bad(g + " called with unexpected arguments");
                return s;
            }
            case "_codecs.encode" -> { // protocol 2 writes bytes as _codecs.encode(text, 'latin1')
                if (t.size() == 2 && t.get(0) instanceof String s && t.get(1) instanceof String enc
                        && (enc.equals("latin1") || enc.equals("latin-1")))
                    return s.getBytes(StandardCharsets.ISO_8859_1);
                return new Opaque(g, args, source);
            }
            case "torch.Size" -> {
                if (t.size() == 1 && t.get(0) instanceof Tuple dims) return dims;
                throw bad("torch.Size called with unexpected arguments");
            }
            default -> {
                return new Opaque(g, args, source);
            }
        }
    }

    /** {@code _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])}. */
    private TensorRef tensor(Global g, Tuple t) {
        if (t.size() < 4) throw bad(g + " called with " + t.size() + " arguments, needs at least 4");
        if (!(t.get(0) instanceof StorageRef storage))
            throw bad(g + " applied to " + describe(t.get(0)) + ", not a torch storage");
        long offset = nonNegative(t.get(1), g + " storage offset");
        long[] size = dims(t.get(2), g + " size"), stride = dims(t.get(3), g + " stride");
        if (size.length != stride.length)
            throw bad(g + ": size has " + size.length + " dimensions but stride " + stride.length);
        return new TensorRef(storage, offset, size, stride);
    }

    private long[] dims(Object o, String what) {
        if (!(o instanceof Tuple t)) throw bad(what + " is " + describe(o) + ", not a tuple");
        if (t.size() > MAX_RANK) throw bad(what + " has " + t.size() + " dimensions, more than " + MAX_RANK);
        long[] d = new long[t.size()];
        for (int i = 0; i < d.length; i++) d[i] = nonNegative(t.get(i), what);
        return d;
    }

    private long nonNegative(Object o, String what) {
        if (o instanceof Long v && v >= 0) return v;
        throw bad(what + " is " + describe(o) + ", not a non-negative integer");
    }

    /** BINPERSID: torch's {@code ('storage', torch.XStorage, key, device, numel)}. */
    private StorageRef persistent(Object pid) {
        if (!(pid instanceof Tuple t) || t.size() != 5 || !"storage".equals(t.get(0)))
            throw bad("persistent id " + describe(pid) + " is not torch's ('storage', type, key, device, numel)");
        if (!(t.get(1) instanceof Global type) || !type.module().equals("torch") || !STORAGE_TYPES.containsKey(type.name()))
            throw bad("storage type " + describe(t.get(1)) + " is not supported (float, double, half, bfloat16 and integer storages are)");
        if (!(t.get(2) instanceof String key) || key.isEmpty() || key.length() > 256 || key.contains("/") || key.contains(".."))
            throw bad("storage key " + describe(t.get(2)) + " is not a plain name");
        if (!(t.get(3) instanceof String device)) throw bad("storage device " + describe(t.get(3)) + " is not a string");
        DType dtype = STORAGE_TYPES.get(type.name());
        long numel = nonNegative(t.get(4), "storage size");
        if (numel > Long.MAX_VALUE / dtype.byteSize()) throw bad("storage of " + numel + " elements overflows");
        return new StorageRef(key, dtype, type.qualified(), device, numel);
    }

    private void build(Object target, Object state) {
        switch (target) {
            case Dict d -> d.state = state;        // OrderedDict's _metadata (torch state_dict versions)
            case Opaque o -> o.state = state;
            case TensorRef ignored -> { }           // tensor subclass / parameter state: not needed for the values
            default -> throw bad("BUILD on " + describe(target));
        }
    }

    static String describe(Object o) {
        return switch (o) {
            case null -> "None";
            case String s -> "'" + (s.length() > 60 ? s.substring(0, 60) + "…" : s) + "'";
            case Long l -> "int " + l;
            case Double d -> "float " + d;
            case Boolean b -> b ? "True" : "False";
            case byte[] b -> "bytes of " + b.length;
            case Global g -> "global " + g;
            case StorageRef s -> "storage '" + s.key() + "'";
            case TensorRef t -> "tensor";
            case Opaque op -> "a value built by " + op.describe();
            default -> o.toString();
        };
    }
}
