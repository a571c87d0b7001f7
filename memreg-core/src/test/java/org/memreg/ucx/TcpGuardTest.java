package org.memreg.ucx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.memreg.testkit.ChildJvm;
import org.memreg.testkit.Unprivileged;
import org.memreg.util.TestSeeds;

/**
 * memreg's guard over UCX's TCP transport ({@link TcpGuard}): workers that share a token talk over
 * TCP as before; a stranger's bytes, which aborted UCX 1.13, and a stranger's put, which wrote
 * memory nobody registered, are cut off before UCX reads them; so are the frames UCX asserts
 * against from a peer that holds the token.
 */
@Unprivileged
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class TcpGuardTest {
    /** Above UCX's rendezvous threshold: the receiver answers over a connection of its own. */
    private static final int MESSAGE = 256 << 10;
    private static final int RW = Ucp.PROT_LOCAL_READ | Ucp.PROT_LOCAL_WRITE | Ucp.PROT_REMOTE_READ
            | Ucp.PROT_REMOTE_WRITE;
    private static final List<Map<String, String>> CONFIGS = List.of(TcpGuardProbe.TCP, Map.of("TLS", "tcp"),
            Map.of("TLS", "tcp", "ADDRESS_VERSION", "v2"));

    @BeforeEach
    void needsUcx() {
        UcxTestSupport.assumeUcx();
    }

    private static byte[] token(long seed) {
        byte[] token = new byte[TcpGuard.TOKEN_BYTES];
        new Random(seed).nextBytes(token);
        return token;
    }

    @Test
    void workersSharingATokenShouldTalkOverTcp() {
        byte[] token = token(TestSeeds.seed("TcpGuardTest.share"));
        for (Map<String, String> config : CONFIGS) {
            try (UcxContext context = UcxContext.create(config); UcxWorker a = UcxWorker.create(context);
                 UcxWorker b = UcxWorker.create(context); Arena arena = Arena.ofConfined()) {
                assertTrue(a.requireTcpToken(token) >= 1, config + ": a TCP listener");
                assertTrue(b.requireTcpToken(token) >= 1, config + ": a TCP listener");
                long admitted = TcpGuard.admitted();
                long refused = TcpGuard.refused();
                long ep = a.connect(b.address(), Ucp.ERR_HANDLING_MODE_PEER);
                MemorySegment sent = arena.allocate(MESSAGE);
                sent.fill((byte) 's');
                MemorySegment received = arena.allocate(MESSAGE);
                UcxTestSupport.sendAndReceive(a, ep, b, sent, received, 5);
                assertEquals(-1L, sent.mismatch(received), config + ": the rendezvous arrived whole");
                assertTrue(TcpGuard.admitted() > admitted, config + ": admitted"); // UCX answers over it
                assertEquals(refused, TcpGuard.refused(), config + ": nothing refused");
                UcxTestSupport.complete(a.closeEndpoint(ep, true), a, b);
            }
        }
    }

    /**
     * The frame check must refuse nothing UCX itself sends: seeded messages (eager to rendezvous)
     * both ways, and UCT puts of random sizes and places, between workers with a token and without;
     * each arrives whole.
     */
    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void randomTrafficShouldPassTheFrameCheckWhole(boolean withToken) {
        long seed = TestSeeds.seed("TcpGuardTest.traffic");
        Random random = new Random(seed);
        byte[] token = token(seed);
        int window = 1 << 20;
        try (UcxContext context = UcxContext.create(TcpGuardProbe.TCP); UcxWorker a = UcxWorker.create(context);
             UcxWorker b = UcxWorker.create(context); UcxMemory target = context.allocate(window, RW);
             UcxMemory source = context.allocate(window, RW); Arena arena = Arena.ofConfined()) {
            if (withToken) {
                a.requireTcpToken(token);
                b.requireTcpToken(token);
            }
            long refused = TcpGuard.framesRefused();
            long ab = a.connect(b.address(), Ucp.ERR_HANDLING_MODE_PEER);
            long ba = b.connect(a.address(), Ucp.ERR_HANDLING_MODE_PEER);
            long key = a.unpackRkey(ab, target.packRkey());
            MemorySegment received = arena.allocate(window);
            for (int i = 0; i < 80; i++) {
                int length = 1 + random.nextInt(random.nextBoolean() ? 256 : 300 << 10);
                byte[] bytes = new byte[length];
                random.nextBytes(bytes);
                MemorySegment from = source.segment().asSlice(0, length).copyFrom(MemorySegment.ofArray(bytes));
                String what = "seed " + seed + ", step " + i + ", " + length + " bytes";
                switch (random.nextInt(3)) {
                    case 0 -> UcxTestSupport.sendAndReceive(a, ab, b, from, received.asSlice(0, length), i);
                    case 1 -> UcxTestSupport.sendAndReceive(b, ba, a, from, received.asSlice(0, length), i);
                    default -> {
                        long offset = random.nextInt(window - length + 1);
                        UcxTestSupport.complete(a.put(ab, from.address(), length, target.address() + offset, key,
                                source.memh()), a, b);
                        UcxTestSupport.complete(a.flushEndpoint(ab), a, b);
                        received.asSlice(0, length).copyFrom(target.segment().asSlice(offset, length));
                    }
                }
                assertEquals(-1L, from.mismatch(received.asSlice(0, length)), what + ": arrived whole");
                assertEquals(refused, TcpGuard.framesRefused(), what + ": nothing refused"); // else the next step hangs
            }
            a.destroyRkey(key);
            UcxTestSupport.complete(a.closeEndpoint(ab, true), a, b);
            UcxTestSupport.complete(b.closeEndpoint(ba, true), a, b);
        }
    }

    /**
     * The guard's checks of ids and puts hold only if UCP issues indirect ids and runs its first
     * protocols (whose rendezvous receives the guard follows): a context is made so, over the
     * environment, and refuses to be made otherwise. UCT's put over TCP is the caller's to choose.
     */
    @Test
    void aContextShouldIssueIndirectIdsAndRunUcpsFirstProtocols() {
        try (UcxContext context = UcxContext.create(Map.of("TLS", "tcp", "PROTO_INDIRECT_ID", "ON",
                "TCP_PUT_ENABLE", "n"))) {
            assertEquals("on", context.config().get("PROTO_INDIRECT_ID"));
            assertEquals("n", context.config().get("PROTO_ENABLE"));
            assertEquals("n", context.config().get("TCP_PUT_ENABLE"), "left as asked");
        }
        for (Map<String, String> config : List.of(Map.of("PROTO_INDIRECT_ID", "auto"), Map.of("PROTO_INDIRECT_ID", "off"),
                Map.of("PROTO_ENABLE", "y"), Map.of("PROTO_ENABLE", "yes"))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> UcxContext.create(config));
            String setting = config.entrySet().iterator().next().toString();
            assertTrue(e.getMessage().startsWith(setting), setting + ": " + e.getMessage());
        }
    }

    @Test
    void aTokenShouldBeSixteenBytesRequiredOnceAndForgottenWithItsWorker() {
        byte[] address;
        try (UcxContext context = UcxContext.create(TcpGuardProbe.TCP); UcxWorker worker = UcxWorker.create(context)) {
            address = worker.address();
            assertThrows(IllegalArgumentException.class, () -> worker.requireTcpToken(new byte[15]));
            assertEquals(0, TcpGuard.guarded(address));
            worker.requireTcpToken(new byte[16]);
            assertEquals(1, TcpGuard.guarded(address));
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> worker.requireTcpToken(new byte[16]));
            assertTrue(e.getMessage().contains("already"), e.getMessage());
        }
        assertEquals(0, TcpGuard.guarded(address), "its port may serve a worker that requires nothing");
    }

    @Test
    void whatAbortedUcxShouldBeRefusedFromStrangersAndTokenHoldersAndTheWorkerServeOn() throws Exception {
        long seed = TestSeeds.seed("TcpGuardTest.frames");
        byte[] token = token(seed);
        ChildJvm probe = ChildJvm.run(Map.of("UCX_LOG_LEVEL", "fatal"), List.of(), TcpGuardProbe.class,
                HexFormat.of().formatHex(token), String.valueOf(seed));
        assertEquals("true", probe.text("survived"), "seed " + seed);
        assertEquals(1, probe.value("listeners"));
        List<TcpGuardProbe.Attack> attacks = TcpGuardProbe.attacks(token, seed);
        assertEquals(attacks.size(), probe.value("attacks"));
        for (TcpGuardProbe.Attack attack : attacks) {
            assertEquals("refused", probe.text(attack.name()), attack.name() + " refused for "
                    + (attack.fault() == null ? "its token" : attack.fault()) + ", seed " + seed);
        }
        assertEquals("served", probe.text("received"), "a token holder is served after them");
        assertTrue(probe.value("admitted") >= 1, "admitted: " + probe.value("admitted"));
    }

    @Test
    void aStrangersPutShouldNotLandAndATokenHoldersShould() {
        byte[] token = token(TestSeeds.seed("TcpGuardTest.put"));
        byte[] wrong = token.clone();
        wrong[0] ^= 0x40;
        try (UcxContext context = UcxContext.create(TcpGuardProbe.TCP); UcxWorker victim = UcxWorker.create(context);
             UcxMemory window = context.allocate(4096, RW); Arena arena = Arena.ofConfined()) {
            victim.requireTcpToken(token);
            String address = HexFormat.of().formatHex(victim.address());
            MemorySegment unregistered = arena.allocate(64);
            unregistered.fill((byte) 'v');
            window.segment().fill((byte) 'w');
            String key = HexFormat.of().formatHex(window.packRkey());
            for (String[] stranger : List.of(new String[] {"none"}, new String[] {HexFormat.of().formatHex(wrong), key})) {
                long refused = TcpGuard.refused();
                ChildJvm attacker = attack(victim, address, String.valueOf(unregistered.address()), stranger);
                assertTrue(TcpGuard.refused() > refused, "the stranger's connection refused: " + attacker.lines());
                byte[] untouched = new byte[64];
                Arrays.fill(untouched, (byte) 'v');
                assertArrayEquals(untouched, unregistered.toArray(ValueLayout.JAVA_BYTE), "unregistered memory untouched");
                assertTrue(!attacker.text("flush").equals("Success"), "the stranger's put never completed: "
                        + attacker.text("flush"));
            }
            long admitted = TcpGuard.admitted();
            ChildJvm holder = attack(victim, address, String.valueOf(window.address()), HexFormat.of().formatHex(token),
                    key);
            assertEquals("Success", holder.text("flush"), "a token holder's put into the window completes");
            assertEquals("XXXXXXXXXXXXXXXXwwww", new String(window.segment().asSlice(0, 20).toArray(ValueLayout.JAVA_BYTE)));
            assertTrue(TcpGuard.admitted() > admitted, "its connection admitted");
            assertTrue(holder.value("shown") >= 1, "it showed the token");
        }
    }

    /**
     * UCP answers an endpoint check naming an endpoint it lacks by connecting to the address the
     * check carries. A check of an endpoint the worker had and closed (its peer's, legitimately)
     * still makes it connect, and the answer there, a frame UCX aborts on, is refused like any
     * other (before, such a connection was not checked, and the process died); a check naming an id
     * the worker never issued (a stranger's) is dropped, and the worker connects nowhere.
     */
    @ParameterizedTest
    @ValueSource(strings = {"destroyed", "made-up"})
    void anEndpointCheckShouldMakeTheWorkerConnectOnlyForAnEndpointItHad(String which) throws Exception {
        ChildJvm probe = ChildJvm.run(Map.of("UCX_LOG_LEVEL", "fatal"), List.of(), EndpointCheckProbe.class, which);
        assertEquals("true", probe.text("survived"), "the worker survived: " + probe.lines());
        boolean had = which.equals("destroyed");
        assertEquals(Boolean.toString(had), probe.text("connectedOut"), "UCP connected to the sender's listener");
        assertEquals(had ? 1 : 0, probe.value("refused"), "the sender's frame refused as too long");
        assertEquals(had ? 0 : 1, probe.value("dropped"), "the check dropped");
        assertEquals("served", probe.text("received"));
    }

    /**
     * A rendezvous ATP naming a send in flight aborted the process, from a stranger while request ids
     * were counted from zero, and still from the peer the send went to; now it is dropped where UCP
     * asserts, the send stays waiting, and the worker serves on. The other ids name no request,
     * and UCP drops those itself.
     */
    @Test
    void aForgedAtpNamingASendShouldNotEndTheWorker() throws Exception {
        ChildJvm forger = forge("atp");
        assertEquals("true", forger.text("named"));
        assertEquals(1, forger.value("dropped"), "the one that named the waiting send");
        assertEquals("Operation in progress", forger.text("early"), "that send never completes");
    }

    /**
     * Request ids were counted from zero: a stranger's ATS or RTR at id 3 completed a send as
     * delivered; and counted on from a random start, a peer's ATS next to an id it saw would.
     */
    @ParameterizedTest
    @ValueSource(strings = {"ats", "rtr", "ats-near"})
    void guessingRequestIdsShouldNotCompleteASendItsReceiverNeverGot(String kind) throws Exception {
        ChildJvm forger = forge(kind);
        if (kind.equals("ats-near")) {
            assertEquals("Success,whole/Success", forger.text("earlier"), "the send whose id the peer saw");
        }
        assertEquals("false", forger.text("named"), "no guess named the waiting send");
        assertEquals(0, forger.value("dropped"));
        assertEquals("Operation in progress", forger.text("early"), "the send waits for its receiver");
        assertEquals("Success,whole", forger.text("delivered"));
        assertEquals("Success", forger.text("sent"));
    }

    /** A peer's completion naming its own endpoint, whose flush state was not set up, aborted the process. */
    @Test
    void aCompletionNamingAnEndpointWithoutFlushStateShouldBeDropped() throws Exception {
        ChildJvm forger = ChildJvm.run(Map.of("UCX_LOG_LEVEL", "fatal"), List.of(), CompletionForger.class);
        assertEquals("true", forger.text("survived"), "the worker survived: " + forger.lines());
        assertTrue(forger.value("forged") >= 2, "one to each endpoint of the two workers");
        assertTrue(forger.value("dropped") >= 1, "the worker's own endpoint's, where UCP asserted");
        assertEquals("served,served", forger.text("received"));
    }

    /**
     * UCP's messages of kinds memreg never sends (eager sync, tag offload, stream, atomics, the
     * active-message API, ids UCP does not use) end their connection before UCP reads them; each
     * would reach a handler that trusts it, or one that logs a warning and a backtrace per message.
     */
    @Test
    void aKindOfMessageMemregNeverSendsShouldEndItsConnection() throws Exception {
        int[] unused = {0, 5, 6, 7, 8, 13, 14, 15, 20, 21, 23, 24, 25, 26, 27, 31};
        try (ForgeryTarget target = new ForgeryTarget()) {
            for (int kind : unused) {
                long before = TcpGuard.framesRefused(FrameFault.UNUSED_KIND);
                target.forge(new TcpFrames().magic().request(kind + 1L, 0, 9).header(kind, 24).bytes(new byte[24])
                        .toArray(), () -> TcpGuard.framesRefused(FrameFault.UNUSED_KIND) > before, 5_000_000_000L);
                assertEquals(before + 1, TcpGuard.framesRefused(FrameFault.UNUSED_KIND), "kind " + kind);
            }
            assertEquals("served,served", target.exchange());
        }
    }

    /** Runs RendezvousForger with kind: the worker survived, took 32 forged messages and served after. */
    private static ChildJvm forge(String kind) throws Exception {
        ChildJvm forger = ChildJvm.run(Map.of("UCX_LOG_LEVEL", "fatal"), List.of(), RendezvousForger.class, kind);
        assertEquals("true", forger.text("survived"), "the worker survived: " + forger.lines());
        assertEquals(32, forger.value("forged"));
        assertEquals("served,served", forger.text("received"));
        return forger;
    }

    /** Runs TcpGuardPutChild against victim, which this thread progresses meanwhile. */
    private static ChildJvm attack(UcxWorker victim, String address, String target, String... how) {
        String[] args = new String[2 + how.length];
        args[0] = address;
        args[1] = target;
        System.arraycopy(how, 0, args, 2, how.length);
        return UcxTestSupport.runAgainst(victim, TcpGuardPutChild.class, args);
    }
}
