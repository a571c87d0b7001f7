package org.memreg.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.memreg.cache.RegistrationCacheBuilder;
import org.memreg.config.Settings;
import org.memreg.device.PinBound;
import org.memreg.linux.Errno;
import org.memreg.linux.LinuxException;
import org.memreg.linux.MemoryLock;
import org.memreg.linux.Mman;
import org.memreg.linux.NotAvailableException;
import org.memreg.linux.Pagemap;
import org.memreg.linux.PressureTrigger;
import org.memreg.linux.ProcStatus;
import org.memreg.linux.Scheduling;
import org.memreg.linux.SysConf;
import org.memreg.linux.UffdFeatures;
import org.memreg.linux.Userfaultfd;
import org.memreg.monitor.MemoryMonitor;
import org.memreg.monitor.MemoryMonitors;
import org.memreg.monitor.MonitorMode;
import org.memreg.monitor.MonitorSupport;
import org.memreg.numa.NodeSet;
import org.memreg.numa.SysfsTopology;
import org.memreg.stat.CountersFile;
import org.memreg.ucx.Ucp;

/**
 * The probes behind {@code memreg info}'s rows: each tries the real thing where that is cheap
 * and harmless (lock a page, open a userfaultfd, write a PSI trigger) and says what it found.
 */
final class Capabilities {
    private static final Map<Integer, String> CAPABILITIES = new TreeMap<>(Map.of(14, "CAP_IPC_LOCK", 19,
            "CAP_SYS_PTRACE", 21, "CAP_SYS_ADMIN", 23, "CAP_SYS_NICE", 24, "CAP_SYS_RESOURCE"));
    private static final int CAP_IPC_LOCK = 14;

    private Capabilities() {
    }

    /** Who runs: "uid 0 (root) with CAP_IPC_LOCK, ...; without CAP_SYS_RESOURCE". */
    static String identity() {
        long caps = ProcStatus.effectiveCapabilities();
        List<String> with = new ArrayList<>();
        List<String> without = new ArrayList<>();
        CAPABILITIES.forEach((bit, name) -> ((caps & (1L << bit)) != 0 ? with : without).add(name));
        return "what this process may use, as uid " + ProcStatus.effectiveUid() + " ("
                + System.getProperty("user.name") + ")" + (with.isEmpty() ? "" : " with " + String.join(", ", with))
                + (without.isEmpty() ? "" : (with.isEmpty() ? " " : "; ") + "without " + String.join(", ", without));
    }

    static Capability pageSize() {
        return Capability.fact(SysConf.pageSize() + " bytes");
    }

    static Capability pinBound() {
        PinBound bound = PinBound.current();
        return Capability.fact(bound + "; " + bound.howToRaise());
    }

    static Capability memlockLimit() {
        MemoryLock.Limit limit = MemoryLock.memlockLimit();
        String limits = "soft " + format(limit.soft()) + ", hard " + format(limit.hard());
        return Capability.fact(ipcLock()
                ? limits + ": does not apply here, CAP_IPC_LOCK lets this process lock past it"
                : limits + ": the most this process may lock (it lacks CAP_IPC_LOCK)");
    }

    static Capability lockedNow() {
        return Capability.fact(Settings.formatBytes(ProcStatus.vmLockedBytes()));
    }

    static Capability mlock() {
        long page = SysConf.pageSize();
        long address = Mman.mapAnonymous(page);
        try {
            int errno = MemoryLock.tryMlock(address, page);
            if (errno == 0) {
                MemoryLock.munlock(address, page);
                return Capability.yes("locked and unlocked a page (MlockDevice pins with it)");
            }
            return Capability.no("mlock of one page gave " + Errno.name(errno)
                    + (errno == Errno.EPERM || errno == Errno.ENOMEM ? "; " + "RLIMIT_MEMLOCK is too low" : ""));
        } finally {
            Mman.munmap(address, page);
        }
    }

