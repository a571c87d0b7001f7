package org.memreg.numa;

import java.util.SplittableRandom;
import org.memreg.linux.Mman;

/**
 * A child JVM for {@link LinuxPlacementTest}: first touches 16 MiB while another thread, after a
 * random few milliseconds, unmaps it (even rounds) or maps it again without access (odd rounds: what
 * a new thread's guard page does to a range that was unmapped), ROUNDS times (args: rounds, seed);
 * prints how each ended. A touch that accesses the memory dies of it here, not in the test's JVM.
 */
public final class TouchRaceChild {
    private TouchRaceChild() {
    }

    public static void main(String[] args) throws Exception {
        int rounds = Integer.parseInt(args[0]);
        SplittableRandom random = new SplittableRandom(Long.parseLong(args[1]));
        PagePlacement placement = SysfsTopology.read().placement();
        long length = 16L << 20;
        int touched = 0;
        int refused = 0;
        for (int i = 0; i < rounds; i++) {
            long at = Mman.mapAnonymous(length);
            long delayNanos = random.nextLong(3_000_000);
            boolean remap = i % 2 == 1;
            Thread unmapper = Thread.ofPlatform().start(() -> {
                long until = System.nanoTime() + delayNanos;
                while (System.nanoTime() < until) {
                    Thread.onSpinWait();
                }
                if (remap) {
                    Mman.mmap(at, length, Mman.PROT_NONE, Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS | Mman.MAP_FIXED, -1, 0);
                } else {
                    Mman.munmap(at, length);
                }
            });
            try {
                placement.touchFrom(0, at, length);
                touched++;
            } catch (IllegalArgumentException e) { // unmapped before or during the touch
                refused++;
            }
            unmapper.join();
            if (remap) {
                Mman.munmap(at, length);
            }
        }
        System.out.println("rounds=" + (touched + refused));
        System.out.println("touched=" + touched);
        System.out.println("refused=" + refused);
    }
}
