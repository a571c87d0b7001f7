package org.memreg.cache;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.memreg.device.Access;
import org.memreg.testkit.Unprivileged;
import org.memreg.util.TestSeeds;

/** The exact-start table against a HashMap, through growth, tombstones and rebuilds. */
@Unprivileged
class StartTableTest {
    record Region(long address, long length, Access access, long localKey, long remoteKey)
            implements org.memreg.device.MemoryRegion {}

    @Test
    void shouldAgreeWithAHashMap() {
        long seed = TestSeeds.seed("StartTableTest");
        SplittableRandom random = new SplittableRandom(seed);
        StartTable table = new StartTable();
        Map<Long, Entry> reference = new HashMap<>();
        for (int step = 0; step < 200_000; step++) {
            // Page-aligned starts in a window small enough to collide and reuse tombstones.
            long start = 0x7000_0000_0000L + random.nextInt(2048) * 4096L;
            Entry present = reference.get(start);
            if (present != null && random.nextInt(3) > 0) {
                table.remove(present);
                reference.remove(start);
            } else if (present == null) {
                Entry entry = new Entry(new Region(start, 4096, Access.ALL, 1, 1), step, step, false);
                table.put(entry);
                reference.put(start, entry);
            }
            long probe = 0x7000_0000_0000L + random.nextInt(2048) * 4096L;
            Entry expected = reference.get(probe);
            if (expected == null) {
                assertNull(table.get(probe), "seed " + seed + " step " + step);
            } else {
                assertSame(expected, table.get(probe), "seed " + seed + " step " + step);
            }
        }
        reference.forEach((start, entry) -> assertSame(entry, table.get(start)));
    }
}
