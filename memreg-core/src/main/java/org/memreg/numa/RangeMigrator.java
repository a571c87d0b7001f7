package org.memreg.numa;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.TreeMap;
import java.util.function.IntUnaryOperator;
import org.memreg.cache.RegistrationCache;
import org.memreg.linux.MovePages;

/**
 * Moves the pages of ranges of a process between nodes with {@code move_pages}, page by page to
 * each page's own target — so overlapping node sets need no ordering — and, for this process,
 * in step with a {@link RegistrationCache}.
 *
 * <h2>With a cache</h2>
 * Moving a page gives it a new physical frame; a registration of the old one is stale (a NIC
 * would move data from or to the old frame). So before a range is moved, every registration
 * over it is retired ({@link RegistrationCache#retireAndAwaitRelease}): unused ones are
 * deregistered at once, and the holders of the others are waited for up to the timeout. If any
 * is still held then, the range is <b>not moved</b> and reported {@link MigrationReport.BusyRange
 * busy}. Otherwise its pages are moved and the range is invalidated once more, which takes out
 * any registration made while the pages moved. The next acquire of the range registers the
 * pages where they are now.
 *
 * <p><b>The remaining race.</b> Between the retire and the move, another thread may acquire
 * the range: it gets a fresh registration of the old frames, which the move then makes stale.
 * The invalidation after the move removes it from the cache, so no later acquire gets it, but
 * that holder keeps it until it releases — its transfers in the meantime see stale pages (the
 * simulated NIC reports them; a real NIC's long-term pin would instead make those pages fail
 * to move with EBUSY). Callers that need none must stop acquiring the range while it migrates.
 *
 * <p>Not thread safe per instance; any number of instances may run.
 */
public final class RangeMigrator {
    /** A range of addresses: {@code [address, address + length)}. */
    public record Range(long address, long length) {
        public Range {
            if (length <= 0) {
                throw new IllegalArgumentException("length must be positive: " + length);
            }
        }
    }

    private final PagePlacement placement;
    private final RegistrationCache cache;
    private final Duration timeout;

    private RangeMigrator(PagePlacement placement, RegistrationCache cache, Duration timeout) {
        this.placement = Objects.requireNonNull(placement, "placement");
        this.cache = cache;
        this.timeout = Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("timeout must not be negative: " + timeout);
        }
        if (cache != null && placement.pid() != MovePages.SELF) {
            throw new IllegalArgumentException("a registration cache only coordinates moves of this process's pages");
        }
    }

    /** A migrator with no registration cache to coordinate with. */
    public static RangeMigrator of(PagePlacement placement) {
        return new RangeMigrator(placement, null, Duration.ZERO);
    }

    /**
     * A migrator that clears {@code cache}'s registrations over each range before moving it,
     * waiting up to {@code timeout} for holders to release them.
     */
    public static RangeMigrator withCache(PagePlacement placement, RegistrationCache cache, Duration timeout) {
        return new RangeMigrator(placement, Objects.requireNonNull(cache, "cache"), timeout);
    }

    /** Moves every present page of the range to {@code node}. */
    public MigrationReport moveTo(long address, long length, int node) throws InterruptedException {
        placement.topology().node(node); // a clear error before anything is retired
        return migrate(List.of(new Range(address, length)), current -> node);
    }

    /**
     * Moves the pages of the ranges that sit on a node of {@code from} to their node in
     * {@code to} by {@link MigrationPlanner#plan(NodeSet, NodeSet)}'s remap; pages elsewhere stay.
     *
     * @throws java.util.NoSuchElementException when a node of either set does not exist
     */
    public MigrationReport remap(List<Range> ranges, NodeSet from, NodeSet to) throws InterruptedException {
        placement.topology().requireNodes(from.union(to), "migration");
        return migrate(ranges, MigrationPlanner.plan(from, to));
    }

    /**
     * Moves every present page of the ranges to {@code plan.target(its node)}. Each page is
     * moved once, straight to its target, so the plan's order and ring breaks do not matter
     * here: the remap is realized exactly even where whole-node moves could not.
     */
    public MigrationReport migrate(List<Range> ranges, MigrationPlan plan) throws InterruptedException {
        placement.topology().requireNodes(NodeSet.of(plan.remap().values().stream().mapToInt(Integer::intValue).toArray()),
                "migration plan");
        return migrate(ranges, plan::target);
    }

    /**
     * Moves each present page of the ranges to {@code target.applyAsInt(its node)}.
     *
     * @throws InterruptedException while waiting for holders; ranges done so far stay moved
     * @throws org.memreg.linux.LinuxException when the kernel refuses a query or move as a whole
     */
    public MigrationReport migrate(List<Range> ranges, IntUnaryOperator target) throws InterruptedException {
        Tally tally = new Tally();
        List<MigrationReport.BusyRange> busy = new ArrayList<>();
        for (Range range : ranges) {
            if (cache != null) {
                int held = cache.retireAndAwaitRelease(range.address(), range.length(), timeout);
                if (held > 0) {
                    busy.add(new MigrationReport.BusyRange(range.address(), range.length(), held));
                    continue;
                }
            }
            try {
                move(range, target, tally);
            } finally {
                if (cache != null && !cache.isClosed()) {
                    cache.invalidate(range.address(), range.length()); // registered during the move: stale
                }
            }
        }
        return tally.report(busy);
    }

    private void move(Range range, IntUnaryOperator target, Tally tally) {
        PageNodes before = placement.query(range.address(), range.length());
        int pages = before.pages();
        long[] toMove = new long[pages];
        int[] targets = new int[pages];
        int[] sources = new int[pages];
        int count = 0;
        for (int i = 0; i < pages; i++) {
            int node = before.status(i);
            if (node < 0) {
                tally.absent(node);
                continue;
            }
            int to = target.applyAsInt(node);
            if (to == node) {
                tally.outcome(node, to).inPlace++;
            } else {
                toMove[count] = before.page(i);
                targets[count] = to;
                sources[count++] = node;
            }
        }
        int[] status = new int[count];
        placement.move(toMove, targets, status, count);
        for (int i = 0; i < count; i++) {
            Tally.Outcome outcome = tally.outcome(sources[i], targets[i]);
            if (status[i] == targets[i]) {
                outcome.moved++;
            } else {
                outcome.failed++;
                outcome.failures.merge(MovePages.describe(status[i]), 1L, Long::sum);
            }
        }
    }

    private static final class Tally {
        static final class Outcome {
            final int target;
            long moved;
            long inPlace;
            long failed;
            final TreeMap<String, Long> failures = new TreeMap<>();

            Outcome(int target) {
                this.target = target;
            }
        }

        final TreeMap<Integer, Outcome> perNode = new TreeMap<>();
        long notPresent;
        long zeroPage;

        Outcome outcome(int node, int target) {
            return perNode.computeIfAbsent(node, n -> new Outcome(target));
        }

        void absent(int status) {
            if (status == MovePages.ZERO_PAGE) {
                zeroPage++;
            } else {
                notPresent++;
            }
        }

        MigrationReport report(List<MigrationReport.BusyRange> busy) {
            List<MigrationReport.NodeOutcome> nodes = new ArrayList<>();
            perNode.forEach((node, o) -> nodes.add(
                    new MigrationReport.NodeOutcome(node, o.target, o.moved, o.inPlace, o.failed, o.failures)));
            return new MigrationReport(nodes, busy, notPresent, zeroPage);
        }
    }
}
