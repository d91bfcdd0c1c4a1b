package dev.lookupffn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.cli.LayerCommandTest.Run;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** bench's argument checks: every bad size is a usage error naming the option and its range, before any work. */
class BenchCommandTest {
    @TempDir
    Path dir;

    /** A seconds-long run: bench with tiny sizes, each replaced by {@code options} (pairs of option and value). */
    static Run bench(String... options) {
        Map<String, String> values = new LinkedHashMap<>(Map.of("--tokens", "16", "--dim", "16", "--ffn", "16", "--tables", "2",
                "--block", "16", "--repetitions", "1", "--warmup", "0", "--only", "lookupffn"));
        for (int i = 0; i < options.length; i += 2) values.put(options[i], options[i + 1]);
        List<String> args = new ArrayList<>(List.of("bench", "--no-progress"));
        values.forEach((k, v) -> args.addAll(List.of(k, v)));
        return LayerCommandTest.run(args.toArray(String[]::new));
    }

    @Test
    void badSizesExit2WithTheOptionAndItsRange() {
        String[][] cases = {
                {"--tokens", "0", "--tokens must be in 1..16777216"}, {"--tokens", "-5", "--tokens must be in 1.."},
                {"--dim", "0", "--dim must be in 1..65536"}, {"--dim", "1000000000", "--dim must be in 1..65536"},
                {"--ffn", "0", "--ffn must be in 1.."}, {"--ffn", "99999999999", "--ffn must be in 1.."},
                {"--tables", "0", "--tables must be in 1.."}, {"--table-rows", "3", "--table-rows must be a power of two in 2..65536"},
                {"--table-rows", "131072", "--table-rows must be a power of two"}, {"--block", "3", "--block must be a power of two in 1..16"},
                {"--block", "32", "--block must be a power of two in 1..16"}, {"--block", "0", "--block must be"},
                {"--threads", "0", "--threads must be in 1..1024"}, {"--threads", "35000", "--threads must be in 1..1024"},
                {"--repetitions", "0", "--repetitions must be in 1.."}, {"--warmup", "-1", "--warmup must be in 0.."}};
        for (String[] c : cases) {
            Run r = bench(c[0], c[1]);
            assertEquals(2, r.code(), c[0] + " " + c[1] + ": " + r.err());
            assertTrue(r.err().contains(c[2]), c[0] + " " + c[1] + ": " + r.err());
            assertTrue(r.err().contains("Usage:"), r.err());
            assertFalse(r.err().contains("Config["), "a record dump instead of a message: " + r.err());
            assertEquals("", r.out(), "nothing ran");
        }
    }

    @Test
    void sizesBeyondThisMachinesMemoryExit2BeforeAllocating() {
        Run r = bench("--tokens", "16777216", "--dim", "65536");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("GiB") && r.err().contains("more than this machine"), r.err());
        assertFalse(r.err().contains("Config["), r.err());
    }

    @Test
    void aMissingOutputFolderIsFoundBeforeMeasuring() {
        Path json = dir.resolve("no/such/bench.json");
        Run r = bench("--json", json.toString());
        assertEquals(1, r.code(), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("does not exist"), r.err());
        assertEquals("", r.out(), "the benchmark ran before the check");
        assertFalse(Files.exists(dir.resolve("no")));
    }

    @Test
    void aTinyRunWritesItsJsonThroughASymlink() throws Exception {
        Path real = Files.writeString(dir.resolve("real.json"), "old"), link = Files.createSymbolicLink(dir.resolve("b.json"), real);
        Run r = bench("--json", link.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.isSymbolicLink(link));
        assertTrue(Files.readString(real).contains("\"rows\""), Files.readString(real));
    }
}
