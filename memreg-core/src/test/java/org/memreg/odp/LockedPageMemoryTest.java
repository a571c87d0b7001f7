package org.memreg.odp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.memreg.linux.Mincore;
import org.memreg.linux.Mman;
import org.memreg.linux.SysConf;
import org.memreg.util.TestSeeds;

/**
 * The protocol over real memory, in one process: two peers (page tables with in-memory FIFO
 * channels) write into an owner's mlocked region through their tables while the owner reclaims
 * random ranges. Every write is checked against the owner's page state as it happens; afterwards
 * every page the owner still holds has exactly the bytes written last, and every reclaimed page is
 * really out of memory (mincore) and reads zero once established again.
 */
class LockedPageMemoryTest {
    private static final int PAGES = 64;

    @Test
    void shouldKeepWrittenBytesAndReallyReleaseReclaimedPages() {
        long seed = TestSeeds.seed("LockedPageMemoryTest");
        SplittableRandom random = new SplittableRandom(seed);
        long page = SysConf.pageSize();
        long address = Mman.mapAnonymous(PAGES * page);
        try {
            MemorySegment memory = MemorySegment.ofAddress(address).reinterpret(PAGES * page);
            ArrayDeque<Object[]> toPeers = new ArrayDeque<>();
            ArrayDeque<OdpMessage> toOwner = new ArrayDeque<>();
            long[] expected = new long[PAGES]; // the value every word of the page holds, 0 after a release
            LockedPageMemory real = new LockedPageMemory(address, false).establishAll(PAGES);
            PageMemory tracked = new PageMemory() {
                @Override
                public void release(PageRange range) {
                    real.release(range);
                    for (int p = range.first(); p < range.end(); p++) {
                        expected[p] = 0;
                    }
                }

                @Override
                public void establish(PageRange range) {
                    real.establish(range);
                }
            };
            OwnerPageTable owner = new OwnerPageTable(PAGES, tracked,
                    (peer, m) -> toPeers.add(new Object[] {peer, m}), 1_000_000);
            PeerPageTable[] peers = {new PeerPageTable(1, PAGES, toOwner::add), new PeerPageTable(2, PAGES, toOwner::add)};
            owner.connect(1);
            owner.connect(2);
            long writes = 0;
            long badWrites = 0;
            for (int step = 0; step < 20_000; step++) {
                int what = random.nextInt(10);
                if (what < 5) {
                    PeerPageTable peer = peers[random.nextInt(2)];
                    int first = random.nextInt(PAGES);
                    PageRange r = new PageRange(first, 1 + random.nextInt(Math.min(4, PAGES - first)));
                    if (peer.tryBegin(r)) { // the "RMA": a write the owner sees land
                        if (!owner.accessAllowed(peer.peer(), r)) {
                            badWrites++;
                        }
                        long value = random.nextLong() | 1;
                        for (int p = r.first(); p < r.end(); p++) {
                            memory.asSlice(p * page, page).fill((byte) 0);
                            memory.set(ValueLayout.JAVA_LONG, p * page, value);
                            expected[p] = value;
                        }
                        writes++;
                        peer.end(r);
                    }
                } else if (what < 6) {
                    int first = random.nextInt(PAGES);
                    PageRange r = new PageRange(first, 1 + random.nextInt(Math.min(8, PAGES - first)));
                    owner.reclaim(r, step);
                } else {
                    deliver(owner, peers, toPeers, toOwner);
                }
            }
            while (!toPeers.isEmpty() || !toOwner.isEmpty()) {
                deliver(owner, peers, toPeers, toOwner);
            }
            assertEquals(0, badWrites, "writes to pages their peer did not map at the owner");
            assertTrue(writes > 1000 && owner.stats().pagesReclaimed() > 100, writes + " " + owner.stats());
            boolean[] resident = Mincore.residency(address, PAGES * page);
            int reclaimed = 0;
            for (int p = 0; p < PAGES; p++) {
                if (owner.state(p) == OwnerPageState.RECLAIMED) {
                    reclaimed++;
                    assertFalse(resident[p], "reclaimed page " + p + " is still resident");
                } else {
                    assertEquals(OwnerPageState.PRESENT, owner.state(p));
                    assertTrue(resident[p], "present page " + p + " is not resident");
                    assertEquals(expected[p], memory.get(ValueLayout.JAVA_LONG, p * page), "page " + p);
                }
            }
            System.out.printf("  %d writes, %s, %d pages reclaimed at the end%n", writes, owner.stats(), reclaimed);
            // a reclaimed page is established again on a fault and then reads zero
            PageRange all = new PageRange(0, PAGES);
            owner.reclaim(all, 0);
            while (!toPeers.isEmpty() || !toOwner.isEmpty()) {
                deliver(owner, peers, toPeers, toOwner);
            }
            boolean[] none = new boolean[PAGES];
            assertArrayEquals(none, Mincore.residency(address, PAGES * page), "everything reclaimed");
            assertFalse(peers[0].tryBegin(all));
            while (!toPeers.isEmpty() || !toOwner.isEmpty()) {
                deliver(owner, peers, toPeers, toOwner);
            }
            assertTrue(peers[0].tryBegin(all));
            for (int p = 0; p < PAGES; p++) {
                assertEquals(0, memory.get(ValueLayout.JAVA_LONG, p * page));
            }
            peers[0].end(all);
        } finally {
            Mman.munmap(address, PAGES * page);
        }
    }

    private static void deliver(OwnerPageTable owner, PeerPageTable[] peers, ArrayDeque<Object[]> toPeers,
            ArrayDeque<OdpMessage> toOwner) {
        Object[] down = toPeers.poll();
        if (down != null) {
            PeerPageTable peer = peers[(int) (long) (Long) down[0] - 1];
            if (down[1] instanceof OdpMessage.Invalidate i) {
                peer.onInvalidate(i);
            } else {
                peer.onEstablished((OdpMessage.Established) down[1]);
            }
        }
        OdpMessage up = toOwner.poll();
        if (up instanceof OdpMessage.Ack a) {
            owner.onAck(a);
        } else if (up instanceof OdpMessage.Fault f) {
            owner.onFault(f);
        }
    }
}
