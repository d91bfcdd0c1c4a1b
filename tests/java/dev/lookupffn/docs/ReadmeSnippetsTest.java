package dev.lookupffn.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every ```java block of README.md compiles and runs, so the quick start cannot rot. */
class ReadmeSnippetsTest {
    static final String IMPORTS = """
            import dev.lookupffn.layer.LookupFfn;
            import dev.lookupffn.model.Batch;
            import dev.lookupffn.model.Encoder;
            import dev.lookupffn.safetensors.SafetensorsFile;
            import dev.lookupffn.tensor.Tensor;
            import java.nio.file.Path;
            import java.util.Arrays;
            import java.util.List;
            """;

    static List<String> snippets() throws Exception {
        String readme = Files.readString(Path.of("README.md"));
        Matcher m = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL).matcher(readme);
        List<String> out = new ArrayList<>();
        while (m.find()) out.add(m.group(1));
        return out;
    }

    @Test
    void readmeJavaSnippetsCompileAndRun(@TempDir Path dir) throws Exception {
        List<String> snippets = snippets();
        assertTrue(snippets.size() >= 2, "README should show the Java API, found " + snippets.size() + " snippets");
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        for (int i = 0; i < snippets.size(); i++) {
            String name = "Snippet" + i;
            Path src = dir.resolve(name + ".java");
            Files.writeString(src, IMPORTS + "public class " + name + " {\n public static void main(String[] args) throws Exception {\n"
                    + snippets.get(i) + "\n }\n}\n");
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            int rc = javac.run(null, null, err, "-cp", System.getProperty("java.class.path"), "-d", dir.toString(), src.toString());
            assertEquals(0, rc, "README snippet " + i + " does not compile:\n" + err.toString(StandardCharsets.UTF_8));
            PrintStream stdout = System.out;
            ByteArrayOutputStream printed = new ByteArrayOutputStream();
            try (URLClassLoader loader = new URLClassLoader(new URL[] {dir.toUri().toURL()}, getClass().getClassLoader())) {
                System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
                loader.loadClass(name).getMethod("main", String[].class).invoke(null, (Object) new String[0]);
            } finally {
                System.setOut(stdout);
            }
            assertTrue(printed.size() > 0, "README snippet " + i + " printed nothing");
            System.out.print("README snippet " + i + ": " + printed.toString(StandardCharsets.UTF_8));
        }
    }
}
