package org.memreg.odp;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.linux.Mincore;
import org.memreg.testkit.ChildJvm;
import org.memreg.transport.Endpoint;
import org.memreg.transport.ErrorMode;
import org.memreg.transport.Node;
import org.memreg.ucx.UcxTestSupport;
import org.memreg.util.TestSeeds;

/**
 * The owner (this JVM) and {@link OdpPeer} children on loopback. What the owner can observe:
 * every put and get of the peer goes through the shared-memory segment without the owner's CPU,
 * so the owner cannot see individual accesses. It sees instead (1) residency: a released page
 * of the shared segment is a hole, and any write by the peer after the release (or a read, which
 * allocates a shmem page) makes it resident again; the owner checks under the table's lock,
 * after every reclaim, that no {@code RECLAIMED} page is resident; (2) content: at the end the
 * peer sends what each page must hold (its last stamp, or zero once it gave the page up), and the
 * owner compares every present page byte for byte. The peer itself compares every get with that
 * model while it still holds the pages. Not observable: an access that raced a release by less
 * than the residency check's interval and left no trace (a read of a page about to be released).
 * Children are killed in finally blocks; every wait has a time limit.
 */
class OdpTwoProcessTest {
    private static final int PAGES = 64;

    private static long seed(String test) {
        return TestSeeds.seed(test);
    }

    private static Node owner() {
        return Node.builder().name("odp-owner").ucx("NET_DEVICES", "lo").errorMode(ErrorMode.PEER).build();
    }

    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void shouldKeepEveryByteThePeerWroteWhileTheOwnerReclaimsRandomRanges() throws Exception {
        UcxTestSupport.assumeUcx();
        long seed = seed("stream");
        try (Node node = owner();
                OdpRegion region = OdpRegion.builder(node, 0x61, PAGES * 4096L).build()) {
            assertTrue(region.isShared(), "UCX window expected to be a shared mapping here");
            Child b = Child.start(node, 0x61, "stream", 2500, seed);
            try {
                b.serve(node, region);
                stream(node, region, b, seed);
                assertEquals(0, region.stats().leaseExpiries(), "nobody was late");
            } finally {
                b.kill();
            }
        }
    }

    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void shouldFinishTheReclaimOnceAPeerKilledMidInvalidationIsGoneAndServeAnother() throws Exception {
        UcxTestSupport.assumeUcx();
        long seed = seed("kill");
        Duration lease = Duration.ofSeconds(60); // not waited for: the endpoint to a killed peer fails
        try (Node node = owner(); OdpRegion region = OdpRegion.builder(node, 0x62, PAGES * 4096L).lease(lease).build()) {
            Child b = Child.start(node, 0x62, "stall", 0, seed);
            Child c = null;
            try {
                long peerB = b.serve(node, region);
                MemorySegment note = Arena.ofAuto().allocate(8, 8);
                node.receive(20, note).get(30, TimeUnit.SECONDS); // B maps every page and holds an operation
                long started = System.nanoTime();
                assertTrue(region.reclaim(new PageRange(0, PAGES)) > 0);
                Thread.sleep(100);
                assertEquals(1, region.pendingReclaims(), "B cannot acknowledge while its operation is in flight");
                assertEquals(OwnerPageState.RECLAIMING, region.state(0));
                b.kill(); // in the middle of the invalidation
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (region.pendingReclaims() > 0 && System.nanoTime() < deadline) {
                    Thread.sleep(5);
                }
                long took = System.nanoTime() - started;
                assertEquals(0, region.pendingReclaims(), "reclaim finished");
                System.out.printf("reclaim finished %.0f ms after it started (lease %d ms)%n", took / 1e6,
                        lease.toMillis());
                assertEquals(0, region.stats().leaseExpiries());
                assertEquals(1, region.stats().peersGone());
                assertTrue(region.isCutOff(peerB));
                for (int p = 0; p < PAGES; p++) {
                    assertEquals(OwnerPageState.RECLAIMED, region.state(p), "page " + p);
                }
                boolean[] resident = Mincore.residency(region.segment().address(), PAGES * region.pageSize());
                for (int p = 0; p < PAGES; p++) {
                    assertTrue(!resident[p], "page " + p + " still resident after the reclaim");
                }
                c = Child.start(node, 0x62, "stream", 1200, seed + 1);
                c.serve(node, region);
                stream(node, region, c, seed + 1);
            } finally {
                b.kill();
                if (c != null) {
                    c.kill();
                }
            }
        }
    }

