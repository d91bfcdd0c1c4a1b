package dev.lookupffn.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lookupffn.cli.Main;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bench --embed --model}: a model folder without an .onnx file runs ours alone and says why; with a
 * model.onnx beside the weights, ONNX Runtime runs that file and its embeddings match ours.
 */
class EmbedBenchModelTest {
    @TempDir
    Path dir;

    record Result(int code, String out, String err, JsonNode json) {}

    Result bench(Path model) throws Exception {
        Path json = dir.resolve("bench.json");
        Files.deleteIfExists(json);
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = Main.run(new String[] {"bench", "--embed", "--no-progress", "--model", model.toString(), "--texts", "6",
                "--repetitions", "1", "--warmup", "0", "--threads", "2", "--json", json.toString()},
                new PrintWriter(out, true), new PrintWriter(err, true));
        return new Result(code, out.toString(), err.toString(), code == 0 ? new ObjectMapper().readTree(json.toFile()) : null);
    }

    static List<String> rows(JsonNode json) {
        List<String> names = new ArrayList<>();
        for (JsonNode row : json.get("rows")) names.add(row.get("name").asText() + "/" + row.get("mode").asText());
        return names;
    }

    @Test
    void aFolderWithoutOnnxRunsOursAloneAndWithOnnxSideBySide() throws Exception {
        Path folder = dir.resolve("minilm");
        HfFolderTest.writeFolder(folder, "");
        Result r = bench(folder);
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains(folder + " has no .onnx file (model.onnx or onnx/model.onnx): ONNX Runtime cannot run it; our rows alone"), r.out());
        assertEquals(List.of("ours/one", "ours/batch"), rows(r.json()));

        try (InputStream in = Encoder.class.getResourceAsStream(Encoder.DEFAULT_MODEL_RESOURCE)) {
            Files.copy(in, folder.resolve("model.onnx"));
        }
        r = bench(folder);
        assertEquals(0, r.code(), r.err());
        assertTrue(r.json().get("ort_missing").isNull(), r.out());
        assertEquals(List.of("ours/one", "ort/one", "ours/batch", "ort/batch"), rows(r.json()));
        for (JsonNode row : r.json().get("rows"))
            if (row.get("name").asText().equals("ours"))
                assertTrue(row.get("worst_cosine_vs_ort").asDouble() >= 0.99999, row.toString());
    }
}
