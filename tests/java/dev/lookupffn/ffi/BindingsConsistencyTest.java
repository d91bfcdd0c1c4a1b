package dev.lookupffn.ffi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lookupffn.ffi.gen.lookupffn_h;
import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Keeps native/include/lookupffn.h and the generated bindings from drifting: every prototype has a binding with
 * the same argument and return layouts, every binding has a prototype, every enum constant has the header's
 * value, and every symbol resolves in the built library. Re-run bindings/regenerate.sh when this fails.
 */
class BindingsConsistencyTest {
    static final Path HEADER = Path.of("native/include/lookupffn.h");

    record Prototype(String name, String returnType, List<String> parameterTypes) {}

    static String header;

    @BeforeAll
    static void readHeader() throws IOException {
        NativeLibrary.load();
        header = Files.readString(HEADER).replaceAll("(?s)/\\*.*?\\*/", "").replaceAll("//[^\\n]*", "");
    }

    static Set<String> enumTypes(String text) {
        Set<String> names = new TreeSet<>();
        Matcher m = Pattern.compile("typedef\\s+enum\\s*\\{[^}]*\\}\\s*(\\w+)\\s*;").matcher(text);
        while (m.find()) names.add(m.group(1));
        return names;
    }

    static List<Prototype> prototypes(String text) {
        List<Prototype> out = new ArrayList<>();
        Matcher m = Pattern.compile("LFFN_API\\s+([\\w\\s*]+?)\\s*\\b(\\w+)\\s*\\(([^)]*)\\)\\s*;").matcher(text);
        while (m.find()) {
            String args = m.group(3).replaceAll("\\s+", " ").trim();
            List<String> params = new ArrayList<>();
            if (!args.isEmpty() && !args.equals("void"))
                for (String a : args.split(",")) params.add(a.trim().replaceAll("\\w+$", "").trim());
            out.add(new Prototype(m.group(2), m.group(1).trim(), params));
        }
        return out;
    }

    static MemoryLayout layoutOf(String cType, Set<String> enums) {
        String t = cType.replace("const", "").trim();
        if (t.contains("*")) return ValueLayout.ADDRESS;
        if (enums.contains(t)) return ValueLayout.JAVA_INT;
        return switch (t) {
            case "int64_t" -> ValueLayout.JAVA_LONG;
            case "int32_t", "int" -> ValueLayout.JAVA_INT;
            case "uint16_t" -> ValueLayout.JAVA_SHORT;
            case "float" -> ValueLayout.JAVA_FLOAT;
            case "double" -> ValueLayout.JAVA_DOUBLE;
            default -> throw new AssertionError("lookupffn.h uses a type the bindings rules do not allow: " + cType);
        };
    }

    static FunctionDescriptor expected(Prototype p, Set<String> enums) {
        MemoryLayout[] args = p.parameterTypes().stream().map(t -> layoutOf(t, enums)).toArray(MemoryLayout[]::new);
        return p.returnType().equals("void") ? FunctionDescriptor.ofVoid(args)
                : FunctionDescriptor.of(layoutOf(p.returnType(), enums), args);
    }

    /** Compares layouts by carrier and size: C_POINTER carries a target layout the header cannot express. */
    static String signature(FunctionDescriptor d) {
        String args = d.argumentLayouts().stream().map(BindingsConsistencyTest::describe).collect(Collectors.joining(","));
        return d.returnLayout().map(BindingsConsistencyTest::describe).orElse("void") + "(" + args + ")";
    }

    static String describe(MemoryLayout l) {
        return l instanceof ValueLayout v ? v.carrier().getSimpleName() + v.byteSize() : l.toString();
    }

    @Test
    void everyPrototypeHasAMatchingBindingAndResolves() throws Exception {
        Set<String> enums = enumTypes(header);
        List<Prototype> protos = prototypes(header);
        assertTrue(protos.size() >= 10, "parsed only " + protos.size() + " prototypes from " + HEADER);
        for (Prototype p : protos) {
            Method desc;
            try {
                desc = lookupffn_h.class.getMethod(p.name() + "$descriptor");
            } catch (NoSuchMethodException e) {
                throw new AssertionError(p.name() + " is in lookupffn.h but has no binding: run bindings/regenerate.sh");
            }
            FunctionDescriptor actual = (FunctionDescriptor) desc.invoke(null);
            assertEquals(signature(expected(p, enums)), signature(actual),
                    p.name() + ": binding differs from lookupffn.h; run bindings/regenerate.sh");
            MemorySegment addr = (MemorySegment) lookupffn_h.class.getMethod(p.name() + "$address").invoke(null);
            assertNotEquals(0L, addr.address(), p.name() + " does not resolve in liblookupffn");
        }
    }

    @Test
    void everyBindingHasAPrototype() {
        Set<String> declared = prototypes(header).stream().map(Prototype::name).collect(Collectors.toSet());
        List<String> extra = Arrays.stream(lookupffn_h.class.getMethods())
                .filter(m -> Modifier.isStatic(m.getModifiers()) && m.getName().endsWith("$descriptor"))
                .map(m -> m.getName().replace("$descriptor", ""))
                .filter(n -> !declared.contains(n))
                .toList();
        assertTrue(extra.isEmpty(), "bindings for functions no longer in lookupffn.h: " + extra);
    }

    @Test
    void enumConstantsMatchTheHeader() throws Exception {
        Map<String, Integer> constants = new LinkedHashMap<>();
        Matcher block = Pattern.compile("typedef\\s+enum\\s*\\{([^}]*)\\}").matcher(header);
        while (block.find())
            for (String item : block.group(1).split(","))
                if (item.contains("=")) {
                    String[] kv = item.split("=");
                    constants.put(kv[0].trim(), Integer.parseInt(kv[1].trim()));
                }
        assertFalse(constants.isEmpty());
        for (var e : constants.entrySet()) {
            Method m = lookupffn_h.class.getMethod(e.getKey());
            assertEquals(e.getValue(), (Integer) m.invoke(null), e.getKey());
        }
    }

    @Test
    void detectsADriftedPrototype() {
        // the checker itself must be able to fail: an extra argument changes the expected signature
        Set<String> enums = enumTypes(header);
        Prototype real = prototypes(header).stream().filter(p -> p.name().equals("lffn_layernorm_f32")).findFirst().orElseThrow();
        List<String> changed = new ArrayList<>(real.parameterTypes());
        changed.add("int64_t");
        assertNotEquals(signature(expected(new Prototype(real.name(), real.returnType(), changed), enums)),
                signature(lookupffn_h.lffn_layernorm_f32$descriptor()));
    }
}
