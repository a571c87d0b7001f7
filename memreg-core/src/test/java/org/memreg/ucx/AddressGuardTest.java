package org.memreg.ucx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.testkit.ChildJvm;
import org.memreg.testkit.Unprivileged;
import org.memreg.util.TestSeeds;

/**
 * memreg's guard over UCX worker addresses ({@link AddressGuard}): it passes what UCX packs, sits
 * in libucp's own path, and refuses the damage that aborted or crashed UCX 1.13 before it read it.
 */
@Unprivileged
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class AddressGuardTest {
    /** Above UCX's rendezvous threshold, for which the sender's endpoint sends a wire-up request. */
    private static final int MESSAGE = 256 << 10;
    private static final List<Map<String, String>> CONFIGS = List.of(Map.of(), Map.of("NET_DEVICES", "lo"),
            Map.of("ADDRESS_VERSION", "v2"), Map.of("TLS", "tcp"), Map.of("TLS", "sm,self"));

    @BeforeEach
    void needsUcx() {
        UcxTestSupport.assumeUcx();
    }

    @Test
    void shouldPassTheAddressesUcxPacksAndSeeLibucpUnpackThemFromWireUpMessagesToo() {
        for (Map<String, String> config : CONFIGS) {
            try (UcxContext context = UcxContext.create(config);
                 UcxWorker a = UcxWorker.create(context);
                 UcxWorker b = UcxWorker.create(context)) {
                byte[] address = b.address();
                assertNull(AddressGuard.check(address), config + ": " + Arrays.toString(address));
                AddressLayout.of(address); // the test's own reading agrees on where it ends
                long unpacked = AddressGuard.unpacked();
                long ep = a.connect(address, Ucp.ERR_HANDLING_MODE_NONE);
                assertTrue(AddressGuard.unpacked() > unpacked, "libucp's ucp_ep_create unpacked through the guard");
                unpacked = AddressGuard.unpacked();
                try (Arena arena = Arena.ofConfined()) { // a rendezvous a to b: UCX's wire-up tells b of a
                    MemorySegment buffer = arena.allocate(MESSAGE);
                    UcxTestSupport.sendAndReceive(a, ep, b, buffer, buffer, 7);
                }
                assertTrue(AddressGuard.unpacked() > unpacked, config + ": b unpacked a's address from a wire-up message");
                UcxTestSupport.complete(a.closeEndpoint(ep, true), a, b);
            }
        }
    }

    @Test
    void shouldRefuseEveryCutAndTheDamageThatCrashedUcx() {
        for (Map<String, String> config : List.of(Map.of("NET_DEVICES", "lo"),
                Map.of("NET_DEVICES", "lo", "ADDRESS_VERSION", "v2"))) {
            try (UcxContext context = UcxContext.create(config); UcxWorker worker = UcxWorker.create(context)) {
                byte[] real = worker.address();
                for (int length = 0; length < real.length; length++) {
                    assertEquals("it is cut short", AddressGuard.check(Arrays.copyOf(real, length)),
                            config + ", cut at " + length);
                }
                List<byte[]> crashers = AddressGuardProbe.crashers(real);
                assertTrue(crashers.size() >= 4 * AddressLayout.of(real).interfaces().size(), "crafted: " + crashers.size());
                for (byte[] address : crashers) {
                    assertNotNull(AddressGuard.check(address), config + ": passed " + Arrays.toString(address));
                    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                            () -> worker.connect(address, Ucp.ERR_HANDLING_MODE_NONE));
                    assertTrue(e.getMessage().startsWith("not a UCX worker address: "), e.getMessage());
                }
            }
        }
    }

    @Test
    void ucxLoadedBeforeTheGuardsShouldBeRefusedNotRunUnguarded() throws Exception {
        ChildJvm child = ChildJvm.run(List.of(), LoadsUcxFirst.class);
        assertEquals("false", child.text("available"));
        assertTrue(child.text("reason").contains("libucp.so.0 was loaded into this process before memreg's guards"),
                child.text("reason"));
    }

    /** Loads libucp as another UCX binding would, then asks memreg for UCX. */
    public static final class LoadsUcxFirst {
        @SuppressWarnings("restricted")
        public static void main(String[] args) {
            SymbolLookup.libraryLookup("libucp.so.0", Arena.global());
            System.out.println("available=" + Ucp.isAvailable());
            System.out.println("reason=" + Ucp.unavailableReason().orElse("none"));
        }
    }

    @Test
    void unifiedModeShouldBeRefusedForItChangesTheFormat() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> UcxContext.create(Map.of("UNIFIED_MODE", "y")));
        assertTrue(e.getMessage().contains("UNIFIED_MODE=y"), e.getMessage());
        try (UcxContext off = UcxContext.create(Map.of("UNIFIED_MODE", "off"))) {
            assertEquals("n", off.config().get("UNIFIED_MODE"));
        }
    }

    @Test
    void damagedAddressesShouldNeitherCrashNorBeReadPastTheirEnd() throws Exception {
        long seed = TestSeeds.seed("AddressGuardTest");
        // UCX's own complaints (thousands: unreachable segments, unmatched messages) go to stdout and
        // can split the probe's lines; an assertion or a crash is still reported at this level
        ChildJvm probe = ChildJvm.run(Map.of("UCX_LOG_LEVEL", "fatal"), List.of(), AddressGuardProbe.class,
                String.valueOf(seed));
        assertEquals("true", probe.text("survived"), "seed " + seed);
        assertEquals(probe.value("crafted"), probe.value("craftedRefused"), "every crafted address refused");
        assertEquals(probe.value("crafted"), probe.value("bypassRefused"), "libucp's own unpacking refused them");
        assertEquals(0, probe.value("bypassCreated"));
        assertTrue(probe.value("tries") > 1000, "tries: " + probe.value("tries"));
        assertTrue(probe.value("connected") > probe.value("tries") / 4, "most damage is harmless and connects: "
                + probe.value("connected"));
        assertEquals(100_000, probe.value("overreads"));
    }
}