    static Capability userfaultfd(boolean userModeOnly) {
        Userfaultfd.Probe probe = Userfaultfd.probeMode(userModeOnly);
        if (!probe.available()) {
            return Capability.no(probe.reason());
        }
        long events = UffdFeatures.EVENT_UNMAP | UffdFeatures.EVENT_REMOVE | UffdFeatures.EVENT_REMAP;
        String features = "unmap, remove and remap events " + ((probe.kernelFeatures() & events) == events
                ? "supported" : "missing: " + UffdFeatures.featureNames(events & ~probe.kernelFeatures()));
        return Capability.yes(features + (userModeOnly
                ? "; the memory monitor uses this mode (faults in the kernel on our behalf fail instead of waiting)"
                : "; not needed by the monitor, which prefers user mode only"));
    }

    /**
     * The monitor a cache gets from {@code memreg.cache.monitor} here (for {@code auto}, the one it
     * picks); {@link InfoCommand} lists every mode after the table.
     */
    static Capability memoryMonitor() {
        String setting = System.getProperty(RegistrationCacheBuilder.MONITOR_PROP_NAME, RegistrationCacheBuilder.MONITOR_DEFAULT);
        String name = RegistrationCacheBuilder.MONITOR_PROP_NAME + "=" + setting;
        String without = ": a cache learns of freed or remapped memory only through invalidate() and RegisteredArena,"
                + " so a buffer freed and reallocated behind its back can keep a stale registration";
        MonitorMode mode;
        try {
            mode = MonitorMode.parse(setting, RegistrationCacheBuilder.MONITOR_PROP_NAME);
        } catch (IllegalArgumentException e) {
            return Capability.no(e.getMessage());
        }
        if (mode == MonitorMode.NONE) {
            return Capability.no("off (" + name + ")" + without);
        }
        MonitorSupport support = monitorSupport().stream().filter(m -> m.mode() == mode).findFirst().orElseThrow();
        if (!support.available()) {
            return Capability.no(name + " cannot open here: " + support.detail() + without);
        }
        if (support.detail().startsWith("uses " + MemoryMonitor.NONE.name())) {
            return Capability.no(name + " found no monitor that works here" + without);
        }
        MonitorMode used = mode != MonitorMode.AUTO ? mode
                : MonitorMode.parse(support.detail().split(";")[0].substring("uses ".length()), name);
        return Capability.yes(name + (support.detail().isEmpty() ? "" : " (" + support.detail() + ")")
                + ": caches see munmap, mremap and madvise(DONTNEED) of registered memory; " + used.guarantee());
    }

    private static List<MonitorSupport> monitorSupport;

    /** Every mode, opened once per process (opening installs UCM's hooks where they work). */
    static synchronized List<MonitorSupport> monitorSupport() {
        if (monitorSupport == null) {
            monitorSupport = MemoryMonitors.support();
        }
        return monitorSupport;
    }

    static Capability physicalFrames() {
        return Pagemap.pfnsVisible()
                ? Capability.yes("/proc/self/pagemap shows frame numbers: the simulated NIC checks each transfer's pages")
                : Capability.no("/proc/self/pagemap hides frame numbers (needs CAP_SYS_ADMIN): the simulated NIC only"
                        + " sees pages that are gone; the demo counts stale transfers from the sender's side");
    }

    static Capability realtime() {
        int[] errno = new int[1];
        Thread probe = Thread.ofPlatform().start(() -> errno[0] = Scheduling.tryRealtime(1));
        try {
            probe.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Capability.no("interrupted");
        }
        return errno[0] == 0
                ? Capability.yes("SCHED_FIFO works: the userfaultfd reader runs at real-time priority")
                : Capability.no("SCHED_FIFO gave " + Errno.name(errno[0]) + " (needs CAP_SYS_NICE or RLIMIT_RTPRIO):"
                        + " the userfaultfd reader runs at normal priority, so the cross-thread window is wider");
    }

    static Capability ucx() {
        if (!Ucp.isAvailable()) {
            return Capability.no(Ucp.unavailableReason().orElse("OpenUCX not found"));
        }
        return Capability.yes("OpenUCX " + Ucp.version() + " (libucp.so.0): the transport and UcxDevice work");
    }

