package org.memreg.numa;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.EnumSource;
import org.memreg.cache.Registration;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.Access;
import org.memreg.device.SimulatedNic;
import org.memreg.device.StaleTransferException;
import org.memreg.linux.Mman;
import org.memreg.linux.SysConf;
import org.memreg.memory.HugePages;
import org.memreg.memory.RegisteredArena;

/**
 * Migration in step with the registration cache, from node 0 to node 1 of a simulated topology and
 * of the kernel's real nodes (the VM of bin/vm-test): a move gives pages new frames, and the strict
 * simulated NIC throws on any transfer that would touch one.
 */
@ParameterizedClass(name = "{0}")
@EnumSource(TestTopology.class)
class MigrationCoordinationTest {
    private static final long PAGE = SysConf.pageSize();
    private static final int PAGES = 16;
    private static final long LENGTH = PAGES * PAGE;
    @Parameter
    TestTopology kind;
    private PagePlacement placement;
    private final SimulatedNic nic = SimulatedNic.builder().free().strict(true).build();
    private final RegistrationCache cache = RegistrationCache.builder(nic).build();
    private final Arena arena = Arena.ofConfined();
    private long address;

    @BeforeEach
    void setUp() throws Exception {
        assumeTrue(nic.detectsStalePages(), "stale frames are only visible to root");
        placement = kind.create().placement();
        address = Mman.mapAnonymous(LENGTH);
        placement.touchFrom(0, address, LENGTH);
        MemorySegment memory = Mman.segment(address, LENGTH);
        for (int i = 0; i < PAGES; i++) {
            memory.set(JAVA_LONG, i * PAGE, 1000L + i);
        }
    }

    @AfterEach
    void tearDown() {
        cache.close();
        nic.close();
        arena.close();
        if (address != 0) {
            Mman.munmap(address, LENGTH);
        }
    }

    private long readThroughNic(Registration registration, int page) {
        MemorySegment buffer = arena.allocate(8);
        nic.read(registration.localKey(), address + page * PAGE, buffer);
        return buffer.get(JAVA_LONG, 0);
    }

    @Test
    void shouldInvalidateOnMigrationAndRegisterTheMovedPagesOnTheNextAcquire() throws Exception {
        Registration before = cache.acquire(address, LENGTH, Access.ALL);
        assertEquals(1003L, readThroughNic(before, 3));
        before.close(); // unused but cached: the migration must not leave it behind

        NodeSummary census = placement.query(address, LENGTH).summary();
        MigrationReport report = RangeMigrator.withCache(placement, cache, Duration.ofSeconds(1)).moveTo(address, LENGTH, 1);
        System.out.println(kind + " registered range moved to node 1: before " + census + ", after "
                + placement.query(address, LENGTH).summary());

        assertEquals(PAGES, census.onNode(0), census.toString());
        assertEquals(PAGES, report.node(0).moved(), report.format());
        assertEquals(List.of(), report.busy());
        assertFalse(before.isValid(), "the registration of the old frames is gone");
        assertEquals(PAGES, placement.query(address, LENGTH).summary().onNode(1));
        long misses = cache.stats().misses();
        try (Registration after = cache.acquire(address, LENGTH, Access.ALL)) {
            assertEquals(misses + 1, cache.stats().misses(), "re-registered, not a hit on the stale entry");
            for (int i = 0; i < PAGES; i++) {
                assertEquals(1000L + i, readThroughNic(after, i), "page " + i + " moved with its data");
            }
        }
        assertEquals(0, nic.staleTransfers());
    }

    @Test
    void shouldReportAHeldRangeBusyAndLeaveItWhereItIs() throws Exception {
        try (Registration held = cache.acquire(address, LENGTH, Access.ALL)) {
            MigrationReport report = RangeMigrator.withCache(placement, cache, Duration.ofMillis(50))
                    .moveTo(address, LENGTH, 1);

            assertEquals(1, report.busy().size(), report.format());
            assertEquals(new MigrationReport.BusyRange(address, LENGTH, 1), report.busy().getFirst());
            assertEquals(0, report.moved(), report.format());
            assertTrue(report.format().contains("busy (1 registration held)"), report.format());
            assertEquals(PAGES, placement.query(address, LENGTH).summary().onNode(0), "not moved");
            assertTrue(held.isValid(), "a holder's registration stays valid");
            assertEquals(1005L, readThroughNic(held, 5));
        }
        assertEquals(0, nic.staleTransfers());
    }

    @Test
    void shouldMoveOnceTheHolderReleasesWithinTheTimeout() throws Exception {
        Registration held = cache.acquire(address, LENGTH, Access.ALL);
        Thread releaser = Thread.ofPlatform().start(() -> {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            held.close();
        });
        MigrationReport report = RangeMigrator.withCache(placement, cache, Duration.ofSeconds(10)).moveTo(address, LENGTH, 1);
        releaser.join();
        assertEquals(List.of(), report.busy(), report.format());
        assertEquals(PAGES, report.moved(), report.format());
        assertFalse(held.isValid());
    }

    @Test
    void shouldCatchTheStaleTransferAMigrationWithoutTheCacheCauses() throws Exception {
        // The control: this is what the coordination prevents, and the NIC does see it.
        try (Registration held = cache.acquire(address, LENGTH, Access.ALL)) {
            MigrationReport report = RangeMigrator.of(placement).moveTo(address, LENGTH, 1);
            assertEquals(PAGES, report.moved(), report.format());
            assertThrows(StaleTransferException.class, () -> readThroughNic(held, 0));
        }
        assertEquals(1, nic.staleTransfers());
    }

    @Test
    void shouldReportMemregAllocatedMemoryBusyWhileItsArenaHoldsIt() throws Exception {
        try (RegisteredArena owned = RegisteredArena.of(cache, Access.ALL, HugePages.NEVER)) {
            MemorySegment segment = owned.allocate(4 * PAGE, PAGE);
            MigrationReport report = RangeMigrator.withCache(placement, cache, Duration.ofMillis(20))
                    .moveTo(segment.address(), segment.byteSize(), 1);
            assertEquals(1, report.busy().size(), "the arena holds its registration for life: " + report.format());
            assertEquals(0, report.moved(), report.format());
            assertTrue(owned.registration(segment).isValid());
        }
    }
}
