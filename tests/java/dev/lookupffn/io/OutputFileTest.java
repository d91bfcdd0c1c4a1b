package dev.lookupffn.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.safetensors.SafetensorsFile;
import dev.lookupffn.safetensors.SafetensorsWriter;
import dev.lookupffn.tensor.Tensor;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Output files: links followed, devices and FIFOs written in place, modes kept, no temp file ever left behind. */
class OutputFileTest {
    @TempDir
    Path dir;

    private static void writeSmall(Path p) {
        try (Tensor t = Tensor.ofFloats(new float[] {1, 2, 3}, 3)) {
            SafetensorsWriter.write(p, Map.of("t", t), Map.of("k", "v"));
        }
    }

    private static float[] readBack(Path p) {
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            return f.floats("t");
        }
    }

    /** Names in {@code dir} that look like one of our temp files. */
    private List<String> temps() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.contains(OutputFile.TEMP_MARK)).toList();
        }
    }

    @Test
    void aSymlinkStaysAndItsTargetIsReplaced() throws IOException {
        Path real = Files.writeString(dir.resolve("real.safetensors"), "old");
        Path link = Files.createSymbolicLink(dir.resolve("out.safetensors"), Path.of("real.safetensors")); // relative
        writeSmall(link);
        assertTrue(Files.isSymbolicLink(link), "the link was replaced by a regular file");
        assertEquals(Path.of("real.safetensors"), Files.readSymbolicLink(link));
        assertArrayEquals(new float[] {1, 2, 3}, readBack(real));
        // a chain of links, the last one dangling: the file it names is created, the links stay
        Path chain = Files.createSymbolicLink(dir.resolve("chain"), link);
        Files.delete(real);
        writeSmall(chain);
        assertTrue(Files.isSymbolicLink(chain) && Files.isSymbolicLink(link));
        assertArrayEquals(new float[] {1, 2, 3}, readBack(real));
        assertEquals(List.of(), temps());
    }

    @Test
    void symlinkLoopsAreAnError() throws IOException {
        Path a = dir.resolve("a"), b = dir.resolve("b");
        Files.createSymbolicLink(a, b);
        Files.createSymbolicLink(b, a);
        var e = assertThrows(UncheckedIOException.class, () -> writeSmall(a));
        assertTrue(e.getMessage().contains("symbolic links"), e.getMessage());
    }

    @Test
    void anExistingFileKeepsItsModeAndANewFileGetsTheUmaskDefault() throws IOException {
        Path out = Files.writeString(dir.resolve("shared.safetensors"), "old");
        Files.setPosixFilePermissions(out, PosixFilePermissions.fromString("rw-r-----"));
        writeSmall(out);
        assertEquals("rw-r-----", PosixFilePermissions.toString(Files.getPosixFilePermissions(out)));
        Files.setPosixFilePermissions(out, PosixFilePermissions.fromString("rwxrwxr-x"));
        writeSmall(out);
        assertEquals("rwxrwxr-x", PosixFilePermissions.toString(Files.getPosixFilePermissions(out)));
        Path fresh = dir.resolve("fresh.safetensors"), reference = Files.createFile(dir.resolve("reference"));
        writeSmall(fresh);
        assertEquals(Files.getPosixFilePermissions(reference), Files.getPosixFilePermissions(fresh),
                "a new output gets what any new file gets (0666 & ~umask), not a temp file's 0600");
    }

    @Test
    void aFifoIsWrittenInPlace() throws Exception {
        Path fifo = dir.resolve("pipe.safetensors");
        assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
        CompletableFuture<byte[]> read = CompletableFuture.supplyAsync(() -> {
            try (InputStream in = Files.newInputStream(fifo)) {
                return in.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        writeSmall(fifo);
        byte[] got = read.get(30, TimeUnit.SECONDS);
        assertTrue(Files.readAttributes(fifo, java.nio.file.attribute.BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).isOther(),
                "the FIFO was replaced by a regular file");
        Path regular = dir.resolve("regular.safetensors");
        writeSmall(regular);
        assertArrayEquals(Files.readAllBytes(regular), got);
        assertEquals(List.of(), temps());
    }

    /** As root a device node of our own (never the system's /dev/null: a regression would destroy it); else /dev/null. */
    @Test
    void aCharacterDeviceIsWrittenInPlace() throws Exception {
        boolean root = "0".equals(new String(new ProcessBuilder("id", "-u").start().getInputStream().readAllBytes()).strip());
        Path device = root ? dir.resolve("null") : Path.of("/dev/null");
        if (root) assertEquals(0, new ProcessBuilder("mknod", device.toString(), "c", "1", "3").start().waitFor(), "mknod");
        writeSmall(device);
        assertTrue(Files.readAttributes(device, java.nio.file.attribute.BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).isOther(),
                device + " was replaced by a regular file");
        assertEquals(0, Files.size(device));
        assertEquals(List.of(), temps());
    }

    @Test
    void aMissingFolderIsAnErrorAndIsNotCreated() throws IOException {
        Path out = dir.resolve("missing/sub/out.safetensors");
        var e = assertThrows(UncheckedIOException.class, () -> writeSmall(out));
        assertTrue(e.getMessage().contains("does not exist") && e.getMessage().contains(out.toString()), e.getMessage());
        assertFalse(Files.exists(dir.resolve("missing")), "the folder was created");
        var c = assertThrows(IOException.class, () -> OutputFile.checkWritable(out));
        assertTrue(c.getMessage().contains("does not exist"), c.getMessage());
        Path file = Files.writeString(dir.resolve("file.txt"), "x"), under = file.resolve("o.json");
        var f = assertThrows(IOException.class, () -> OutputFile.write(under, ch -> {}));
        assertEquals("cannot write " + under + ": " + file + " is not a folder", f.getMessage());
    }

    @Test
    void aFailedWriteLeavesTheOldFileAndNoTemp() throws IOException {
        Path out = Files.writeString(dir.resolve("keep.json"), "old");
        var e = assertThrows(IOException.class, () -> OutputFile.write(out, ch -> {
            ch.write(ByteBuffer.wrap(new byte[1 << 20]));
            throw new IOException("disk full (simulated)");
        }));
        assertEquals("cannot write " + out + ": disk full (simulated)", e.getMessage());
        assertEquals("old", Files.readString(out));
        assertEquals(List.of(), temps());
        assertThrows(OutOfMemoryError.class, () -> OutputFile.write(out, ch -> {
            throw new OutOfMemoryError("simulated");
        }));
        assertEquals("old", Files.readString(out));
        assertEquals(List.of(), temps());
    }

    @Test
    void aFolderIsNotAnOutput() throws IOException {
        Path sub = Files.createDirectory(dir.resolve("sub"));
        var e = assertThrows(IOException.class, () -> OutputFile.write(sub, ch -> {}));
        assertTrue(e.getMessage().contains("folder"), e.getMessage());
        assertTrue(Files.isDirectory(sub));
    }

    /** What a SIGKILLed writer left behind is removed by the next write into its folder, never a live or recent writer's temp. */
    @Test
    void abandonedTempsOfKilledWritersAreRemoved() throws Exception {
        Process gone = new ProcessBuilder("true").start();
        gone.waitFor();
        long deadPid = gone.pid(); // exited and reaped
        Path out = dir.resolve("out.json");
        Path abandoned = Files.write(dir.resolve(".out.json" + OutputFile.TEMP_MARK + deadPid + ".abc.tmp"), new byte[4096]);
        Files.setLastModifiedTime(abandoned, FileTime.from(Instant.now().minus(OutputFile.ABANDONED_AFTER).minusSeconds(60)));
        Path recent = Files.write(dir.resolve(".out.json" + OutputFile.TEMP_MARK + deadPid + ".def.tmp"), new byte[10]);
        Path live = Files.write(dir.resolve(".out.json" + OutputFile.TEMP_MARK + ProcessHandle.current().pid() + ".ghi.tmp"), new byte[10]);
        Files.setLastModifiedTime(live, FileTime.from(Instant.now().minus(OutputFile.ABANDONED_AFTER).minusSeconds(60)));
        Path other = Files.write(dir.resolve(".other.json" + OutputFile.TEMP_MARK + deadPid + ".jkl.tmp"), new byte[10]);
        Files.setLastModifiedTime(other, FileTime.from(Instant.now().minus(OutputFile.ABANDONED_AFTER).minusSeconds(60)));
        Path notOurs = Files.write(dir.resolve(".other.json.12345.tmp"), new byte[10]);
        Files.setLastModifiedTime(notOurs, FileTime.from(Instant.now().minus(OutputFile.ABANDONED_AFTER).minusSeconds(60)));
        OutputFile.write(out, ch -> ch.write(ByteBuffer.wrap("{}".getBytes(StandardCharsets.UTF_8))));
        assertFalse(Files.exists(abandoned), "an abandoned temp of a dead process stays");
        assertTrue(Files.exists(recent), "a recent temp may belong to a live writer on another host");
        assertTrue(Files.exists(live), "a live process's temp was removed");
        assertFalse(Files.exists(other), "an abandoned temp of another output in the folder stays");
        assertTrue(Files.exists(notOurs), "a file that is not one of our temps was removed");
    }

    /**
     * SIGTERM mid-write: a separate JVM (SlowOutputMain) starts writing, says so, and blocks; the test sends SIGTERM
     * and finds no temp file and no output afterwards.
     */
    @Test
    void sigtermMidWriteLeavesNoTempFile() throws Exception {
        Path out = dir.resolve("big.bin");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), SlowOutputMain.class.getName(), out.toString())
                .redirectErrorStream(true).start();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line = r.readLine();
            assertEquals(SlowOutputMain.READY, line, "the writer did not start");
            assertEquals(1, temps().size(), "a temp file exists while writing: " + temps());
            p.destroy(); // SIGTERM
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the writer did not end on SIGTERM");
        } finally {
            p.destroyForcibly();
        }
        assertEquals(143, p.exitValue(), "exit status of a JVM ended by SIGTERM");
        assertEquals(List.of(), temps(), "SIGTERM left a temp file behind");
        assertFalse(Files.exists(out));
    }
}