    /** Reclaims random ranges until the peer reports, then verifies its report against the memory. */
    private static void stream(Node node, OdpRegion region, Child peer, long seed) throws Exception {
        MemorySegment result = Arena.ofAuto().allocate((OdpPeer.RESULT_HEADER + PAGES) * 8L, 8);
        CompletableFuture<Long> done = node.receive(20, result);
        SplittableRandom random = new SplittableRandom(seed ^ 0x5EED);
        long reclaims = 0;
        long violations = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(40);
        while (!done.isDone()) {
            assertTrue(System.nanoTime() < deadline, "peer did not report: " + peer.output);
            assertTrue(peer.process.isAlive() || done.isDone(), "peer died: " + peer.output);
            int count = 1 + random.nextInt(8);
            region.reclaim(new PageRange(random.nextInt(PAGES - count + 1), count));
            reclaims++;
            violations += region.residentReclaimedPages();
            Thread.sleep(random.nextInt(3));
        }
        assertEquals((OdpPeer.RESULT_HEADER + PAGES) * 8L, done.get(10, TimeUnit.SECONDS));
        long quiet = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (region.pendingReclaims() > 0 && System.nanoTime() < quiet) {
            Thread.sleep(2);
        }
        assertEquals(0, region.pendingReclaims());
        int[] present = {0};
        List<String> bad = new ArrayList<>();
        region.withStatesFrozen(() -> {
            for (int p = 0; p < PAGES; p++) {
                if (region.state(p) == OwnerPageState.PRESENT) {
                    present[0]++;
                    long stamp = result.get(JAVA_LONG, (OdpPeer.RESULT_HEADER + p) * 8L);
                    MemorySegment page = region.segment().asSlice(p * region.pageSize(), region.pageSize());
                    String why = OdpPeer.check(page, p, stamp, region.pageSize());
                    if (why != null) {
                        bad.add(why);
                    }
                }
            }
        });
        violations += region.residentReclaimedPages();
        OdpStats stats = region.stats();
        long verified = result.get(JAVA_LONG, 0);
        long mismatches = result.get(JAVA_LONG, 8);
        long puts = result.get(JAVA_LONG, 16);
        System.out.printf("reclaims %d, peer puts %d, gets verified %d, mismatches %d; present pages checked %d;"
                + " %s%n", reclaims, puts, verified, mismatches, present[0], stats);
        peer.stop();
        assertEquals(List.of(), bad, "present pages differ from what the peer wrote");
        assertEquals(0, mismatches, "the peer read bytes it did not write: " + peer.output);
        assertEquals(0, violations, "released pages became resident again");
        assertTrue(verified > 0 && puts > 0, "the peer did work");
        assertTrue(stats.faults() > 0 && stats.pagesReclaimed() > 0 && stats.invalidationsAcked() > 0
                && stats.pagesReestablished() > 0, "the protocol ran: " + stats);
    }

    /** A child JVM running {@link OdpPeer}; its output is kept for failure messages. */
    private static final class Child {
        final Process process;
        final List<String> output = Collections.synchronizedList(new ArrayList<>());
        Endpoint endpoint;
        int port;

        private Child(Process process) {
            this.process = process;
        }

        static Child start(Node node, int region, String mode, long millis, long seed) throws Exception {
            List<String> command = new ArrayList<>(ChildJvm.javaCommand(OdpPeer.class));
            // Some children are killed on purpose: their counters stay in memory, not in a file left in
            // the user's counters directory for memreg stat to list as dead.
            command.add(1, "-D" + OdpRegion.STATS_PROP_NAME + "=false");
            command.addAll(List.of("0", Integer.toString(region), mode,
                    Long.toString(millis), Long.toString(seed)));
            ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
            builder.environment().put("UCX_NET_DEVICES", "lo");
            Child child = new Child(builder.start());
            CompletableFuture<Integer> port = new CompletableFuture<>();
            Thread.ofPlatform().daemon().start(() -> {
                try (BufferedReader reader = new BufferedReader(
                        new InputStreamReader(child.process.getInputStream()))) {
                    for (String line; (line = reader.readLine()) != null;) {
                        child.output.add(line);
                        System.out.println("[peer] " + line);
                        if (line.startsWith("port=")) {
                            port.complete(Integer.parseInt(line.substring(5)));
                        }
                    }
                } catch (Exception ignored) {
                    // the child was killed
                }
                port.completeExceptionally(new IllegalStateException("child ended: " + child.output));
            });
            try {
                child.port = port.get(60, TimeUnit.SECONDS);
            } catch (Exception e) {
                child.kill();
                throw new AssertionError("child did not start: " + child.output, e);
            }
            return child;
        }

        /** Connects to the child and has {@code region} serve it; returns its peer id. */
        long serve(Node node, OdpRegion region) {
            endpoint = node.connect("127.0.0.1", port);
            return region.serve(endpoint);
        }

        void stop() throws Exception {
            endpoint.send(22, Arena.ofAuto().allocate(8, 8)).get(10, TimeUnit.SECONDS);
            assertTrue(process.waitFor(30, TimeUnit.SECONDS), "peer stopped: " + output);
        }

        void kill() throws InterruptedException {
            process.toHandle().destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
