package org.memreg.monitor;

import java.io.RandomAccessFile;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.memreg.cache.Registration;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.Access;
import org.memreg.device.SimulatedNic;
import org.memreg.linux.Mman;

/**
 * Another library overrides the hooks (child of {@link HookLossTest}): with a cache on
 * {@code hooks+userfaultfd} running, libc's munmap gets its original first bytes back from
 * {@code libc.so.6} on disk, undoing UCM's patch, as a library that installs its own munmap
 * hook over UCM's would. Prints how soon the periodic check noticed, what it reports, and
 * whether the cache still never hands out the old registration (userfaultfd is the backstop).
 */
final class HookLossChild {
    private static final int PATCHED_BYTES = 16; // UCM's x86-64 jump is at most 13 bytes

    private HookLossChild() {
    }

    public static void main(String[] args) throws Exception {
        try (SimulatedNic nic = SimulatedNic.builder().free().build();
             RegistrationCache cache = RegistrationCache.builder(nic).statsName(null)
                     .monitor(MemoryMonitors.open(MonitorMode.HOOKS_AND_USERFAULTFD)).build()) {
            System.out.println("before=" + (HookMonitor.checkHooks() == null ? "working" : "broken"));
            long overridden = System.nanoTime();
            System.out.println("unpatched=" + restoreLibcMunmap());
            long failures = 0;
            while (failures == 0 && System.nanoTime() - overridden < 5_000_000_000L) {
                Thread.sleep(10);
                failures = cache.monitor().stats().hookFailures();
            }
            System.out.println("hookFailures=" + failures);
            System.out.println("noticedMillis=" + (System.nanoTime() - overridden) / 1_000_000);
            System.out.println("check=" + HookMonitor.checkHooks());
            long length = 16 * 4096;
            long address = Mman.mapAnonymous(length);
            Mman.segment(address, length).fill((byte) 1);
            cache.acquire(address, length, Access.ALL).close();
            Mman.munmap(address, length); // libc, no longer hooked: only userfaultfd sees it
            Mman.mmap(address, length, Mman.PROT_READ | Mman.PROT_WRITE,
                    Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS | Mman.MAP_FIXED_NOREPLACE, -1, 0L);
            Mman.segment(address, length).fill((byte) 2);
            try (Registration again = cache.acquire(address, length, Access.ALL)) {
                System.out.println("hitsAfterLoss=" + cache.stats().hits());
            }
            Mman.munmap(address, length);
        }
    }

    /** Copies munmap's first bytes from libc's file over its code in memory; returns whether the rest matched. */
    private static boolean restoreLibcMunmap() throws Exception {
        long munmap = Linker.nativeLinker().defaultLookup().find("munmap").orElseThrow().address();
        String[] libc = libcMapping();
        long base = Long.parseUnsignedLong(libc[0], 16);
        byte[] original = new byte[2 * PATCHED_BYTES];
        try (RandomAccessFile file = new RandomAccessFile(libc[1], "r")) {
            file.seek(munmap - base); // libc's text segment: file offset == address offset
            file.readFully(original);
        }
        MemorySegment code = Mman.segment(munmap, original.length);
        byte[] tail = code.asSlice(PATCHED_BYTES).toArray(ValueLayout.JAVA_BYTE);
        long page = munmap & -4096L;
        long span = ((munmap + original.length + 4095) & -4096L) - page;
        Mman.mprotect(page, span, Mman.PROT_READ | Mman.PROT_WRITE | Mman.PROT_EXEC);
        MemorySegment.copy(MemorySegment.ofArray(original), 0, code, 0, PATCHED_BYTES);
        Mman.mprotect(page, span, Mman.PROT_READ | Mman.PROT_EXEC);
        return Arrays.equals(tail, Arrays.copyOfRange(original, PATCHED_BYTES, original.length));
    }

    /** {start, path} of the mapping of libc.so.6 at file offset 0, from /proc/self/maps. */
    private static String[] libcMapping() throws Exception {
        List<String> maps = Files.readAllLines(Path.of("/proc/self/maps"));
        for (String line : maps) {
            String[] fields = line.trim().split("\\s+");
            if (fields.length >= 6 && fields[5].contains("libc.so.6") && Long.parseLong(fields[2], 16) == 0) {
                return new String[] {fields[0].substring(0, fields[0].indexOf('-')), fields[5]};
            }
        }
        throw new IllegalStateException("libc.so.6 not in /proc/self/maps");
    }
}
