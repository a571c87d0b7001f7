package org.memreg.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.memreg.testkit.ChildJvm;
import org.memreg.ucx.UcxTestSupport;
import org.memreg.util.TestSeeds;

/**
 * Across hosts, as far as one machine allows: two network namespaces of our own joined by a veth
 * pair with addresses we assign (192.168.250.1/24 and .2/24; the traffic never leaves them), an
 * {@link EchoPeer} in one and an {@link EchoClient} in the other, UCX restricted to TCP on the
 * veth. Both sides hold a shared secret (a client without it is refused first). The client echoes
 * 8 B..64 MiB and puts/gets a window, data verified; the veth's byte counters show the data went
 * over it.
 *
 * <p>The namespaces are named after this JVM's pid (parallel runs do not collide), removed after
 * the tests also when they fail, and left-overs of killed runs (dead pid) are removed first. Where
 * the machine forbids namespaces (not root, no {@code ip}, no CAP_SYS_ADMIN) the test is skipped
 * with the reason printed.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class NetnsTransportTest {
    private static final String PREFIX = "memreg-test-";
    private static final long PID = ProcessHandle.current().pid();
    private static final String SERVER_NS = PREFIX + PID + "-a";
    private static final String CLIENT_NS = PREFIX + PID + "-b";
    private static final String SERVER_DEV = "mr" + (PID % 10_000_000) + "a";
    private static final String CLIENT_DEV = "mr" + (PID % 10_000_000) + "b";
    private static final String SERVER_IP = "192.168.250.1";
    private static final String CLIENT_IP = "192.168.250.2";
    private static boolean created;

    @BeforeAll
    static void createNamespaces() throws Exception {
        UcxTestSupport.assumeUcx();
        skipUnless("root".equals(System.getProperty("user.name")), "network namespaces need root");
        Result probe = run("ip", "netns", "list");
        skipUnless(probe.status == 0, "`ip netns` is not usable: " + probe.output);
        removeLeftOvers(probe.output);
        created = true; // from here on @AfterAll removes whatever part exists
        Result add = run("ip", "netns", "add", SERVER_NS);
        skipUnless(add.status == 0, "this machine forbids `ip netns add`: " + add.output);
        must("ip", "netns", "add", CLIENT_NS);
        Result veth = run("ip", "link", "add", SERVER_DEV, "netns", SERVER_NS, "type", "veth", "peer", "name",
                CLIENT_DEV, "netns", CLIENT_NS);
        skipUnless(veth.status == 0, "this machine forbids veth pairs: " + veth.output);
        must("ip", "-n", SERVER_NS, "addr", "add", SERVER_IP + "/24", "dev", SERVER_DEV);
        must("ip", "-n", CLIENT_NS, "addr", "add", CLIENT_IP + "/24", "dev", CLIENT_DEV);
        for (String ns : List.of(SERVER_NS, CLIENT_NS)) {
            must("ip", "-n", ns, "link", "set", "lo", "up");
        }
        must("ip", "-n", SERVER_NS, "link", "set", SERVER_DEV, "up");
        must("ip", "-n", CLIENT_NS, "link", "set", CLIENT_DEV, "up");
        awaitCarrier(SERVER_NS, SERVER_DEV);
        awaitCarrier(CLIENT_NS, CLIENT_DEV);
    }

    /** The kernel reports a veth's carrier up to a second after both ends are up; UCX skips it until then. */
    private static void awaitCarrier(String ns, String dev) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        String state;
        while (!(state = must("ip", "-n", ns, "-o", "link", "show", "dev", dev).output).contains("state UP")) {
            assertTrue(System.nanoTime() - deadline < 0, dev + " has no carrier after 10 s: " + state);
            Thread.sleep(20);
        }
    }

    @AfterAll
    static void removeNamespaces() throws Exception {
        if (created) {
            run("ip", "netns", "delete", SERVER_NS); // deleting a namespace deletes its end of the veth
            run("ip", "netns", "delete", CLIENT_NS);
            String left = run("ip", "netns", "list").output;
            assertTrue(!left.contains(SERVER_NS) && !left.contains(CLIENT_NS), "namespaces left: " + left);
        }
    }

    @Test
    void shouldEchoAndPutGetBetweenTwoNamespacesOverTcpWithASharedSecret(@TempDir Path dir) throws Exception {
        long seed = TestSeeds.seed("shouldEchoAndPutGetBetweenTwoNamespacesOverTcp");
        Path secret = dir.resolve("secret");
        Files.writeString(secret, "the two namespaces share this secret");
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-------"));
        String withSecret = "-D" + NodeBuilder.SECRET_FILE_PROP_NAME + "=" + secret;
        long rxBefore = rxBytes();
        try (TransportPeers.Child server = TransportPeers.start(SERVER_IP, netnsExec(SERVER_NS),
                Map.of("UCX_TLS", "tcp", "UCX_NET_DEVICES", SERVER_DEV), List.of(withSecret))) {
            String refused = runClient(server, seed, List.of());
            assertTrue(refused.contains("requires the shared transport secret"), "a client without it: " + refused);
            String output = runClient(server, seed, List.of(withSecret));
            assertTrue(output.contains("put/get verified") && output.strip().endsWith("ok"),
                    output + "\nserver: " + server.output());
        }
        long moved = rxBytes() - rxBefore;
        System.out.printf("%d bytes received on %s over the veth%n", moved, CLIENT_DEV);
        assertTrue(moved > 64L << 20, "the 64 MiB echo went over the veth: " + moved + " bytes");
    }

    /** Runs {@link EchoClient} in the client namespace with {@code jvmOptions}; returns its output. */
    private static String runClient(TransportPeers.Child server, long seed, List<String> jvmOptions) throws Exception {
        List<String> command = new ArrayList<>(netnsExec(CLIENT_NS));
        List<String> java = new ArrayList<>(ChildJvm.javaCommand(EchoClient.class));
        java.addAll(1, jvmOptions);
        command.addAll(java);
        command.addAll(List.of(SERVER_IP, Integer.toString(server.port()), Long.toString(seed)));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().putAll(Map.of("UCX_TLS", "tcp", "UCX_NET_DEVICES", CLIENT_DEV));
        Process client = builder.start();
        try {
            CompletableFuture<String> read = CompletableFuture.supplyAsync(() -> {
                try {
                    return new String(client.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                } catch (IOException e) {
                    return "cannot read the client's output: " + e;
                }
            }, runnable -> Thread.ofPlatform().daemon().start(runnable));
            assertTrue(client.waitFor(60, TimeUnit.SECONDS), "client finished within 60 s");
            String output = read.get(10, TimeUnit.SECONDS);
            System.out.print(output);
            assertEquals(jvmOptions.isEmpty() ? 1 : 0, client.exitValue(), "client exit status:\n" + output);
            return output;
        } finally {
            client.toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
            client.destroyForcibly();
            client.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static long rxBytes() throws Exception {
        Result r = must("ip", "netns", "exec", CLIENT_NS, "cat", "/sys/class/net/" + CLIENT_DEV
                + "/statistics/rx_bytes");
        return Long.parseLong(r.output.strip());
    }

    private static List<String> netnsExec(String ns) {
        return List.of("ip", "netns", "exec", ns);
    }

    /** Removes namespaces of earlier runs whose JVM is gone (killed before its @AfterAll ran). */
    private static void removeLeftOvers(String list) throws Exception {
        for (String line : list.lines().toList()) {
            String name = line.split("\\s+")[0];
            if (!name.startsWith(PREFIX)) {
                continue;
            }
            String[] parts = name.substring(PREFIX.length()).split("-");
            try {
                long pid = Long.parseLong(parts[0]);
                if (pid != PID && ProcessHandle.of(pid).isEmpty()) {
                    System.out.println("removing left-over namespace " + name);
                    run("ip", "netns", "delete", name);
                }
            } catch (NumberFormatException e) {
                // not one of ours
            }
        }
    }

    private static void skipUnless(boolean ok, String reason) {
        if (!ok) {
            System.out.println("skipped: " + reason);
            assumeTrue(false, reason);
        }
    }

    private record Result(int status, String output) {
    }

    private static Result must(String... command) throws Exception {
        Result r = run(command);
        assertEquals(0, r.status, String.join(" ", command) + ": " + r.output);
        return r;
    }

    private static Result run(String... command) throws Exception {
        Process p;
        try {
            p = new ProcessBuilder(command).redirectErrorStream(true).start();
        } catch (IOException e) {
            return new Result(-1, e.getMessage());
        }
        try {
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                return new Result(-1, "timed out: " + output);
            }
            return new Result(p.exitValue(), output);
        } finally {
            p.destroyForcibly();
        }
    }
}
