package org.memreg.transport;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.function.LongPredicate;

/**
 * Chunks of rendezvous messages that {@link UnexpectedMessages} took off UCX before a receive
 * posted for them, by message id, oldest first. UCX keeps every chunk that arrives early, and a
 * peer could send chunk messages under ids nobody announced without end; so every chunk is taken,
 * and one that no receive claims is let go of.
 *
 * <p>A chunk goes to the receive of its message when one has matched the header ({@link #claim});
 * that receive takes it in place of a tagged receive for its next chunk, so chunks still land in
 * order, zero copy ({@code ucp_tag_msg_recv_nbx} with the chunk's memory handle). Else it waits
 * under its id: charged to its header when the node holds that header, else as an orphan. The
 * orphans of an id are let go of {@value #ORPHAN_LOOKS} looks at UCX after the first of them was
 * taken (the later ones at least one look after): by then every receive whose header had
 * matched before they arrived has claimed its chunks (each polls once a round, and a header
 * arrives before its chunks), so they belong to no message a receive will ever read. A chunk
 * beyond the count its message announced is let go of too.
 *
 * <p>A chunk must never be let go of while a receive may still read its message: that receive
 * would take the next chunk in its place and land it at the wrong offset.
 *
 * <p>Guarded by the node's lock.
 */
final class EarlyChunks {
    /** Looks an id's orphans are kept: one is enough (see the class comment), two is a margin. */
    static final int ORPHAN_LOOKS = 2;

    /** A chunk message taken off UCX: its handle for {@code ucp_tag_msg_recv_nbx} and its length. */
    record Taken(long message, long length) {
    }

    /** What {@link Claim#next} gives for a chunk of a drained message that was let go of on arrival. */
    static final Taken DRAINED = new Taken(0, 0);

    /** What lets go of a taken message (a receive into nothing), counting it as dropped or not. */
    interface Discard {
        void discard(Taken chunk, boolean dropped);
    }

    private final Discard discard;
    /** Chunks no receive claimed yet, by message id. */
    private final Map<Long, ArrayDeque<Taken>> waiting = new HashMap<>();
    /** Receives whose header matched, by message id. */
    private final Map<Long, Claim> claims = new HashMap<>();
    /** Ids that got an unclaimed chunk while their header was not held, with the look that took it, oldest first. */
    private final ArrayDeque<long[]> orphans = new ArrayDeque<>();
    private long taken;
    /** Chunk handles kept now (waiting or claimed, not yet received), and the most at once. */
    private long kept;
    private long mostKept;

    EarlyChunks(Discard discard) {
        this.discard = discard;
    }

    /** Gives {@code chunk} of message {@code id} to the receive that claimed the message; false when none takes it. */
    boolean toClaim(long id, Taken chunk) {
        taken++;
        Claim claim = claims.get(id);
        return claim != null && claim.offer(chunk);
    }

    /** Keeps {@code chunk} of message {@code id} until a receive claims it; an orphan unless its header is held. */
    void keep(long id, Taken chunk, boolean announced, long look) {
        ArrayDeque<Taken> queue = waiting.computeIfAbsent(id, i -> new ArrayDeque<>());
        if (!announced && queue.isEmpty()) {
            orphans.add(new long[] {id, look});
        }
        queue.add(chunk);
        oneMoreKept();
    }

    private void oneMoreKept() {
        kept++;
        mostKept = Math.max(mostKept, kept);
    }

    /** Lets go of a kept chunk; {@code dropped}: no receive will read it. */
    private void letGo(Taken chunk, boolean dropped) {
        kept--;
        discard.discard(chunk, dropped);
    }

    /** The chunks of message {@code id} waiting, oldest first, or null. */
    ArrayDeque<Taken> waiting(long id) {
        return waiting.get(id);
    }

    /** The node no longer holds message {@code id}'s header, nor will a receive claim it: its chunks become orphans. */
    void unannounced(long id, long look) {
        if (waiting.containsKey(id)) {
            orphans.add(new long[] {id, look});
        }
    }

