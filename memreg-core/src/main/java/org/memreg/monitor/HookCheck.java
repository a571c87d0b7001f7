package org.memreg.monitor;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.memreg.config.Settings;
import org.memreg.linux.LinuxException;
import org.memreg.linux.Madvise;
import org.memreg.linux.Mman;
import org.memreg.linux.SysConf;

/**
 * Whether UCM's hooks still bring libc's unmaps to memreg's handler, for the whole process (the
 * hooks are process-wide): probe pages are mapped over with MAP_FIXED, madvised away, shrunk with
 * mremap and unmapped, each through libc, and the handler must have seen every call. Checked once when the first
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
        area = (reservation + granule - 1) & -granule; // never unmapped: one per process
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
     * One probe, in a 2 MiB granule of its own that no cache watches (so it publishes nothing
     * to them): mmap(MAP_FIXED) over it, madvise(DONTNEED), mremap (shrink) and munmap, each
     * through libc and each seen by the handler; then the granule is reserved again.
     */
    private String probeOnce() {
        List<String> missed = new ArrayList<>();
        try {
            long hits = probe.probeHits();
            Mman.mapAnonymousFixed(area, 2 * pageSize);
            hits = expect(hits, "mmap(MAP_FIXED)", missed);
            Madvise.madvise(area, 2 * pageSize, Madvise.MADV_DONTNEED);
            hits = expect(hits, "madvise", missed);
            Mman.mremap(area, 2 * pageSize, pageSize, 0, 0L);
            hits = expect(hits, "mremap", missed);
            Mman.munmap(area, pageSize);
            expect(hits, "munmap", missed);
        } catch (LinuxException e) {
            missed.add("(the probe failed: " + e.getMessage() + ")");
        } finally {
            reserve();
        }
        return missed.isEmpty() ? null : "the handler did not see libc's " + String.join(", ", missed);
    }

    /** Keeps the probe's pages mapped (inaccessible) between probes, so nobody else's memory lands there. */
    private void reserve() {
        try {
            Mman.mmap(area, 2 * pageSize, Mman.PROT_NONE,
                    Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS | Mman.MAP_NORESERVE | Mman.MAP_FIXED_NOREPLACE, -1, 0L);
        } catch (LinuxException taken) {
            // EEXIST: still mapped, or someone took the hole; the next probe maps over it anyway
        }
    }

    private long expect(long before, String call, List<String> missed) {
        long after = probe.probeHits();
        if (after == before) {
            missed.add(call);
        }
        return after;
    }
}
