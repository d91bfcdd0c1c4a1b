package dev.lookupffn.pytorch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.LookupFfnException;
import dev.lookupffn.LookupFfnException.FormatException;
import dev.lookupffn.pytorch.TorchZipWriter.Bytes;
import dev.lookupffn.pytorch.TorchZipWriter.Call;
import dev.lookupffn.pytorch.TorchZipWriter.Entry;
import dev.lookupffn.pytorch.TorchZipWriter.OrderedDict;
import dev.lookupffn.pytorch.TorchZipWriter.Raw;
import dev.lookupffn.pytorch.TorchZipWriter.Storage;
import dev.lookupffn.pytorch.TorchZipWriter.TensorRef;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile and broken checkpoints: each is a FormatException naming the file and what is wrong; nothing is
 * executed, nothing overflows the stack, memory stays bounded by the file.
 */
class HostileCheckpointTest {
    @TempDir
    Path tmp;

    static Storage floats(String key, float... v) {
        return new Storage(key, DType.F32, v.length, "cpu", Bytes.ofFloats(v));
    }

    /** A state dict with one good tensor and {@code extra} added under key 'x'. */
    static OrderedDict stateDict(Object extra) {
        OrderedDict sd = new OrderedDict();
        sd.put("good", TensorRef.contiguous(floats("0", 1, 2, 3, 4), 0, 2, 2));
        sd.put("x", extra);
        return sd;
    }

    FormatException refused(Path file, String... fragments) {
        FormatException e = assertThrows(FormatException.class, () -> TorchCheckpoint.open(file).close());
        assertTrue(e.getMessage().contains(file.toString()), "names the file: " + e.getMessage());
        for (String f : fragments) assertTrue(e.getMessage().contains(f), "says '" + f + "': " + e.getMessage());
        return e;
    }

    Path write(String name, Object top) {
        Path f = tmp.resolve(name);
        TorchZipWriter.write(f, "archive", top);
        return f;
    }

    @Test
    void codeRunningGlobalsAreRefusedAndNothingRuns() {
        Path marker = tmp.resolve("pwned");
        Call system = new Call("posix", "system", List.of("touch " + marker));
        refused(write("posix.ckpt", Map.of("state_dict", stateDict(1L), "callbacks", system)), "posix.system", "nothing was executed");
        refused(write("os.ckpt", stateDict(new Call("os", "system", List.of("touch " + marker)))), "os.system");
        refused(write("eval.ckpt", stateDict(new Call("builtins", "eval", List.of("__import__('os').system('touch x')")))),
                "builtins.eval");
        refused(write("getattr.ckpt", Map.of("state_dict", stateDict(1L), "h", new Call("builtins", "getattr", List.of("a", "b")))),
                "builtins.getattr");
        refused(write("subprocess.ckpt", stateDict(new Call("subprocess", "Popen", List.of("ls")))), "subprocess.Popen");
        assertFalse(Files.exists(marker));
    }

    @Test
    void anUnknownCallableIsOpaqueOutsideTheStateDictAndAnErrorWhereATensorShouldBe() {
        // outside the state dict: kept as an opaque value, the tensors load
        Path ok = write("ok.ckpt", Map.of("state_dict", stateDict(7L), "hyper_parameters",
                new Call("argparse", "Namespace", List.of()), "pytorch-lightning_version", "1.9.4"));
        try (TorchCheckpoint c = TorchCheckpoint.open(ok)) {
            assertEquals(List.of("good"), c.names());
            assertEquals(4f, c.tensor("good").getFloat(3));
        }
        // where a tensor should be: refused, naming the callable and the entry
        refused(write("reduce.ckpt", stateDict(new Call("mymodule", "make_tensor", List.of(1L)))), "'x'", "mymodule.make_tensor");
        // a state dict that is itself built by an unknown callable
        refused(write("sd.ckpt", Map.of("state_dict", new Call("mymodule", "MyDict", List.of()))), "mymodule.MyDict");
        // a tensor rebuilt from something that is not a storage
        Call fake = new Call("torch._utils", "_rebuild_tensor_v2",
                List.of(new Call("evil", "storage", List.of()), 0L, List.of(), List.of(), false));
        refused(write("fake.ckpt", stateDict(fake)), "evil.storage", "not a torch storage");
    }

