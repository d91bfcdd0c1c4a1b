package dev.lookupffn.ffi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.jar.JarFile;
import org.junit.jupiter.api.Test;

/** Runs (failsafe) against the packaged jar: the native library is inside it and loads from there. */
class NativeLibraryFromJarIT {
    @Test
    void libraryIsPackagedInTheJarAndLoadedFromIt() throws Exception {
        var url = NativeLibrary.class.getClassLoader().getResource(NativeLibrary.RESOURCE_FOLDER + "liblookupffn.so");
        assertEquals("jar", url.getProtocol(), "expected the packaged jar on the class path, got " + url);
        String jarPath = url.getPath().substring("file:".length(), url.getPath().indexOf("!/"));
        try (JarFile jar = new JarFile(jarPath)) {
            assertTrue(jar.getEntry(NativeLibrary.RESOURCE_FOLDER + "liblookupffn.so").getSize() > 10_000);
        }
        Path loaded = NativeLibrary.load();
        Path cache = Path.of(System.getProperty(NativeLibrary.CACHE_PROPERTY));
        assertTrue(loaded.startsWith(cache), "loaded " + loaded + ", expected an extracted copy under " + cache);
        assertTrue(Files.isRegularFile(loaded));
        Kernels.noop();
        assertEquals(Kernels.cpuIsa(), Kernels.effectiveIsa());
    }
}