    /**
     * Lets go of the orphans of ids that got their first {@value #ORPHAN_LOOKS} or more looks
     * before {@code look}, keeping those whose header the node now holds ({@code announced}).
     */
    void ageOut(long look, LongPredicate announced) {
        while (!orphans.isEmpty() && look - orphans.peekFirst()[1] >= ORPHAN_LOOKS) {
            long id = orphans.pollFirst()[0];
            if (!announced.test(id)) { // waiting under a claimed id: beyond its count, so let go of too
                discardAll(waiting.remove(id));
            }
        }
    }

    /** Lets go of every chunk of {@code queue}, if any. */
    private void discardAll(ArrayDeque<Taken> queue) {
        if (queue != null) {
            for (Taken chunk : queue) {
                letGo(chunk, true);
            }
            queue.clear();
        }
    }

    /**
     * A receive matched the header of message {@code id}, of {@code count} chunks: it takes the
     * chunks waiting under the id and those taken from now on, up to {@code count} in all. With
     * {@code drain} (the message is refused) they are let go of as they come, so that no more
     * than its receive drains at a time is kept.
     */
    Claim claim(long id, long count, boolean drain) {
        ArrayDeque<Taken> queue = waiting.remove(id);
        Claim claim = new Claim(id, queue != null ? queue : new ArrayDeque<>(), count, drain);
        claims.putIfAbsent(id, claim); // a second receive of one id is a forged header's: it takes nothing more
        return claim;
    }

    /** Lets go of everything not claimed: the node is closing. */
    void release() {
        for (ArrayDeque<Taken> queue : waiting.values()) {
            discardAll(queue);
        }
        waiting.clear();
        orphans.clear();
    }

    /** Chunks taken off UCX so far (for tests). */
    long taken() {
        return taken;
    }

    /** The most chunk handles kept at once so far (for tests): what the node held of UCX's memory. */
    long mostKept() {
        return mostKept;
    }

    /**
     * The chunks of one message a receive claimed: those taken before it posts their receives,
     * oldest first. The receive asks {@link #next} for each chunk it posts.
     */
    final class Claim {
        private final long id;
        private final ArrayDeque<Taken> taken;
        private final boolean drain;
        /** Chunks of the message neither taken nor posted to UCX. */
        private long unposted;
        /** Chunks let go of on arrival (a drained message) whose receive has not been asked for yet. */
        private long drained;

        private Claim(long id, ArrayDeque<Taken> taken, long count, boolean drain) {
            this.id = id;
            this.taken = taken;
            this.drain = drain;
            while (taken.size() > count) { // more than the message has: the newest are a forger's
                letGo(taken.pollLast(), true);
            }
            this.unposted = count - taken.size();
            if (drain) {
                drained = taken.size();
                taken.forEach(chunk -> letGo(chunk, false));
                taken.clear();
            }
        }

        private boolean offer(Taken chunk) {
            if (unposted == 0) {
                return false;
            }
            unposted--;
            if (drain) {
                drained++;
                discard.discard(chunk, false); // never kept
            } else {
                taken.add(chunk);
                oneMoreKept();
            }
            return true;
        }

        /**
         * The taken chunk to receive as the next chunk; {@link #DRAINED} for one let go of
         * already; or null: the next chunk is still UCX's to match, and the caller posts a tagged
         * receive for it.
         */
        Taken next() {
            Taken chunk = taken.poll();
            if (chunk != null) {
                kept--;
                return chunk;
            }
            if (drained > 0) {
                drained--;
                return DRAINED;
            }
            if (unposted > 0) {
                unposted--;
            }
            return null;
        }

        /** The receive is done: chunks of the message that still come are orphans, those taken are let go of. */
        void close() {
            if (claims.get(id) == this) {
                claims.remove(id);
            }
            discardAll(taken);
            unposted = 0;
        }
    }
}
