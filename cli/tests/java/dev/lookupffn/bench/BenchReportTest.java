package dev.lookupffn.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The benchmark's JSON report goes through the library's output files: devices in place, no folders created. */
class BenchReportTest {
    @TempDir
    Path dir;

    /** As root a device node of our own (never the system's /dev/null: a regression would destroy it); else /dev/null. */
    @Test
    void aCharacterDeviceIsWrittenInPlace() throws Exception {
        boolean root = "0".equals(new String(new ProcessBuilder("id", "-u").start().getInputStream().readAllBytes()).strip());
        Path device = root ? dir.resolve("null") : Path.of("/dev/null");
        if (root) assertEquals(0, new ProcessBuilder("mknod", device.toString(), "c", "1", "3").start().waitFor(), "mknod");
        BenchReport.writeJson(new ObjectMapper().createObjectNode().put("x", 1), device);
        assertTrue(Files.readAttributes(device, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).isOther(),
                device + " was replaced by a regular file");
        try (var names = Files.list(dir)) {
            assertEquals(root ? 1 : 0, names.count(), "a temp file was left behind");
        }
    }

    @Test
    void aMissingFolderIsAnErrorAndIsNotCreated() {
        Path out = dir.resolve("missing/sub/bench.json");
        var e = assertThrows(IOException.class, () -> BenchReport.writeJson(new ObjectMapper().createObjectNode(), out));
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
        assertFalse(Files.exists(dir.resolve("missing")), "the folder was created");
    }
}
