package org.memreg.device;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.LongAdder;
import org.memreg.device.DmaRejectedException.Reason;
import org.memreg.device.SimulatedNic.Transfer;
import org.memreg.linux.Errno;
import org.memreg.linux.Pagemap;
import org.memreg.linux.ProcessVm;
import org.memreg.util.OpenArena;

/**
 * The {@link SimulatedNic}'s DMA engine: checks key, range and rights, checks that every page
 * the transfer touches is still the frame recorded at registration, then copies with
 * process_vm_readv/writev on the own pid, so an unmapped page gives EFAULT instead of SIGSEGV.
 */
final class DmaEngine {
    private final TranslationTable table;
    private final long pageSize;
    private final boolean strict;
    private final boolean comparesFrames;
    final LongAdder transfers = new LongAdder();
    final LongAdder bytes = new LongAdder();
    final LongAdder stale = new LongAdder();

    DmaEngine(TranslationTable table, long pageSize, boolean strict, boolean comparesFrames) {
        this.table = table;
        this.pageSize = pageSize;
        this.strict = strict;
        this.comparesFrames = comparesFrames;
    }

    Transfer transfer(long key, long address, MemorySegment buffer, boolean write) {
        OpenArena.require(buffer, "a transfer"); // the kernel's copy would go to whoever owns the memory now
        if (!write && buffer.isReadOnly()) {
            throw new IllegalArgumentException("cannot read into a read-only segment");
        }
        long length = buffer.byteSize();
        NicRegion region = checked(key, address, length, write);
        if (length == 0) {
            return Transfer.OK;
        }
        String why = staleness(region, address, length);
        if (why == null) {
            long copied = copy(address, buffer, write);
            if (copied == length) {
                transfers.increment();
                bytes.add(length);
                return Transfer.OK;
            }
            why = "faulted during the copy (" + (copied < 0 ? Errno.name((int) -copied) : copied + " bytes copied") + ")";
        }
        stale.increment();
        if (strict) {
            throw new StaleTransferException(key, address, why);
        }
        return Transfer.STALE;
    }

    private NicRegion checked(long key, long address, long length, boolean write) {
        NicRegion region = table.byLocalKey(key);
        boolean remote = region == null;
        if (remote) {
            region = table.byRemoteKey(key);
        }
        if (region == null) {
            throw new DmaRejectedException(Reason.UNKNOWN_KEY, String.format("key %016x names no live region", key));
        }
        if (address < region.address() || length > region.end() - address) {
            throw new DmaRejectedException(Reason.OUT_OF_RANGE, String.format(
                    "0x%x + %d bytes is outside %s", address, length, region));
        }
        Access access = region.access();
        boolean allowed = remote ? (write ? access.remoteWrite() : access.remoteRead())
                : (!write || access.localWrite());
        if (!allowed) {
            throw new DmaRejectedException(Reason.ACCESS_DENIED, String.format("%s %s with the %s key of %s",
                    write ? "write" : "read", "denied", remote ? "remote" : "local", region));
        }
        return region;
    }

    // Null when every touched page is the frame recorded at registration; else why not.
    private String staleness(NicRegion region, long address, long length) {
        long first = address - Long.remainderUnsigned(address, pageSize);
        int count = (int) ((address + length - 1 - first) / pageSize) + 1;
        int base = (int) ((first - region.address()) / pageSize);
        long[] now = Pagemap.read(first, count);
        for (int i = 0; i < count; i++) {
            long recorded = region.frames()[base + i];
            if (!Pagemap.isPresent(now[i])) {
                return String.format("0x%x is no longer present", first + i * pageSize);
            }
            if (comparesFrames && Pagemap.pfn(now[i]) != Pagemap.pfn(recorded)) {
                return String.format("0x%x moved from frame 0x%x to 0x%x",
                        first + i * pageSize, Pagemap.pfn(recorded), Pagemap.pfn(now[i]));
            }
        }
        return null;
    }

    private static long copy(long address, MemorySegment buffer, boolean write) {
        if (buffer.isNative()) {
            return write ? ProcessVm.writeSelf(address, buffer) : ProcessVm.readSelf(address, buffer);
        }
        try (Arena arena = Arena.ofConfined()) { // heap segment: bounce through native memory
            MemorySegment bounce = arena.allocate(buffer.byteSize());
            if (write) {
                return ProcessVm.writeSelf(address, bounce.copyFrom(buffer));
            }
            long copied = ProcessVm.readSelf(address, bounce);
            if (copied > 0) {
                MemorySegment.copy(bounce, 0, buffer, 0, copied);
            }
            return copied;
        }
    }
}