    @Test
    void storagesPastTheEndOfTheirEntryAndHugeClaimsAreRefused() {
        // the pickle claims 10 GB of floats for a 16-byte entry
        Storage tenGb = new Storage("0", DType.F32, 2_500_000_000L, "cuda:0", Bytes.ofFloats(new float[4]));
        OrderedDict sd = new OrderedDict();
        sd.put("w", TensorRef.contiguous(tenGb, 0, 50_000, 50_000));
        refused(write("10gb.ckpt", sd), "'w'", "holds 16 bytes", "2500000000");
        // a view past the end of its storage (offset + size)
        OrderedDict past = new OrderedDict();
        past.put("w", TensorRef.contiguous(floats("0", 1, 2, 3, 4), 2, 2, 2));
        refused(write("past.ckpt", past), "'w'", "reach element 5", "holds 4");
        // a stride that walks out of the storage
        OrderedDict stride = new OrderedDict();
        stride.put("w", new TensorRef(floats("0", 1, 2, 3, 4), 0, new long[] {2, 2}, new long[] {1, 3}));
        refused(write("stride.ckpt", stride), "'w'", "reach element 4");
        // a broadcast (stride 0) view larger than its storage is not materialised
        OrderedDict broadcast = new OrderedDict();
        broadcast.put("w", new TensorRef(floats("0", 1, 2), 0, new long[] {100_000, 2}, new long[] {0, 1}));
        refused(write("broadcast.ckpt", broadcast), "'w'", "contiguous");
        // a storage key naming another entry of the zip
        refused(write("key.ckpt", Map.of("state_dict", stateDict(TensorRef.contiguous(
                new Storage("../version", DType.F32, 1, "cpu", Bytes.ofFloats(new float[1])), 0, 1)))), "not a plain name");
    }

    @Test
    void aTransposedTensorIsCopiedAndSharedStoragesStayShared() {
        Storage s = floats("0", 1, 2, 3, 4, 5, 6);
        OrderedDict sd = new OrderedDict();
        sd.put("t", new TensorRef(s, 0, new long[] {3, 2}, new long[] {1, 3})); // the transpose of [[1,2,3],[4,5,6]]
        sd.put("a", TensorRef.contiguous(s, 0, 3));
        sd.put("b", TensorRef.contiguous(s, 3, 3));
        sd.put("c", TensorRef.contiguous(s, 0, 3));
        try (TorchCheckpoint c = TorchCheckpoint.open(write("views.ckpt", sd))) {
            assertTrue(Arrays.equals(new float[] {1, 4, 2, 5, 3, 6}, c.tensor("t").toFloatArray()));
            assertTrue(Arrays.equals(new float[] {4, 5, 6}, c.tensor("b").toFloatArray()));
            assertEquals(c.tensor("a").segment().address(), c.tensor("c").segment().address());
            assertEquals(c.tensor("a").segment().address() + 12, c.tensor("b").segment().address());
        }
    }

    @Test
    void recursionBombsAreBoundedErrors() {
        // 200 000 nested MARKs
        byte[] marks = new byte[200_000];
        Arrays.fill(marks, (byte) '(');
        refused(write("marks.ckpt", new Raw(marks)), "nested MARKs");
        // a tuple nested 200 000 deep with a constant stack: N, then TUPLE1 over and over
        ByteArrayOutputStream deep = new ByteArrayOutputStream();
        deep.write('N');
        for (int i = 0; i < 200_000; i++) deep.write(0x85);
        refused(write("deep.ckpt", Map.of("state_dict", stateDict(1L), "deep", new Raw(deep.toByteArray()))), "deeper than");
        // a list that contains itself is plain data: loads, nothing recurses
        byte[] self = {']', 'q', 0, 'h', 0, 'a'}; // l = []; l.append(l)
        try (TorchCheckpoint c = TorchCheckpoint.open(write("self.ckpt", Map.of("state_dict", stateDict(1L), "loop", new Raw(self))))) {
            assertEquals(List.of("good"), c.names());
        }
        // the stack grown past its limit by a million DUPs
        byte[] dups = new byte[1 + (1 << 20)];
        Arrays.fill(dups, (byte) '2');
        dups[0] = 'N';
        refused(write("dups.ckpt", new Raw(dups)), "stack");
    }

