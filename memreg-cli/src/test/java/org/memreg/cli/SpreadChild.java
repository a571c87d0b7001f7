package org.memreg.cli;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemorySegment;
import org.memreg.linux.Mman;
import org.memreg.linux.SysConf;
import org.memreg.numa.FirstTouch;
import org.memreg.numa.NodeSet;
import org.memreg.numa.PagePlacement;
import org.memreg.numa.SysfsTopology;

/**
 * A live process for {@link LiveMigrationTest}: maps {@value #PARTS} parts of {@value #PART_PAGES}
 * pages, binds part {@code i} to node {@code i} and first-touches it from there (without the
 * binding a node short of free memory, say full of page cache, would hand pages to its neighbour:
 * zone_reclaim_mode 0), writes a pattern, prints {@code address=<hex>}, and when its stdin closes exits 0 if the pattern is intact
 * (3 if a move lost data).
 */
public final class SpreadChild {
    static final int PARTS = 4;
    static final int PART_PAGES = 256;

    private SpreadChild() {
    }

    public static void main(String[] args) throws Exception {
        long page = SysConf.pageSize();
        long length = PARTS * PART_PAGES * page;
        long address = Mman.mapAnonymous(length);
        MemorySegment memory = Mman.segment(address, length);
        PagePlacement placement = SysfsTopology.read().placement();
        for (int part = 0; part < PARTS; part++) {
            placement.bind(address + part * PART_PAGES * page, PART_PAGES * page, NodeSet.of(part), false);
        }
        FirstTouch.spread(placement, memory, 0, 1, 2, 3);
        for (long offset = 0; offset < length; offset += page) {
            memory.set(JAVA_LONG, offset, offset ^ 0x5a5a5a5aL);
        }
        System.out.println("address=" + Long.toHexString(address));
        System.out.flush();
        while (System.in.read() >= 0) {
            // wait for the parent to close our stdin
        }
        for (long offset = 0; offset < length; offset += page) {
            if (memory.get(JAVA_LONG, offset) != (offset ^ 0x5a5a5a5aL)) {
                System.exit(3);
            }
        }
    }
}
