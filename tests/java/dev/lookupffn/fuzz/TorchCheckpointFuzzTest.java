package dev.lookupffn.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.lookupffn.LookupFfnException;
import dev.lookupffn.pytorch.TorchCheckpoint;
import dev.lookupffn.pytorch.TorchZipWriter;
import dev.lookupffn.pytorch.TorchZipWriter.Bytes;
import dev.lookupffn.pytorch.TorchZipWriter.Entry;
import dev.lookupffn.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * PyTorch checkpoints from any bytes: the zip reader and the restricted unpickler either succeed (and every tensor
 * reads back within its storage) or fail with a typed LookupFfnException; anything else — another exception, a
 * crash, a stack overflow, an unbounded allocation — is a finding. {@code openAnyBytes} takes the bytes as the
 * whole file; {@code unpickleAnyBytes} as the pickle of a well-formed zip with a few storages, so mutations reach
 * the unpickler. Seeds: tests/resources/dev/lookupffn/fuzz/TorchCheckpointFuzzTestInputs/.
 */
class TorchCheckpointFuzzTest {
    @FuzzTest(maxDuration = "60s")
    void openAnyBytes(FuzzedDataProvider data) throws IOException {
        Path file = Files.createTempFile("fuzz", ".ckpt");
        try {
            Files.write(file, data.consumeRemainingAsBytes());
            readAll(file);
        } finally {
            Files.deleteIfExists(file);
        }
    }

    @FuzzTest(maxDuration = "60s")
    void unpickleAnyBytes(FuzzedDataProvider data) throws IOException {
        Path file = Files.createTempFile("fuzz", ".ckpt");
        try {
            byte[] pickle = data.consumeRemainingAsBytes();
            TorchZipWriter.writeZip(file, List.of(Entry.stored("archive/data.pkl", Bytes.of(pickle)),
                    Entry.stored("archive/data/0", Bytes.ofFloats(new float[] {1, 2, 3, 4, 5, 6})),
                    Entry.stored("archive/data/1", Bytes.of(new byte[64])),
                    Entry.stored("archive/version", Bytes.of("3\n".getBytes()))));
            readAll(file);
        } finally {
            Files.deleteIfExists(file);
        }
    }

    private static void readAll(Path file) {
        try (TorchCheckpoint c = TorchCheckpoint.open(file)) {
            for (Tensor t : c.tensors().values()) if (t.elementCount() > 0) t.getFloat(t.elementCount() - 1);
        } catch (LookupFfnException expected) {
            // a typed error is the correct answer to a bad file
        }
    }
}
