package org.memreg.monitor;

/**
 * Child JVM: while the main thread opens and closes monitors {@code args[0]} times, another
 * thread uses each without pause: {@code args[1]} "userfaultfd" or "hooks" reads its
 * {@code stats()}, "hooks-changed" tells it the hooks changed, as the hook check does. On JDK 25 a
 * shared arena closed while another thread reads it sets that thread's interrupt flag
 * (JDK-8306324); the monitors must not close theirs under a reader. Prints {@code interrupted=N}
 * (the times the other thread found its flag set) and {@code uses=N}.
 */
public final class ClosingMonitorProbe {
    private static volatile MemoryMonitor current;
    private static volatile boolean done;

    public static void main(String[] args) throws Exception {
        int rounds = Integer.parseInt(args[0]);
        boolean hooks = args[1].startsWith("hooks");
        boolean changed = "hooks-changed".equals(args[1]);
        long[] uses = new long[1];
        int[] interrupted = new int[1];
        Thread reader = Thread.ofPlatform().start(() -> {
            while (!done) {
                MemoryMonitor m = current;
                if (m instanceof HookMonitor h && changed) {
                    h.hooksChanged(false);
                } else if (m != null) {
                    m.stats();
                }
                uses[0]++;
                if (Thread.interrupted()) {
                    interrupted[0]++;
                }
            }
        });
        for (int i = 0; i < rounds; i++) {
            MemoryMonitor m = hooks ? HookMonitor.open() : UserfaultfdMonitor.open(false);
            m.start((kind, start, end, taken) -> { });
            current = m;
            Thread.onSpinWait();
            m.close();
        }
        done = true;
        reader.join();
        System.out.println("interrupted=" + interrupted[0]);
        System.out.println("uses=" + uses[0]);
    }
}
