package org.memreg.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.testkit.ChildJvm;
import org.memreg.testkit.Unprivileged;
import org.memreg.ucx.UcxTestSupport;

/**
 * A peer on this host that shrinks the files behind its UCX POSIX shared memory cannot kill a
 * node of default settings: the node maps none of it ({@code TLS=^posix} by default). With POSIX
 * shared memory (the victim's {@code UCX_TLS=posix,cma,tcp,self}) the victim's next put, or its
 * next eager send into the peer's receive queue, died of SIGBUS (exit 134) in this very set-up.
 */
@Unprivileged
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class SharedMemoryShrinkTest {
    @Test
    void aPeerShrinkingItsSharedMemoryShouldNotKillANodeOfDefaultSettings() throws Exception {
        UcxTestSupport.assumeUcx();
        ProcessBuilder peerCommand = new ProcessBuilder(ChildJvm.javaCommand(ShrinkingPeerChild.class))
                .redirectErrorStream(true);
        Process peer = peerCommand.start();
        List<String> peerLines = new ArrayList<>();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(peer.getInputStream()))) {
            String port = null;
            for (String line; port == null && (line = out.readLine()) != null;) {
                peerLines.add(line);
                port = line.startsWith("port=") ? line.substring(5) : null;
            }
            assertTrue(port != null, "the peer listens: " + peerLines);
            Process victim = victim(port);
            String victimOutput = new String(victim.getInputStream().readAllBytes());
            assertTrue(victim.waitFor(120, TimeUnit.SECONDS), "victim finished");
            System.out.println("victim:\n" + victimOutput);
            assertEquals(0, victim.exitValue(), "the victim's exit status (134: SIGBUS)");
            assertTrue(victimOutput.contains("posixMappings=0"), "the victim maps no POSIX shared memory");
            assertTrue(victimOutput.lines().anyMatch(l -> l.matches("shrunk=[2-9][0-9]*|shrunk=1[0-9]+")),
                    "the peer shrank its receive queue and its window, at least: " + victimOutput);
            assertTrue(victimOutput.contains("after=ok"), "put, get and send after the shrinking");
            out.lines().forEach(peerLines::add);
        } finally {
            assertTrue(peer.waitFor(60, TimeUnit.SECONDS) || peer.destroyForcibly().waitFor(10, TimeUnit.SECONDS));
            System.out.println("peer:\n" + String.join("\n", peerLines));
        }
    }

    /** The victim, with UCX's transports left to memreg (this JVM's environment may name them). */
    private static Process victim(String port) throws Exception {
        List<String> command = new ArrayList<>(ChildJvm.javaCommand(ShmVictimChild.class));
        command.add(1, "-XX:ErrorFile=/tmp/memreg-shm-victim-%p.log");
        command.add(port);
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().remove("UCX_TLS");
        return builder.start();
    }
}
