package dev.lookupffn.model;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.lookupffn.LookupFfnException;
import dev.lookupffn.tensor.DType;
import dev.lookupffn.tensor.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A model file written by {@code convert --dtype int8} (the pre-norm encoder fixture), with bytes overwritten
 * where the fuzzer says — in the JSON header (names, dtypes, shapes, offsets, the metadata's dtype) or anywhere in
 * the data (int8 values, scales) — either loads and runs (its outputs may be NaN) or fails with a typed
 * LookupFfnException; anything else, a crash above all, is a finding.
 * Seeds: tests/resources/dev/lookupffn/model/CompactModelFuzzTestInputs/.
 */
class CompactModelFuzzTest {
    private static byte[] valid;

    /** The fixture converted to int8 tables, made once per JVM. */
    private static synchronized byte[] validInt8File() {
        if (valid == null) {
            try {
                Path file = Files.createTempFile("compact", ".safetensors");
                try {
                    CompactTablesTest.convert(file, DType.I8);
                    valid = Files.readAllBytes(file);
                } finally {
                    Files.deleteIfExists(file);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return valid;
    }

    @FuzzTest(maxDuration = "60s")
    void loadAnyDamagedInt8Model(FuzzedDataProvider data) throws IOException {
        byte[] bytes = validInt8File().clone();
        long headerEnd = 8 + ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        int patches = data.consumeInt(1, 8);
        for (int i = 0; i < patches && data.remainingBytes() > 0; i++) {
            int at = data.consumeBoolean() ? data.consumeInt(0, (int) headerEnd - 1) : data.consumeInt(0, bytes.length - 1);
            bytes[at] = data.consumeByte();
        }
        Path file = Files.createTempFile("fuzz", ".safetensors");
        try {
            Files.write(file, bytes);
            try (TransformerEncoder enc = Encoder.fromSafetensors(file, null);
                 Tensor out = enc.forward(Batch.single(0, 7, 42, 2))) {
                out.toFloatArray();
                enc.lookupTableBytes();
            } catch (LookupFfnException expected) {
                // a typed error is the correct answer to a bad file
            }
        } finally {
            Files.deleteIfExists(file);
        }
    }
}