    static Capability rdma() {
        List<String> devices = list(Path.of("/sys/class/infiniband"));
        return devices.isEmpty()
                ? Capability.no("none in /sys/class/infiniband: UCX moves data over shared memory and TCP")
                : Capability.yes(String.join(", ", devices));
    }

    static Capability numa() {
        NodeSet nodes = SysfsTopology.read().nodeSet();
        return nodes.size() > 1
                ? Capability.yes(nodes.size() + " nodes (" + nodes + "): pages can move between them")
                : Capability.no("one node (" + nodes + "): memreg pages counts pages, but there is nowhere to move"
                        + " them; migrate --dry-run --simulated N plans for more");
    }

    static Capability hugePages() {
        long free = meminfo("HugePages_Free:");
        long size = meminfo("Hugepagesize:") * 1024;
        String thp = readLine(Path.of("/sys/kernel/mm/transparent_hugepage/enabled"));
        String transparent = "transparent huge pages: " + (thp.isEmpty() ? "absent" : thp)
                + " (RegisteredArena falls back to them)";
        return free > 0
                ? Capability.yes(free + " reserved pages of " + Settings.formatBytesShort(size) + " free; " + transparent)
                : Capability.no("none reserved (vm.nr_hugepages " + readLine(Path.of("/proc/sys/vm/nr_hugepages"))
                        + "; root can reserve some: echo N > /proc/sys/vm/nr_hugepages); " + transparent);
    }

    static Capability pressure() {
        try (PressureTrigger trigger = PressureTrigger.memory(PressureTrigger.Kind.SOME, 150_000,
                PressureTrigger.UNPRIVILEGED_WINDOW_STEP_MICROS)) {
            return Capability.yes("a trigger on /proc/pressure/memory works (\"" + trigger.trigger() + "\"):"
                    + " PressureWatcher can trim caches" + (PressureTrigger.privileged() ? ""
                    : "; windows must be multiples of 2 s (no CAP_SYS_RESOURCE)"));
        } catch (NotAvailableException e) {
            return Capability.no(e.reason());
        } catch (LinuxException e) {
            return Capability.no(e.getMessage());
        }
    }

    static Capability countersDirectory() {
        Path dir = CountersFile.directory();
        Path existing = dir;
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        String where = dir + (existing == dir ? "" : " (to be created in " + existing + ")");
        if (existing != null && Files.isDirectory(existing) && Files.isWritable(existing)) {
            return Capability.yes(where + " is writable: caches publish counters for memreg stat");
        }
        return Capability.no(where + " is not writable by this user" + owner(existing)
                + ": caches run without counters (memreg stat cannot see them); set -D" + CountersFile.DIR_PROP_NAME
                + "=DIR to a directory of your own");
    }

    private static String owner(Path path) {
        try {
            PosixFileAttributes attributes = Files.readAttributes(path, PosixFileAttributes.class);
            return " (owner " + attributes.owner().getName() + ", " + PosixFilePermissions.toString(attributes.permissions())
                    + ")";
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    private static boolean ipcLock() {
        return (ProcStatus.effectiveCapabilities() & (1L << CAP_IPC_LOCK)) != 0;
    }

    private static String format(long bytes) {
        return bytes == MemoryLock.RLIM_INFINITY ? "unlimited" : Settings.formatBytesShort(bytes);
    }

    private static List<String> list(Path dir) {
        try (var entries = Files.list(dir)) {
            return entries.map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    /** A /proc/meminfo value (kB for sizes, a count for HugePages_*), 0 when absent. */
    private static long meminfo(String key) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith(key)) {
                    return Long.parseLong(line.substring(key.length()).strip().split("\\s+")[0]);
                }
            }
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
        return 0;
    }

    /** The first line of a /proc or /sys file, stripped; empty when unreadable. */
    private static String readLine(Path file) {
        try {
            // readAllLines: a single read of a /proc/sys file can come back short here.
            List<String> lines = Files.readAllLines(file);
            return lines.isEmpty() ? "" : lines.get(0).strip();
        } catch (IOException e) {
            return "";
        }
    }
}
