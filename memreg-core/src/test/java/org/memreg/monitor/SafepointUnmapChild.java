package org.memreg.monitor;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.memreg.linux.Mman;
import org.memreg.linux.SysConf;

/**
 * Child of {@link UserfaultfdJvmSafetyTest}: one thread munmaps watched pages through a
 * <em>critical</em> downcall (the thread stays in Java's state inside it, so the JVM waits for it
 * to come back before a safepoint can begin) while another collects garbage in a loop, so that
 * safepoints begin while the munmap sleeps in the kernel until its event is read. Prints the
 * unmaps done and the UNMAP events delivered; exits non-zero when an event went missing.
 */
final class SafepointUnmapChild {
    private SafepointUnmapChild() {
    }

    public static void main(String[] args) throws Throwable {
        int unmaps = Integer.parseInt(args[0]);
        boolean strict = args.length > 1 && args[1].equals("strict");
        MethodHandle criticalMunmap = criticalMunmap();
        long page = SysConf.pageSize();
        AtomicLong events = new AtomicLong();
        AtomicBoolean done = new AtomicBoolean();
        Thread collector = Thread.ofPlatform().start(() -> {
            while (!done.get()) {
                System.gc();
            }
        });
        long collections = 0;
        try (UserfaultfdMonitor monitor = strict ? UserfaultfdMonitor.openStrict() : UserfaultfdMonitor.open()) {
            monitor.start((kind, start, end, taken) -> {
                if (kind == MemoryEventKind.UNMAP) {
                    events.incrementAndGet();
                }
            });
            for (int i = 0; i < unmaps; i++) {
                long address = Mman.mapAnonymous(page);
                if (!monitor.watch(address, page)) {
                    throw new IllegalStateException("cannot watch a fresh anonymous page");
                }
                int result = (int) criticalMunmap.invokeExact(address, page);
                if (result != 0) {
                    throw new IllegalStateException("munmap failed");
                }
            }
            done.set(true);
            collector.join();
            for (int waits = 0; events.get() < unmaps && waits < 10_000; waits++) {
                Thread.sleep(1);
            }
            collections = ManagementFactory.getGarbageCollectorMXBeans().stream()
                    .mapToLong(GarbageCollectorMXBean::getCollectionCount).sum();
        }
        System.out.println("unmaps=" + unmaps);
        System.out.println("events=" + events.get());
        System.out.println("collections=" + collections);
        System.exit(events.get() == unmaps ? 0 : 1);
    }

    @SuppressWarnings("restricted")
    private static MethodHandle criticalMunmap() {
        Linker linker = Linker.nativeLinker();
        return linker.downcallHandle(linker.defaultLookup().find("munmap").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG), Linker.Option.critical(false));
    }
}
