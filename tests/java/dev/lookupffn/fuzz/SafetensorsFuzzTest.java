package dev.lookupffn.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.lookupffn.LookupFfnException;
import dev.lookupffn.safetensors.SafetensorsFile;
import dev.lookupffn.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Any byte string as a safetensors file: it either opens (and every tensor it lists reads back within its
 * declared size) or fails with a typed LookupFfnException. Anything else — another exception, a crash, an
 * unbounded allocation — is a finding. Seeds: tests/resources/dev/lookupffn/fuzz/SafetensorsFuzzTestInputs/.
 */
class SafetensorsFuzzTest {
    @FuzzTest(maxDuration = "60s")
    void openAnyBytes(FuzzedDataProvider data) throws IOException {
        Path file = Files.createTempFile("fuzz", ".safetensors");
        try {
            Files.write(file, data.consumeRemainingAsBytes());
            try (SafetensorsFile f = SafetensorsFile.open(file)) {
                for (String name : f.names()) {
                    Tensor t = f.tensor(name);
                    if (t.elementCount() > 0) t.getFloat(t.elementCount() - 1);
                }
            } catch (LookupFfnException expected) {
                // a typed error is the correct answer to a bad file
            }
        } finally {
            Files.deleteIfExists(file);
        }
    }
}
