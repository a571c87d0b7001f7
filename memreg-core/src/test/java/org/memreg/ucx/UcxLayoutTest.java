package org.memreg.ucx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.StructLayout;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The hand-made UCX struct layouts and constants against the C compiler's:
 * {@code src/test/native/ucx-layout.c} prints {@code sizeof}/{@code offsetof} of every struct
 * memreg fills and the value of every constant {@link Ucp} copies. The numbers gcc printed for
 * UCX 1.13.1 are kept in {@code ucx-layout-1.13.1.txt}; where gcc and the UCX headers are present,
 * the program is also compiled and run afresh.
 */
class UcxLayoutTest {
    @Test
    void shouldMatchTheRecordedLayoutsOfUcx1131() throws IOException, IllegalAccessException {
        try (InputStream in = UcxLayoutTest.class.getResourceAsStream("ucx-layout-1.13.1.txt")) {
            assertNotNull(in, "recorded layout resource");
            Map<String, Long> c = parse(new String(in.readAllBytes(), StandardCharsets.US_ASCII));
            assertLayouts(c);
            assertConstants(c);
        }
    }

    @Test
    void shouldMatchWhatGccPrintsForTheInstalledHeaders() throws Exception {
        Path source = Path.of("src/test/native/ucx-layout.c").toAbsolutePath();
        assumeTrue(Files.exists(source), "layout program not found at " + source);
        assumeTrue(Files.exists(Path.of("/usr/include/ucp/api/ucp.h")), "UCX headers absent (install libucx-dev)");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/gcc")), "gcc absent: only the recorded layouts are checked");
        Path dir = Files.createTempDirectory("ucx-layout");
        Path binary = dir.resolve("ucx-layout");
        try {
            run(List.of("/usr/bin/gcc", "-o", binary.toString(), source.toString()));
            Map<String, Long> c = parse(run(List.of(binary.toString())));
            assertLayouts(c);
            assertConstants(c);
        } finally {
            Files.deleteIfExists(binary);
            Files.deleteIfExists(dir);
        }
    }

    private static void assertLayouts(Map<String, Long> c) {
        int checked = 0;
        for (StructLayout layout : UcxLayouts.ALL) {
            String name = layout.name().orElseThrow();
            assertEquals(c.get(name), layout.byteSize(), "sizeof(" + name + ")");
            for (Map.Entry<String, Long> e : c.entrySet()) {
                if (e.getKey().startsWith(name + ".")) {
                    String field = e.getKey().substring(name.length() + 1);
                    assertEquals(e.getValue(), UcxLayouts.offset(layout, field), "offsetof(" + name + ", " + field + ")");
                    checked++;
                }
            }
        }
        assertTrue(checked >= 50, "fields checked: " + checked);
        System.out.println("UCX layouts: " + UcxLayouts.ALL.size() + " structs, " + checked + " fields match");
    }

    /**
     * Every integer constant of {@link Ucp} (public or not) equals the C value of its UCX name: a
     * status read against a wrong constant compares unequal to what UCX returns (UCS_ERR_BUSY was
     * once copied as -4, which is UCS_ERR_NO_MEMORY).
     */
    private static void assertConstants(Map<String, Long> c) throws IllegalAccessException {
        int checked = 0;
        for (Field field : Ucp.class.getDeclaredFields()) {
            int m = field.getModifiers();
            String name = field.getName();
            boolean number = field.getType() == int.class || field.getType() == long.class;
            if (!Modifier.isStatic(m) || !Modifier.isFinal(m) || !number || name.startsWith("API_")
                    || name.endsWith("_BYTES") || name.startsWith("RP_")) {
                continue; // the API version, and sizes and offsets taken from the layouts, are not UCX constants
            }
            String cName = "const." + cName(name);
            assertTrue(c.containsKey(cName), "ucx-layout.c prints no " + cName + " for Ucp." + name);
            assertEquals(c.get(cName), ((Number) field.get(null)).longValue(), "Ucp." + name + " against " + cName);
            checked++;
        }
        assertTrue(checked >= 40, "constants checked: " + checked);
        System.out.println("UCX constants: " + checked + " match");
    }

    /** The UCX name of a {@link Ucp} constant: statuses and thread modes are UCS's, protections the memory map's. */
    private static String cName(String javaName) {
        boolean status = javaName.equals("OK") || javaName.equals("INPROGRESS")
                || javaName.startsWith("ERR_") && !javaName.startsWith("ERR_HANDLING_MODE_");
        return status || javaName.startsWith("THREAD_MODE_") ? "UCS_" + javaName
                : javaName.startsWith("PROT_") ? "UCP_MEM_MAP_" + javaName : "UCP_" + javaName;
    }

    private static Map<String, Long> parse(String text) {
        Map<String, Long> values = new LinkedHashMap<>();
        text.lines().filter(l -> l.contains("=")).forEach(l -> {
            int eq = l.lastIndexOf('=');
            values.put(l.substring(0, eq), Long.parseLong(l.substring(eq + 1).strip()));
        });
        return values;
    }

    private static String run(List<String> command) throws Exception {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        try {
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(process.waitFor(60, TimeUnit.SECONDS), "finished: " + command);
            assertEquals(0, process.exitValue(), command + ": " + output);
            return output;
        } finally {
            process.destroyForcibly();
        }
    }
}
