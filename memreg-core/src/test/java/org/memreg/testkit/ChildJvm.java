package org.memreg.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
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
        return run(command);
    }

    /**
     * Runs {@code main} with {@code args} as an unprivileged user, as most services run: from
     * root, as user 65534 with no supplementary groups ({@code setpriv}: no CAP_IPC_LOCK,
     * CAP_SYS_NICE or CAP_SYS_PTRACE); from any other user, as that user.
     */
    public static ChildJvm asNobody(Class<?> main, String... args) throws Exception {
        List<String> command = new ArrayList<>();
        if ("root".equals(System.getProperty("user.name"))) {
            assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs setpriv (util-linux)");
            command.addAll(List.of("/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"));
        }
        command.addAll(javaCommand(main));
        command.addAll(List.of(args));
        return run(command);
    }

    /** Runs {@code main} with {@code args} as this user, with {@code jvmOptions} (a garbage collector, properties). */
    public static ChildJvm run(List<String> jvmOptions, Class<?> main, String... args) throws Exception {
        return run(Map.of(), jvmOptions, main, args);
    }

    /** {@link #run(List, Class, String...)} with {@code environment} added to the child's. */
    public static ChildJvm run(Map<String, String> environment, List<String> jvmOptions, Class<?> main, String... args)
            throws Exception {
        List<String> command = new ArrayList<>(javaCommand(main));
        command.addAll(1, jvmOptions);
        command.addAll(List.of(args));
        return run(command, environment);
    }

    private static ChildJvm run(List<String> command) throws Exception {
        return run(command, Map.of());
    }

    /**
     * Runs the command; a child that has not finished in time is killed and fails the test: two
     * minutes, or {@code -Dmemreg.test.childTimeoutSeconds} (the VM's emulated CPUs start a JVM
     * some 60 times slower than the host).
     */
    private static ChildJvm run(List<String> command, Map<String, String> environment) throws Exception {
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().putAll(environment);
        Process child = builder.start();
        CompletableFuture<String> output = CompletableFuture.supplyAsync(() -> {
            try (InputStream in = child.getInputStream()) {
                return new String(in.readAllBytes());
            } catch (IOException e) {
                return "(output lost: " + e + ")";
            }
        });
        long timeout = Long.getLong("memreg.test.childTimeoutSeconds", 120);
        boolean finished = child.waitFor(timeout, TimeUnit.SECONDS);
        if (!finished) {
            child.destroyForcibly().waitFor();
        }
        List<String> lines = output.get(10, TimeUnit.SECONDS).lines().toList();
        System.out.println(String.join("\n", lines));
        assertTrue(finished, "probe finished within " + timeout + " s (killed: a hang)");
        assertEquals(0, child.exitValue(), "probe exit status");
        return new ChildJvm(lines);
    }

    /** The command line that runs {@code main} in a JVM like this one. */
    public static List<String> javaCommand(Class<?> main) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return List.of(java, "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                main.getName());
    }

    /** Every line the probe printed. */
    public List<String> lines() {
        return lines;
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
