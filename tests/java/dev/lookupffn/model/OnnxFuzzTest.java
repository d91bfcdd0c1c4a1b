package dev.lookupffn.model;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.lookupffn.LookupFfnException;
import dev.lookupffn.onnx.OnnxModel;
import java.io.ByteArrayInputStream;

/**
 * Any bytes as an ONNX file: the protobuf reader and the encoder import either succeed or fail with a typed
 * LookupFfnException. Seeds: tests/resources/dev/lookupffn/model/OnnxFuzzTestInputs/.
 */
class OnnxFuzzTest {
    @FuzzTest(maxDuration = "60s")
    void importAnyBytes(FuzzedDataProvider data) {
        byte[] bytes = data.consumeRemainingAsBytes();
        try (OnnxModel m = OnnxModel.read(new ByteArrayInputStream(bytes), "fuzz.onnx")) {
            OnnxImport.importEncoder(m).tensors().values().forEach(t -> t.close());
        } catch (LookupFfnException expected) {
            // a typed error is the correct answer to a bad file
        }
    }
}
