package org.memreg.monitor;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.memreg.config.Settings;
import org.memreg.linux.Errno;
import org.memreg.linux.LinuxException;
import org.memreg.linux.Madvise;
import org.memreg.linux.Mman;
import org.memreg.linux.SysConf;

/**
 * Whether UCM's hooks still bring libc's unmaps to memreg's handler, for the whole process (the
 * hooks are process-wide): mmap(MAP_FIXED), madvise(DONTNEED), mremap and munmap are called
 * through libc on reserved probe pages, and the handler must have seen every call (the kernel
 * refuses each call, so the probe pages never change: see {@link #probeOnce()}). Checked once when the first
 * {@link HookMonitor} opens (after {@code ucm_test_events}), then every
 * {@value #PERIOD_PROP_NAME} ms by a daemon thread while monitors are open.
 *
 * <p>A failed check means another library has overridden the hooks (UCX issues #4866, #3686) or
 * they never worked: it is logged once, and every open monitor counts it and treats every
 * registration as changed, since unmaps may have gone unseen since the last good check. When the
 * hooks work again, the same once more. One instance per process, like the hooks themselves.
 */
final class HookCheck {
    /** Milliseconds between checks; 0 checks only at start. */
    static final String PERIOD_PROP_NAME = "memreg.monitor.hookCheckMillis";
    /** Default of {@link #PERIOD_PROP_NAME}. */
    static final long PERIOD_DEFAULT = 1000;
    private static final System.Logger LOG = System.getLogger(HookMonitor.class.getName());
    private static HookCheck instance; // guarded by HookCheck.class: the hooks are per process

    private final HookState probe = new HookState();
    private final Set<HookMonitor> monitors = ConcurrentHashMap.newKeySet();
    private final long periodMillis = Settings.longValue(PERIOD_PROP_NAME, PERIOD_DEFAULT);
    private final long pageSize = SysConf.pageSize();
    /** The probe's two pages, at the start of a 2 MiB granule of a reservation of its own. */
    private final long area;
    /** Why the last check failed; null while the hooks work. */
    private volatile String failure;
    private Thread thread;

    private HookCheck() {
        long granule = 1L << HookLibrary.GRANULE_SHIFT;
        long reservation = Mman.mmap(0L, 2 * granule, Mman.PROT_NONE,
                Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS | Mman.MAP_NORESERVE, -1, 0L);
        area = (reservation + granule - 1) & -granule; // never unmapped or changed: one per process
        probe.probe(area, area + 2 * pageSize);
    }

    /**
     * The process's check, made on first use: installs a handler for the probe, runs
     * {@code ucm_test_events}, then the first probe.
     *
     * @throws IllegalStateException with the reason when the handler library cannot be used
     */
    static synchronized HookCheck get() {
        if (instance == null) {
            String unavailable = HookLibrary.unavailableReason();
            if (unavailable != null) {
                throw new IllegalStateException(unavailable);
            }
            HookCheck check = new HookCheck();
            String refused = check.probe.install();
            if (refused != null) {
                check.probe.close();
                throw new IllegalStateException(refused);
            }
            int tested = HookLibrary.test();
            check.failure = tested != 0 ? "ucm_test_events(VM_UNMAPPED) returned " + tested : check.probeOnce();
            instance = check;
        }
        return instance;
    }

    /** Where the probe's two pages are (reserved, never accessible). */
    long probeArea() {
        return area;
    }

    /** Why the hooks do not work now, or null when the last check passed. */
    String failure() {
        return failure;
    }

    /** Runs a check now; returns null when the hooks work, else what failed. */
    synchronized String checkNow() {
        String now = probeOnce();
        String before = failure;
        failure = now;
        if ((before == null) != (now == null)) {
            report(now);
        }
        return now;
    }

    /** Starts telling {@code monitor} of lost (and found) hooks; starts the checking thread. */
    synchronized void register(HookMonitor monitor) {
        monitors.add(monitor);
        if (thread == null && periodMillis > 0) {
            thread = Thread.ofPlatform().daemon().name("memreg-hook-check").start(this::run);
        }
    }

    void unregister(HookMonitor monitor) {
        monitors.remove(monitor);
    }

    private void run() {
        while (true) {
            try {
                Thread.sleep(periodMillis);
            } catch (InterruptedException e) {
                return;
            }
            if (!monitors.isEmpty()) {
                checkNow();
            }
        }
    }

    private void report(String now) {
        if (now != null) {
            LOG.log(System.Logger.Level.WARNING, "memory hooks lost: " + now + ". Unmaps through libc are no longer"
                    + " heard of before they happen (another library may have overridden UCM's hooks); every"
                    + " registration is treated as changed, and from now on only userfaultfd (where on) or"
                    + " invalidate() tell the cache of unmapped memory");
        } else {
            LOG.log(System.Logger.Level.WARNING, "memory hooks work again; every registration is treated as changed");
        }
        for (HookMonitor monitor : monitors) {
            monitor.hooksChanged(now != null);
        }
    }

    /**
     * One probe, on the probe's two pages (in a 2 MiB granule of their own that no cache watches,
     * so it publishes nothing to them): mmap(MAP_FIXED), madvise(DONTNEED), mremap and munmap,
     * each through libc and each seen by the handler. Each is given an address one byte into the
     * first page: UCM's hooks report the call before it is made, and the kernel then refuses it
     * (EINVAL, an unaligned address) before changing anything. The pages stay reserved for the
     * life of the process: a probe that really unmapped them would open a hole that another
     * thread's mmap could take, and the next probe's MAP_FIXED would then destroy that memory.
     */
    private String probeOnce() {
        long unaligned = area + 1;
        List<String> missed = new ArrayList<>();
        probeCall("mmap(MAP_FIXED)", () -> Mman.mapAnonymousFixed(unaligned, pageSize), missed);
        probeCall("madvise", () -> Madvise.madvise(unaligned, pageSize, Madvise.MADV_DONTNEED), missed);
        probeCall("mremap", () -> Mman.mremap(unaligned, pageSize, pageSize / 2, 0, 0L), missed);
        probeCall("munmap", () -> Mman.munmap(unaligned, pageSize), missed);
        return missed.isEmpty() ? null : "the handler did not see libc's " + String.join(", ", missed);
    }

    /**
     * Runs one probe call, which the kernel must refuse with EINVAL, and checks the handler saw
     * it; notes in {@code missed} a call it did not see, and a call the kernel did not refuse.
     */
    private void probeCall(String call, Runnable unaligned, List<String> missed) {
        long before = probe.probeHits();
        try {
            unaligned.run();
            missed.add("(" + call + " of an unaligned address succeeded)");
        } catch (LinuxException e) {
            if (e.errno() != Errno.EINVAL) {
                missed.add("(" + call + " of an unaligned address failed with " + e.getMessage() + ", not EINVAL)");
            }
        }
        if (probe.probeHits() == before) {
            missed.add(call);
        }
    }
}
