package org.memreg.numa;

import java.util.SplittableRandom;
import org.memreg.linux.Mman;

/**
 * A child JVM for {@link TopologyMigrationTest}: moves 16 MiB to node 1 while another thread unmaps
 * it after a random few milliseconds, ROUNDS times (args: rounds, seed, SIMULATED or REAL); prints
 * how each ended. A simulated move that copied the pages by loads died of it here, not in the test's
 * JVM.
 */
public final class MoveRaceChild {
    private MoveRaceChild() {
    }

    public static void main(String[] args) throws Exception {
        int rounds = Integer.parseInt(args[0]);
        SplittableRandom random = new SplittableRandom(Long.parseLong(args[1]));
        Topology topology = args[2].equals("SIMULATED") ? SimulatedTopology.of(2) : SysfsTopology.read();
        PagePlacement placement = topology.placement();
        long pageSize = placement.pageSize();
        long length = 16L << 20;
        int count = (int) (length / pageSize);
        int moved = 0;
        int refused = 0;
        for (int i = 0; i < rounds; i++) {
            long at = Mman.mapAnonymous(length);
            Mman.segment(at, length).fill((byte) 1);
            long[] pages = new long[count];
            int[] targets = new int[count];
            for (int p = 0; p < count; p++) {
                pages[p] = at + p * pageSize;
                targets[p] = 1;
            }
            long delayNanos = random.nextLong(3_000_000);
            Thread unmapper = Thread.ofPlatform().start(() -> {
                long until = System.nanoTime() + delayNanos;
                while (System.nanoTime() < until) {
                    Thread.onSpinWait();
                }
                Mman.munmap(at, length);
            });
            try {
                placement.move(pages, targets, new int[count], count);
                moved++;
            } catch (RuntimeException e) { // unmapped before or during the move
                refused++;
            }
            unmapper.join();
        }
        System.out.println("rounds=" + (moved + refused));
        System.out.println("moved=" + moved);
        System.out.println("refused=" + refused);
    }
}
