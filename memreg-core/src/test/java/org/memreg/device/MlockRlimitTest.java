package org.memreg.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The real "out of pin resources" condition: a process without CAP_IPC_LOCK reaching
 * RLIMIT_MEMLOCK. The test JVM is root with the capability, so the probe runs in a child JVM
 * started through {@code setpriv} with CAP_IPC_LOCK dropped.
 */
class MlockRlimitTest {
    @Test
    void shouldTurnRlimitMemlockIntoResourceExhaustedAndTellUnmappedApart() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs setpriv (util-linux)");
        assumeTrue("root".equals(System.getProperty("user.name")), "setpriv cap dropping needs root");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process child = new ProcessBuilder("/usr/bin/setpriv", "--inh-caps=-ipc_lock", "--bounding-set=-ipc_lock",
                java, "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                MlockRlimitProbe.class.getName())
                .redirectErrorStream(true).start();
        assertTrue(child.waitFor(60, TimeUnit.SECONDS), "probe finished");
        List<String> lines = new String(child.getInputStream().readAllBytes()).lines().toList();
        System.out.println(String.join("\n", lines));
        assertEquals(0, child.exitValue(), "probe exit");
        long soft = value(lines, "soft");
        assumeTrue(soft > 0 && soft < (15L << 20), "RLIMIT_MEMLOCK must be below 15 MiB for this test");
        assertTrue(text(lines, "exhausted").contains("RLIMIT_MEMLOCK soft limit " + soft), text(lines, "exhausted"));
        long registered = value(lines, "registered");
        assertEquals(value(lines, "chunks") << 20, registered);
        assertTrue(registered <= soft && registered > soft - (2L << 20), "locked up to the limit: " + registered);
        assertEquals(registered, value(lines, "vmlck"), "nothing of the refused chunk stayed locked");
        assertTrue(text(lines, "unmapped").contains("not mapped"));
        assertEquals(0, value(lines, "closed vmlck"));
    }

    private static String text(List<String> lines, String key) {
        return lines.stream().filter(l -> l.startsWith(key + "=")).map(l -> l.substring(key.length() + 1))
                .findFirst().orElseThrow(() -> new AssertionError("probe printed no " + key + ": " + lines));
    }

    private static long value(List<String> lines, String key) {
        return Long.parseLong(text(lines, key));
    }
}
