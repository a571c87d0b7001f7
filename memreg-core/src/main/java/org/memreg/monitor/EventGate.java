package org.memreg.monitor;

/**
 * What the cache's hit path asks its monitor before it trusts the index: are memory events
 * pending that the cache has not applied yet? If so the hit takes the slow path and
 * {@link #awaitDelivery() waits for, or applies,} them first. A gate per kind of monitor:
 * the userfaultfd reader's ({@link ReaderGate}: events read from the kernel but not yet
 * delivered), the hooks' ({@link HookGate}: ranges reported before an unmap but not yet
 * drained), both at once ({@link #both}), and {@link #NEVER}.
 *
 * <p>{@link #isPending()} is on every hit: a few plain loads, no allocation.
 */
public abstract sealed class EventGate permits EventGate.Never, EventGate.Both, ReaderGate, HookGate {
    /** A gate that never has anything pending, for caches without a monitor. */
    public static final EventGate NEVER = new Never();

    EventGate() {
    }

    /** True while events have been taken from their source but not yet delivered to the cache. */
    public abstract boolean isPending();

    /**
     * Returns once every event taken before this call has been delivered (or the monitor
     * stopped). May deliver them on the calling thread.
     */
    public abstract void awaitDelivery();

    /** A gate pending when either is: for two monitors at once. */
    public static EventGate both(EventGate first, EventGate second) {
        return first == NEVER ? second : second == NEVER ? first : new Both(first, second);
    }

    static final class Never extends EventGate {
        @Override
        public boolean isPending() {
            return false;
        }

        @Override
        public void awaitDelivery() {
        }
    }

    static final class Both extends EventGate {
        private final EventGate first;
        private final EventGate second;

        Both(EventGate first, EventGate second) {
            this.first = first;
            this.second = second;
        }

        @Override
        public boolean isPending() {
            return first.isPending() || second.isPending();
        }

        @Override
        public void awaitDelivery() {
            first.awaitDelivery();
            second.awaitDelivery();
        }
    }
}
