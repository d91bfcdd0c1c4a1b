package dev.lookupffn.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes an output file the way a careful command-line tool does; every file the library and the CLI write goes
 * through here (safetensors, bench JSON and charts).
 * <ul>
 *   <li>A symbolic link is followed: the link stays, the file it points to is replaced.</li>
 *   <li>A regular file (or a missing one) is replaced atomically: the content goes to a hidden temp file in the
 *       same folder, is flushed to disk, then renamed over the target, so a reader sees the old file or the new
 *       one, never a partial one. An existing file keeps its POSIX permissions; a new one gets the usual
 *       {@code 0666 & ~umask}.</li>
 *   <li>Anything else that exists (a character device such as {@code /dev/null}, a FIFO, a socket) is written
 *       directly, as a shell redirection would: replacing it with a regular file would destroy it.</li>
 *   <li>A missing parent folder is an error, never created silently.</li>
 *   <li>The temp file is removed when writing fails, and by a shutdown hook when the JVM ends mid-write (SIGTERM,
 *       SIGINT, {@code System.exit}). A temp file that a killed process (SIGKILL) left behind is removed by the
 *       next process that writes into the same folder, once it is ten minutes old.</li>
 * </ul>
 */
public final class OutputFile {
    /**
     * What goes into the file; called once, with a channel at the start of an empty file. Closing the channel
     * (as a stream wrapped around it may do) is harmless: the file stays open until the content is on disk.
     */
    @FunctionalInterface
    public interface Content {
        void writeTo(WritableByteChannel out) throws IOException;
    }

    /** Temp files are named {@code .<name>.<TEMP_MARK><pid>.<random>.tmp}, so a leftover names its process. */
    static final String TEMP_MARK = ".lookupffn-partial-";
    private static final int MAX_LINKS = 40; // as Linux's ELOOP limit
    /** A temp file untouched this long, whose process is gone, was abandoned. */
    static final Duration ABANDONED_AFTER = Duration.ofMinutes(10);

