package org.memreg.device;

import org.memreg.cache.Registration;
import org.memreg.cache.RegistrationCache;
import org.memreg.linux.Mman;
import org.memreg.monitor.HookMonitor;
import org.memreg.testkit.Smaps;

/**
 * Issue 12's held-out case through the cache, for {@link MlockRemapTest} (in the test JVM and
 * as an unprivileged child): a registration is held while its memory is unmapped and new memory
 * is mapped at the same address; the new memory's registration must be locked. Prints
 * {@code key=value} lines.
 */
final class RemappedLockProbe {
    static final long LENGTH = 16 * 4096;

    private RemappedLockProbe() {
    }

    /** Runs the case; returns {lockedBytes of the new mapping, its registration's length, old still valid ? 1 : 0}. */
    static long[] run() throws Exception {
        try (MlockDevice device = MlockDevice.builder().build();
             RegistrationCache cache = RegistrationCache.builder(device).statsName(null)
                     .monitor(HookMonitor.open()).build()) {
            long address = Mman.mapAnonymous(LENGTH);
            Mman.segment(address, LENGTH).fill((byte) 1);
            try (Registration old = cache.acquire(address, LENGTH, Access.ALL)) {
                Mman.munmap(address, LENGTH);
                Mman.mmap(address, LENGTH, Mman.PROT_READ | Mman.PROT_WRITE,
                        Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS | Mman.MAP_FIXED_NOREPLACE, -1, 0L);
                Mman.segment(address, LENGTH).fill((byte) 2);
                try (Registration fresh = cache.acquire(address, LENGTH, Access.ALL)) {
                    return new long[] {Smaps.lockedBytes(address), fresh.length(), old.isValid() ? 1 : 0};
                } finally {
                    Mman.munmap(address, LENGTH);
                }
            }
        }
    }

    public static void main(String[] args) throws Exception {
        long[] result = run();
        System.out.println("user=" + System.getProperty("user.name"));
        System.out.println("locked=" + result[0]);
        System.out.println("length=" + result[1]);
        System.out.println("oldValid=" + result[2]);
    }
}
