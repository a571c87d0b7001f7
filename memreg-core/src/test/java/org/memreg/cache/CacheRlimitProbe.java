package org.memreg.cache;

import java.util.ArrayList;
import java.util.List;
import org.memreg.device.Access;
import org.memreg.device.MlockDevice;
import org.memreg.device.ResourceExhaustedException;
import org.memreg.linux.MemoryLock;
import org.memreg.linux.Mman;
import org.memreg.linux.ProcStatus;

/**
 * Run by {@link CacheRlimitTest} in a child JVM without CAP_IPC_LOCK: a 16 MiB working set
 * through a cache over mlock, twice the 8 MiB RLIMIT_MEMLOCK; then holds chunks until nothing is
 * left to evict. Prints {@code key=value} lines.
 */
final class CacheRlimitProbe {
    private CacheRlimitProbe() {
    }

    public static void main(String[] args) {
        long chunk = 1 << 20;
        int chunks = 16;
        long arena = Mman.mapAnonymous(chunks * chunk);
        System.out.println("soft=" + MemoryLock.memlockLimit().soft());
        long maxLocked = 0;
        try (MlockDevice device = MlockDevice.builder().build();
             RegistrationCache cache = RegistrationCache.builder(device).build()) {
            int succeeded = 0;
            for (int round = 0; round < 3; round++) {
                for (int i = 0; i < chunks; i++) {
                    cache.acquire(arena + i * chunk, chunk, Access.LOCAL_WRITE).close();
                    succeeded++;
                    maxLocked = Math.max(maxLocked, ProcStatus.vmLockedBytes());
                }
            }
            System.out.println("succeeded=" + succeeded);
            System.out.println("evictions=" + cache.stats().evictionsDeviceLimit());
            System.out.println("maxVmLck=" + maxLocked);
            List<Registration> held = new ArrayList<>();
            try {
                for (int i = 0; i < chunks; i++) {
                    held.add(cache.acquire(arena + i * chunk, chunk, Access.LOCAL_WRITE));
                }
            } catch (ResourceExhaustedException e) {
                System.out.println("exhausted=" + e.getMessage());
            }
            System.out.println("held=" + held.size());
            System.out.println("allValid=" + held.stream().allMatch(Registration::isValid));
            System.out.println("heldVmLck=" + ProcStatus.vmLockedBytes());
            held.forEach(Registration::close);
        }
        System.out.println("closedVmLck=" + ProcStatus.vmLockedBytes());
    }
}