    private static final Object LOCK = new Object();
    private static final Set<Path> IN_PROGRESS = new HashSet<>();
    /** Folders already searched for abandoned temps in this JVM. */
    private static final Set<Path> SWEPT = ConcurrentHashMap.newKeySet();
    private static boolean shuttingDown;

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(OutputFile::deleteInProgress, "lookupffn-output-cleanup"));
    }

    private OutputFile() {}

    /**
     * Checks, before any expensive work, that {@code path} can be written: its folder exists and it is not a
     * folder itself. {@link #write} checks the same again.
     *
     * @throws IOException naming the path and what is wrong
     */
    public static void checkWritable(Path path) throws IOException {
        Path target = followLinks(path);
        requireFolder(path, target);
        if (Files.isDirectory(target)) throw new IOException("cannot write " + path + ": it is a folder");
    }

    /** The folder {@code target} goes into; it must exist: a typo in a path should not create folders. */
    private static Path requireFolder(Path path, Path target) throws IOException {
        Path dir = target.getParent();
        if (dir == null) throw new IOException("cannot write " + path + ": it is a folder"); // the root
        if (Files.isDirectory(dir)) return dir;
        if (Files.exists(dir)) throw new IOException("cannot write " + path + ": " + dir + " is not a folder");
        throw new IOException("cannot write " + path + ": folder " + dir + " does not exist");
    }

    /**
     * Writes {@code content} to {@code path} as described in the class comment.
     *
     * @throws IOException with a message that starts "cannot write PATH: " and says why
     */
    public static void write(Path path, Content content) throws IOException {
        try {
            writeChecked(path, content);
        } catch (IOException e) {
            String m = e.getMessage();
            if (m != null && m.startsWith("cannot write ")) throw e;
            throw new IOException("cannot write " + path + ": " + reason(e), e);
        }
    }

    /** What went wrong, readably: a FileSystemException's message is often just a path. */
    private static String reason(IOException e) {
        if (e instanceof AccessDeniedException a) return "permission denied (" + a.getFile() + ")";
        if (e instanceof FileSystemException f && f.getReason() != null) return f.getReason() + " (" + f.getFile() + ")";
        if (e instanceof FileSystemException f) return e.getClass().getSimpleName() + " (" + f.getFile() + ")";
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }

    private static void writeChecked(Path path, Content content) throws IOException {
        Path target = followLinks(path);
        Path dir = requireFolder(path, target);
        BasicFileAttributes existing = null;
        try {
            existing = Files.readAttributes(target, BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            // a new file
        }
        if (existing != null && existing.isDirectory()) throw new IOException("cannot write " + path + ": it is a folder");
        if (existing != null && !existing.isRegularFile()) {
            // a device or FIFO: written in place, as a shell redirection would; no fsync (a device may refuse it)
            try (FileChannel ch = FileChannel.open(target, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                content.writeTo(unclosable(ch));
            }
            return;
        }
        removeAbandonedTemps(dir);
        Path tmp = createTemp(dir, target.getFileName().toString());
        boolean done = false;
        try {
            if (existing != null) keepPermissions(target, tmp);
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                content.writeTo(unclosable(ch));
                ch.force(true);
            }
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            done = true;
        } finally {
            if (!done) Files.deleteIfExists(tmp);
            synchronized (LOCK) {
                IN_PROGRESS.remove(tmp);
            }
        }
    }

    private static WritableByteChannel unclosable(FileChannel ch) {
        return new WritableByteChannel() {
            @Override
            public int write(ByteBuffer src) throws IOException {
                return ch.write(src);
            }

            @Override
            public boolean isOpen() {
                return ch.isOpen();
            }

            @Override
            public void close() {
                // the writer closes the file once the content is flushed to disk
            }
        };
    }

    /** The file a chain of symbolic links ends at (which may not exist yet), as an absolute path. */
    static Path followLinks(Path path) throws IOException {
        Path p = path.toAbsolutePath();
        for (int i = 0; i < MAX_LINKS; i++) {
            if (!Files.isSymbolicLink(p)) return p;
            p = p.getParent().resolve(Files.readSymbolicLink(p)); // a relative link is relative to its folder
        }
        throw new IOException("cannot write " + path + ": more than " + MAX_LINKS + " levels of symbolic links");
    }

    /** Creates the temp file with default permissions (0666 & ~umask), registered for the shutdown hook. */
    private static Path createTemp(Path dir, String name) throws IOException {
        long pid = ProcessHandle.current().pid();
        for (int attempt = 0; ; attempt++) {
            Path tmp = dir.resolve("." + name + TEMP_MARK + pid + "." + Long.toUnsignedString(ThreadLocalRandom.current().nextLong(), 36) + ".tmp");
            synchronized (LOCK) {
                // created under the lock so the shutdown hook cannot run between creating and registering it
                if (shuttingDown) throw new IOException("cannot write " + dir.resolve(name) + ": the JVM is shutting down");
                try {
                    Files.createFile(tmp);
                } catch (FileAlreadyExistsException e) {
                    if (attempt < 10) continue;
                    throw e;
                }
                IN_PROGRESS.add(tmp);
                return tmp;
            }
        }
    }

    private static void keepPermissions(Path target, Path tmp) throws IOException {
        PosixFileAttributeView from = Files.getFileAttributeView(target, PosixFileAttributeView.class);
        PosixFileAttributeView to = Files.getFileAttributeView(tmp, PosixFileAttributeView.class);
        if (from == null || to == null) return; // not a POSIX file system: nothing to keep
        Set<PosixFilePermission> mode = from.readAttributes().permissions();
        to.setPermissions(mode);
    }

    /**
     * Deletes the temp files in {@code dir} whose writing process no longer runs (it was killed with SIGKILL) and
     * that are old enough. Each folder is looked at once per JVM: a server writing many files into one folder does
     * not list it on every write.
     */
    private static void removeAbandonedTemps(Path dir) {
        if (!SWEPT.add(dir)) return;
        try (DirectoryStream<Path> temps = Files.newDirectoryStream(dir, f -> {
            String n = f.getFileName().toString();
            return n.startsWith(".") && n.contains(TEMP_MARK) && n.endsWith(".tmp");
        })) {
            for (Path f : temps) {
                String n = f.getFileName().toString();
                String rest = n.substring(n.lastIndexOf(TEMP_MARK) + TEMP_MARK.length());
                long pid;
                try {
                    pid = Long.parseLong(rest.substring(0, Math.max(rest.indexOf('.'), 0)));
                } catch (NumberFormatException e) {
                    continue; // not one of ours
                }
                // the age check keeps the temp of a live writer whose pid this host cannot see (NFS, another container)
                if (ProcessHandle.of(pid).isEmpty() && Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)
                        && Files.getLastModifiedTime(f, LinkOption.NOFOLLOW_LINKS).toInstant().isBefore(Instant.now().minus(ABANDONED_AFTER)))
                    Files.deleteIfExists(f);
            }
        } catch (IOException e) {
            // best effort: an unreadable folder fails the write itself a moment later, with a clear message
        }
    }

    private static void deleteInProgress() {
        List<Path> temps;
        synchronized (LOCK) {
            shuttingDown = true;
            temps = List.copyOf(IN_PROGRESS);
        }
        for (Path tmp : temps) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException e) {
                // nothing more a shutdown hook can do
            }
        }
    }
}
