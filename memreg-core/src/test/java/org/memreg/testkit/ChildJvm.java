package org.memreg.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.memreg.linux.ProcStatus;

/**
 * Runs a probe's {@code main} in a child JVM on the test class path and returns what it printed,
 * one {@code key=value} a line. {@link #withoutIpcLock} drops CAP_IPC_LOCK with {@code setpriv}
 * so that the child meets RLIMIT_MEMLOCK like an unprivileged process when the test JVM is root;
 * a test JVM without the capability (the unprivileged run) starts the child as it is.
 */
public final class ChildJvm {
    private static final int CAP_IPC_LOCK = 14;
    private final List<String> lines;

    private ChildJvm(List<String> lines) {
        this.lines = lines;
    }

    /**
     * Runs {@code main} without CAP_IPC_LOCK; skips the test where this JVM has the capability
     * but setpriv or root to drop it is missing.
     */
    public static ChildJvm withoutIpcLock(Class<?> main) throws Exception {
        List<String> command = new ArrayList<>();
        if ((ProcStatus.effectiveCapabilities() & (1L << CAP_IPC_LOCK)) != 0) {
            assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs setpriv (util-linux)");
            assumeTrue("root".equals(System.getProperty("user.name")), "setpriv cap dropping needs root");
            command.addAll(List.of("/usr/bin/setpriv", "--inh-caps=-ipc_lock", "--bounding-set=-ipc_lock"));
        }
        command.addAll(javaCommand(main));
        Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
        List<String> lines = new String(child.getInputStream().readAllBytes()).lines().toList();
        assertTrue(child.waitFor(120, TimeUnit.SECONDS), "probe finished");
        System.out.println(String.join("\n", lines));
        assertEquals(0, child.exitValue(), "probe exit status");
        return new ChildJvm(lines);
    }

    /** The command line that runs {@code main} in a JVM like this one. */
    public static List<String> javaCommand(Class<?> main) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return List.of(java, "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                main.getName());
    }

    /** The text after {@code key=}; fails when the probe printed no such line. */
    public String text(String key) {
        return lines.stream().filter(l -> l.startsWith(key + "=")).map(l -> l.substring(key.length() + 1))
                .findFirst().orElseThrow(() -> new AssertionError("probe printed no " + key + ": " + lines));
    }

    /** The number after {@code key=}. */
    public long value(String key) {
        return Long.parseLong(text(key));
    }
}