    @Test
    void zipBombsAndCompressedStoragesAreRefused() throws Exception {
        byte[] pickle = TorchZipWriter.pickle(stateDict(1L));
        Storage s = floats("0", 1, 2, 3, 4);
        // data.pkl deflated, declaring 1 KB but inflating to 32 MB of zeros (32 KB compressed)
        byte[] bomb = TorchZipWriter.deflate(new byte[32 << 20]);
        Path f1 = tmp.resolve("bomb.ckpt");
        TorchZipWriter.writeZip(f1, List.of(new Entry("archive/data.pkl", Bytes.of(bomb), 8, 1024),
                Entry.stored("archive/data/0", s.bytes()), Entry.stored("archive/version", Bytes.of("3\n".getBytes()))));
        refused(f1, "inflates to more than its declared 1024 bytes");
        // declaring 4 GB (about the most a zip32 entry can claim): refused before inflating anything
        Path f2 = tmp.resolve("bomb4g.ckpt");
        TorchZipWriter.writeZip(f2, List.of(new Entry("archive/data.pkl", Bytes.of(bomb), 8, 0xF0000000L),
                Entry.stored("archive/data/0", s.bytes()), Entry.stored("archive/version", Bytes.of("3\n".getBytes()))));
        refused(f2, "more than the");
        // an honest deflated pickle is fine; a deflated storage is refused with the reason
        Path f3 = tmp.resolve("deflated.ckpt");
        TorchZipWriter.writeZip(f3, List.of(new Entry("archive/data.pkl", Bytes.of(TorchZipWriter.deflate(pickle)), 8, pickle.length),
                new Entry("archive/data/0", Bytes.of(TorchZipWriter.deflate(new byte[16])), 8, 16),
                Entry.stored("archive/version", Bytes.of("3\n".getBytes()))));
        refused(f3, "archive/data/0", "compressed");
    }

    @Test
    void legacyAndForeignFormatsAreNamed() throws Exception {
        Path legacy = tmp.resolve("old.pt");
        Files.write(legacy, new byte[] {(byte) 0x80, 2, (byte) 0x8a, 10, 0x6c, (byte) 0xfc, (byte) 0x9c, 0x46, (byte) 0xf9, 0x20, 0x6a,
                (byte) 0xa8, 0x50, 0x19, 0x2e});
        refused(legacy, "torch < 1.6");
        Path tar = tmp.resolve("older.pt");
        byte[] t = new byte[1024];
        System.arraycopy("ustar".getBytes(StandardCharsets.US_ASCII), 0, t, 257, 5);
        Files.write(tar, t);
        refused(tar, "torch < 1.6", "tar");
        Path text = tmp.resolve("notes.bin");
        Files.writeString(text, "hello");
        refused(text, "not a PyTorch checkpoint");
        Path zipNoPickle = tmp.resolve("plain.zip");
        TorchZipWriter.writeZip(zipNoPickle, List.of(Entry.stored("a/b.txt", Bytes.of(new byte[3]))));
        refused(zipNoPickle, "data.pkl");
    }

    @Test
    void everyTruncationOfARealCheckpointIsAFormatException() throws Exception {
        byte[] full = Files.readAllBytes(Path.of("tests/resources/fixtures/authors-checkpoints/pub-dense/pytorch_model.bin"));
        Random rnd = new Random(1);
        for (int i = 0; i < 60; i++) {
            int len = i < 30 ? rnd.nextInt(full.length) : full.length - 1 - rnd.nextInt(200);
            Path f = tmp.resolve("cut" + i + ".bin");
            Files.write(f, Arrays.copyOf(full, len));
            assertThrows(FormatException.class, () -> TorchCheckpoint.open(f).close(), "cut at " + len);
        }
    }

    @Test
    void flippedBytesNeverEscapeAsAnotherException() throws Exception {
        byte[] full = Files.readAllBytes(Path.of("tests/resources/fixtures/authors-checkpoints/pub-bh4r2/pytorch_model.bin"));
        Random rnd = new Random(2);
        Path f = tmp.resolve("flipped.bin");
        int pickleEnd = 8000; // the pickle and the first headers sit at the start
        for (int i = 0; i < 120; i++) {
            byte[] b = full.clone();
            for (int k = 0; k < 3; k++) {
                int at = i % 2 == 0 ? rnd.nextInt(pickleEnd) : full.length - 1 - rnd.nextInt(4000); // directory at the end
                b[at] = (byte) rnd.nextInt(256);
            }
            Files.write(f, b);
            try (TorchCheckpoint c = TorchCheckpoint.open(f)) {
                for (Tensor t : c.tensors().values()) if (t.elementCount() > 0) t.getFloat(t.elementCount() - 1);
            } catch (LookupFfnException expected) {
                // a typed error is the right answer
            }
        }
    }

    @Test
    void nonTensorStateDictEntriesAreSkipped() {
        Map<String, Object> extra = new LinkedHashMap<>();
        extra.put("_extra_state", null);
        OrderedDict sd = stateDict(List.of(1L, 2L));
        sd.put("flag", true);
        sd.put("nested", extra);
        try (TorchCheckpoint c = TorchCheckpoint.open(write("extra.ckpt", sd))) {
            assertEquals(List.of("good"), c.names());
            assertThrows(FormatException.class, () -> c.tensor("x"));
        }
    }
}
