package org.memreg.device;

import org.memreg.linux.MemoryLock;
import org.memreg.linux.Mman;
import org.memreg.linux.ProcStatus;

/**
 * Run by {@link MlockRlimitTest} in a child JVM without CAP_IPC_LOCK: locks 1 MiB chunks until
 * RLIMIT_MEMLOCK stops it, and prints what it saw, one {@code key=value} a line.
 */
final class MlockRlimitProbe {
    private MlockRlimitProbe() {
    }

    public static void main(String[] args) {
        long chunk = 1 << 20;
        long address = Mman.mapAnonymous(16 * chunk);
        System.out.println("soft=" + MemoryLock.memlockLimit().soft());
        try (MlockDevice device = MlockDevice.builder().build()) {
            int chunks = 0;
            try {
                while (chunks < 16) {
                    device.register(address + chunks * chunk, chunk, Access.ALL);
                    chunks++;
                }
            } catch (ResourceExhaustedException e) {
                System.out.println("exhausted=" + e.getMessage());
            }
            System.out.println("chunks=" + chunks);
            System.out.println("registered=" + device.registeredBytes());
            System.out.println("vmlck=" + ProcStatus.vmLockedBytes());
            Mman.munmap(address + 15 * chunk, chunk);
            try {
                device.register(address + 15 * chunk, chunk, Access.ALL);
            } catch (UnmappedMemoryException e) {
                System.out.println("unmapped=" + e.getMessage());
            }
        }
        System.out.println("closed vmlck=" + ProcStatus.vmLockedBytes());
    }
}
