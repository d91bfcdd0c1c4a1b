package dev.lookupffn.pytorch;

import dev.lookupffn.LookupFfnException.FormatException;
import dev.lookupffn.pytorch.Py.Dict;
import dev.lookupffn.pytorch.Py.Opaque;
import dev.lookupffn.pytorch.Py.StorageRef;
import dev.lookupffn.pytorch.Py.TensorRef;
import dev.lookupffn.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A PyTorch checkpoint in torch's zip serialization ({@code torch.save} since torch 1.6): a Lightning
 * {@code .ckpt} (the model under {@code state_dict}) or a plain state dict such as {@code pytorch_model.bin}.
 * The file is memory-mapped; its pickle is read by {@link Unpickler}, which runs no code. Only the tensors of
 * the state dict are resolved — as zero-copy views of the zip's stored entries (a non-contiguous tensor is copied
 * once) — so a checkpoint's optimizer state costs neither heap nor native memory. Tensors sharing a storage
 * share memory. Storage device tags ({@code cuda:0}, …) are ignored: everything is on the CPU.
 *
 * <p>Every size the pickle claims is checked against the zip entry that holds it; anything inconsistent, and any
 * value in the state dict built by a callable that is not on the allow-list, is a {@link FormatException} naming
 * the file. The views stay valid until {@link #close()}.
 */
public final class TorchCheckpoint implements AutoCloseable {
    /** Largest pickle accepted (a Lightning checkpoint's is well under a megabyte; the tensors are not in it). */
    public static final long MAX_PICKLE_BYTES = 64L << 20;

    private final Path path;
    private final Arena arena;
    private final String root;
    private final List<String> topLevelKeys;
    private final Map<String, Tensor> tensors;

    private TorchCheckpoint(Path path, Arena arena, String root, List<String> topLevelKeys, Map<String, Tensor> tensors) {
        this.path = path;
        this.arena = arena;
        this.root = root;
        this.topLevelKeys = topLevelKeys;
        this.tensors = tensors;
    }

    /** Opens, reads the pickle and resolves the state dict's tensors; the caller closes it. */
    public static TorchCheckpoint open(Path path) {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size == 0) throw new FormatException(path + ": empty file, not a PyTorch checkpoint");
            MemorySegment file = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            checkMagic(path, file);
            String source = path.toString();
            ZipArchive zip = ZipArchive.read(source, file);
            String root = rootOf(source, zip);
            checkSmallEntries(source, zip, root);
            ZipArchive.Entry pkl = zip.entry(root + "/data.pkl");
            Object top = Unpickler.load(source + " (" + pkl.name() + ")", zip.read(pkl, MAX_PICKLE_BYTES));
            List<String> keys = new ArrayList<>();
            Dict stateDict = stateDict(source, top, keys);
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (var e : stateDict.items.entrySet()) {
                if (!(e.getKey() instanceof String name))
                    throw new FormatException(source + ": state_dict key " + Unpickler.describe(e.getKey()) + " is not a string");
                switch (e.getValue()) {
                    case TensorRef t -> tensors.put(name, resolve(source, zip, root, name, t, arena));
                    case Opaque o -> throw new FormatException(source + ": state_dict entry '" + name + "' is built by "
                            + o.describe() + ", which is not an allow-listed torch function; refusing it (nothing was executed)");
                    default -> { } // non-tensor entries (e.g. _extra_state) carry no weights
                }
            }
            return new TorchCheckpoint(path, arena, root, Collections.unmodifiableList(keys),
                    Collections.unmodifiableMap(tensors));
        } catch (NoSuchFileException e) {
            arena.close();
            throw new FormatException(path + ": no such file", e);
        } catch (IOException e) {
            arena.close();
            throw new FormatException(path + ": cannot read: " + e.getMessage(), e);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    private static void checkMagic(Path path, MemorySegment file) {
        long n = file.byteSize();
        int b0 = file.get(ValueLayout.JAVA_BYTE, 0) & 0xFF;
        if (n >= 4 && b0 == 'P' && file.get(ValueLayout.JAVA_BYTE, 1) == 'K') return;
        boolean tar = n > 262 && new String(file.asSlice(257, 5).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.ISO_8859_1).equals("ustar");
        if (b0 == 0x80 || tar)
            throw new FormatException(path + ": a checkpoint in torch's legacy (pre-zip" + (tar ? ", tar" : "")
                    + ") format, written by torch < 1.6 or with _use_new_zipfile_serialization=False; it is not supported:"
                    + " re-save it with torch >= 1.6 (torch.save(torch.load(f), f2))");
        throw new FormatException(path + ": not a PyTorch checkpoint (no zip signature)");
    }

    /** The archive's root folder: torch names it 'archive' (Lightning) or after the file's stem. */
    private static String rootOf(String source, ZipArchive zip) {
        List<String> roots = new ArrayList<>();
        for (String name : zip.entries().keySet()) {
            int slash = name.indexOf('/');
            if (slash > 0 && name.indexOf('/', slash + 1) < 0 && name.endsWith("/data.pkl"))
                roots.add(name.substring(0, slash));
        }
        if (roots.isEmpty()) throw new FormatException(source + ": a zip file without <root>/data.pkl, not a PyTorch checkpoint");
        if (roots.size() > 1) throw new FormatException(source + ": several pickles in one zip: " + roots);
        return roots.getFirst();
    }

    private static void checkSmallEntries(String source, ZipArchive zip, String root) {
        ZipArchive.Entry order = zip.entry(root + "/byteorder");
        if (order != null) {
            String s = new String(zip.read(order, 16), StandardCharsets.US_ASCII).trim();
            if (!s.equals("little"))
                throw new FormatException(source + ": storages are stored " + s + "-endian; only little-endian is supported");
        }
        ZipArchive.Entry version = zip.entry(root + "/version");
        if (version == null) throw new FormatException(source + ": no " + root + "/version entry, not a PyTorch checkpoint");
        String v = new String(zip.read(version, 64), StandardCharsets.US_ASCII).trim();
        if (!v.matches("[0-9]{1,4}")) throw new FormatException(source + ": " + root + "/version holds '" + v + "', not a number");
    }

    /** A Lightning checkpoint's {@code state_dict}, or the pickled object itself when it is the state dict. */
    private static Dict stateDict(String source, Object top, List<String> keys) {
        if (top instanceof Opaque o)
            throw new FormatException(source + ": the checkpoint is built by " + o.describe()
                    + ", which is not an allow-listed torch function; refusing it (nothing was executed)");
        if (!(top instanceof Dict d))
            throw new FormatException(source + ": the checkpoint holds " + Unpickler.describe(top) + ", not a dict of tensors");
        for (Object k : d.items.keySet()) if (k instanceof String s) keys.add(s);
        if (!d.items.containsKey("state_dict")) return d;
        Object sd = d.items.get("state_dict");
        if (sd instanceof Dict inner) return inner;
        if (sd instanceof Opaque o)
            throw new FormatException(source + ": state_dict is built by " + o.describe()
                    + ", which is not an allow-listed torch function; refusing it (nothing was executed)");
        throw new FormatException(source + ": state_dict is " + Unpickler.describe(sd) + ", not a dict");
    }

    /** A view of one tensor of the state dict: its storage's zip entry, offset, size and stride all checked. */
    private static Tensor resolve(String source, ZipArchive zip, String root, String name, TensorRef t, Arena arena) {
        StorageRef s = t.storage();
        String where = source + ": tensor '" + name + "'";
        String entryName = root + "/data/" + s.key();
        ZipArchive.Entry entry = zip.entry(entryName);
        if (entry == null) throw new FormatException(where + ": its storage " + entryName + " is not in the zip");
        int es = s.dtype().byteSize();
        long storageBytes = s.numel() * es; // the unpickler checked it does not overflow
        if (entry.size() < storageBytes)
            throw new FormatException(where + ": storage " + entryName + " holds " + entry.size() + " bytes, but the pickle claims "
                    + s.numel() + " " + s.dtype() + " elements (" + storageBytes + " bytes)");
        MemorySegment storage = zip.stored(entry).asSlice(0, storageBytes);
        long[] size = t.size(), stride = t.stride();
        long numel = 1, last = t.offset();
        try {
            for (int i = 0; i < size.length; i++) {
                numel = Math.multiplyExact(numel, size[i]);
                if (size[i] > 0) last = Math.addExact(last, Math.multiplyExact(size[i] - 1, stride[i]));
            }
        } catch (ArithmeticException e) {
            throw new FormatException(where + ": size " + Arrays.toString(size) + " / stride " + Arrays.toString(stride) + " overflow");
        }
        if (numel == 0) return Tensor.wrap(storage.asSlice(0, 0), s.dtype(), size);
        if (last >= s.numel())
            throw new FormatException(where + ": size " + Arrays.toString(size) + ", stride " + Arrays.toString(stride)
                    + " and offset " + t.offset() + " reach element " + last + " of storage " + entryName + ", which holds "
                    + s.numel());
        long expected = 1;
        boolean contiguous = true;
        for (int i = size.length - 1; i >= 0; i--) {
            if (size[i] != 1 && stride[i] != expected) contiguous = false;
            expected *= size[i];
        }
        if (contiguous) return Tensor.wrap(storage.asSlice(t.offset() * es, numel * es), s.dtype(), size);
        // a transposed or sliced tensor: copied once; a broadcast (stride 0) view would need more memory than its
        // storage, which a hostile file could make arbitrarily large
        if (numel > s.numel())
            throw new FormatException(where + ": a non-contiguous view with more elements (" + numel + ") than its storage ("
                    + s.numel() + "), e.g. a stride-0 broadcast; save it after .contiguous()");
        Tensor copy = Tensor.allocate(arena, s.dtype(), size);
        MemorySegment dst = copy.segment();
        long[] index = new long[size.length];
        for (long k = 0; k < numel; k++) {
            long src = t.offset();
            for (int i = 0; i < size.length; i++) src += index[i] * stride[i];
            MemorySegment.copy(storage, src * es, dst, k * es, es);
            for (int i = size.length - 1; i >= 0; i--) {
                if (++index[i] < size[i]) break;
                index[i] = 0;
            }
        }
        return copy;
    }

    public Path path() {
        return path;
    }

    /** The zip's root folder ('archive' for Lightning, the file's stem for torch.save(obj, path)). */
    public String root() {
        return root;
    }

    /** String keys of the pickled top-level dict (e.g. epoch, state_dict, optimizer_states for Lightning). */
    public List<String> topLevelKeys() {
        return topLevelKeys;
    }

    /** True for a Lightning checkpoint (the model's tensors are under its 'state_dict'). */
    public boolean isLightning() {
        return topLevelKeys.contains("state_dict") && topLevelKeys.contains("pytorch-lightning_version");
    }

    /** Names of the state dict's tensors, in the file's order. */
    public List<String> names() {
        return List.copyOf(tensors.keySet());
    }

    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /** A view of a tensor (valid until close); a missing name is a FormatException. */
    public Tensor tensor(String name) {
        Tensor t = tensors.get(name);
        if (t == null) throw new FormatException(path + ": no tensor named '" + name + "' in the state_dict");
        if (!arena.scope().isAlive()) throw new IllegalStateException(path + ": checkpoint is closed");
        return t;
    }

    /** All tensors of the state dict by name (views valid until close). */
    public Map<String, Tensor> tensors() {
        return tensors;
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) arena.close();
    }
}
