package dev.lookupffn.ffi;

import dev.lookupffn.LookupFfnException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The one place that loads the native libraries. Order: the system property {@code lookupffn.library.path}
 * (a file, or a folder holding {@code liblookupffn.so}); else the copy packaged at
 * {@code native/linux-x86_64/} on the class path: used in place when it is a plain file (a build tree),
 * extracted once into a cache folder named by its content hash when it is inside a jar.
 */
public final class NativeLibrary {
    public static final String PATH_PROPERTY = "lookupffn.library.path";
    public static final String CACHE_PROPERTY = "lookupffn.cache.dir";
    static final String RESOURCE_FOLDER = "native/linux-x86_64/";

    private static volatile Path corePath;

    private NativeLibrary() {}

    /** Loads liblookupffn once (idempotent, thread-safe) and returns where it was loaded from. */
    public static Path load() {
        Path p = corePath;
        if (p != null) return p;
        synchronized (NativeLibrary.class) {
            if (corePath == null) {
                Path path = locate("liblookupffn.so");
                System.load(path.toString());
                corePath = path;
            }
            return corePath;
        }
    }

    /** The path of an optional companion library (e.g. the oneDNN baseline) beside liblookupffn, or null. */
    public static Path locateOptional(String fileName) {
        try {
            return locate(fileName);
        } catch (LookupFfnException e) {
            return null;
        }
    }

    static Path locate(String fileName) {
        String override = System.getProperty(PATH_PROPERTY);
        if (override != null && !override.isBlank()) {
            Path p = Path.of(override);
            if (Files.isDirectory(p)) p = p.resolve(fileName);
            else if (!p.getFileName().toString().equals(fileName)) p = p.resolveSibling(fileName);
            if (!Files.isRegularFile(p))
                throw new LookupFfnException(fileName + " not found at " + p + " (from -D" + PATH_PROPERTY + ")");
            return p.toAbsolutePath();
        }
        URL url = NativeLibrary.class.getClassLoader().getResource(RESOURCE_FOLDER + fileName);
        if (url == null)
            throw new LookupFfnException(fileName + " is not on the class path under " + RESOURCE_FOLDER
                    + ": build with `mvn package` (or ./lookupffn), or set -D" + PATH_PROPERTY);
        try {
            if (url.getProtocol().equals("file")) return Path.of(url.toURI());
            return extract(url, fileName);
        } catch (IOException | URISyntaxException e) {
            throw new LookupFfnException("cannot extract " + url + ": " + e.getMessage(), e);
        }
    }

    /** Copies a packaged library into cacheDir/<sha256 prefix>/ unless an identical copy is there. */
    private static Path extract(URL url, String fileName) throws IOException {
        byte[] bytes;
        try (InputStream in = url.openStream()) {
            bytes = in.readAllBytes();
        }
        String hash;
        try {
            hash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes)).substring(0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        Path dir = cacheDir().resolve(hash);
        Path target = dir.resolve(fileName);
        if (Files.isRegularFile(target) && Files.size(target) == bytes.length) return target;
        Files.createDirectories(dir);
        // write beside, then rename: a concurrent JVM never loads a half-written file
        Path tmp = Files.createTempFile(dir, fileName, ".tmp");
        Files.write(tmp, bytes);
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return target;
    }

    private static Path cacheDir() {
        String prop = System.getProperty(CACHE_PROPERTY);
        if (prop != null && !prop.isBlank()) return Path.of(prop);
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("lookupffn");
    }
}
