package org.memreg.odp;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.memreg.stat.CounterSet;
import org.memreg.stat.SetKind;
import org.memreg.transport.Endpoint;
import org.memreg.transport.Node;
import org.memreg.transport.RemoteWindow;
import org.memreg.transport.StaleWindowException;
import org.memreg.transport.TransportException;
import org.memreg.transport.WindowKey;

/**
 * A peer's mapping of an owner's {@link OdpRegion}: the remote window plus a
 * {@link PeerPageTable}. {@link #put} and {@link #get} begin the operation in the table (a page
 * without an entry sends {@code FAULT} and the call waits for {@code ESTABLISHED}, then retries),
 * issue the RMA, wait until it completed at the owner (a put is followed by a flush), and only
 * then end it in the table, so an {@code ACK} never leaves while an operation on its pages is in
 * flight.
 *
 * <p><b>Keys.</b> When the owner cuts another peer off it re-keys its window: it sends this
 * mapping the next key generation (REKEY), then revokes the current one. An operation that meets
 * the revocation ({@link StaleWindowException}) waits up to a second for the new key and is
 * retried with it; a mapping that was itself cut off gets no new key, and its operations fail
 * with that {@link StaleWindowException} (nothing was sent).
 *
 * <p>One daemon thread per mapping receives {@code INVALIDATE}, {@code ESTABLISHED} and REKEY. Calls are
 * blocking and thread-safe; each waits at most the timeout given to {@link #attach} for its pages
 * and a put's flush, and then throws {@link TransportException}; a put or get that has started
 * returns or throws only once UCX has let go of the caller's buffer (an owner that stopped
 * progressing holds it until it answers or the node closes). No wait outlasts the owner: once the
 * endpoint to it is closed or failed (with this node, or the owner gone), a put or get that needs
 * pages fails at once with {@link TransportException}; once the owner revoked the key in use and
 * sent no newer one within a second (it closed the region, or cut this peer off), every put and
 * get fails at once with {@link StaleWindowException}. The mapping's thread ends then, saying so.
 *
 * <p>A mapping's counters ({@link #stats()}) live in a set named {@code odp-peer-<region number
 * in hex>} in the process's counters file, shown by {@code memreg stat} while the mapping is open,
 * unless {@value OdpRegion#STATS_PROP_NAME} is false.
 */
public final class OdpMapping implements AutoCloseable {
    /** How long an operation that met a revoked key waits for the owner's next key. */
    static final long REKEY_WAIT_NANOS = TimeUnit.SECONDS.toNanos(1);
    /**
     * The deadline of a wait for a put or a get: none. Its future completes once UCX has let go of
     * the caller's buffer (late, if the owner stalls, or when the node closes); a call that threw
     * before would leave the buffer for UCX to write into after the caller freed it.
     */
    private static final long UNTIL_UCX_LETS_GO = Long.MIN_VALUE;
    private final Node node;
    private final int region;
    /** The token the owner gave this mapping in its SETUP: every message between the two carries it ({@link OdpWire}). */
    private final long token;
    private final ForgedMessages forged = new ForgedMessages("ODP mapping");
    private final long pageSize;
    private final long timeoutNanos;
    private final Endpoint owner;
    private volatile RemoteWindow window;
    private volatile boolean ignoreInvalidations;
    private final PeerPageTable table;
    /** The table's counters: in the process's counters file unless {@link OdpRegion#STATS_PROP_NAME} is false. */
    private final CounterSet counters;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment inbox = arena.allocate(OdpWire.MAX_BYTES, 8);
    private final Object rekeyed = new Object();
    private final Thread thread;
    private volatile Consumer<PageRange> onRelease = r -> {
    };
    private volatile boolean closing;
    private volatile CompletableFuture<Long> receive;
    /** Since when ({@link System#nanoTime}) the key in use has been revoked with no newer one come; 0 if it is not. */
    private long revokedSince;
    /** True once the key in use was revoked for good ({@link #keyRevokedForGood}). */
    private volatile boolean keyGone;
    /** Held around each message to the owner and the DETACH, so nothing follows the DETACH. */
    private final Object toOwnerLock = new Object();
    /** Set once the DETACH went (under {@link #toOwnerLock}): the owner forgot this peer. */
    private boolean detached;

    private OdpMapping(Node node, Endpoint owner, int region, long pageSize, int pages, long token,
            RemoteWindow window, long timeoutNanos) {
        this.node = node;
        this.token = token;
        this.region = region;
        this.pageSize = pageSize;
        this.owner = owner;
        this.window = window;
        this.timeoutNanos = timeoutNanos;
        long toOwner = OdpWire.tag(OdpWire.TO_OWNER, region);
        this.counters = OdpStatsCounters.open(SetKind.ODP_MAPPING, "odp-peer-" + Integer.toHexString(region));
        this.table = new PeerPageTable(node.id(), pages, m -> {
            if (m instanceof OdpMessage.Ack a) {
                onRelease.accept(a.range());
            }
            synchronized (toOwnerLock) {
                if (!detached) { // an ACK of an INVALIDATE that crossed the DETACH: the owner needs none
                    owner.send(toOwner, OdpWire.encode(m, token));
                }
            }
        }, new OdpCounters(counters));
        this.thread = Thread.ofPlatform().daemon().name("odp-peer-" + Integer.toHexString(region)).start(this::run);
    }

    /**
     * Waits (at most {@code timeout}) for the owner's SETUP of region {@code region} on
     * {@code owner} (sent by {@link OdpRegion#serve}) and maps it with every page unmapped.
     */
    public static OdpMapping attach(Node node, Endpoint owner, int region, Duration timeout) {
        OdpStatsCounters.checkSettings();
        try (Arena setupArena = Arena.ofConfined()) {
            MemorySegment setup = setupArena.allocate(64 << 10, 8);
            CompletableFuture<Long> got = node.receive(OdpWire.tag(OdpWire.SETUP, region), setup);
            try {
                try {
                    got.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
                } catch (TimeoutException e) {
                    if (got.cancel(false)) {
                        throw new TransportException("no ODP setup for region " + Integer.toHexString(region)
                                + " within " + timeout, e);
                    }
                    got.get(); // it came as the wait ended: UCX writes the buffer until the receive is done
                }
            } catch (ExecutionException e) {
                throw new TransportException("ODP setup failed: " + e.getCause(), e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new TransportException("interrupted", e);
            }
            long length = got.join();
            long pageSize = setup.get(JAVA_LONG, 0);
            int pages = setup.get(JAVA_INT, 8);
            int keyLength = setup.get(JAVA_INT, 12);
            long token = setup.get(JAVA_LONG, 16);
            if (length < OdpWire.SETUP_HEADER || pageSize <= 0 || Long.bitCount(pageSize) != 1 || pages <= 0
                    || keyLength < 0 || keyLength > length - OdpWire.SETUP_HEADER) {
                throw new TransportException(String.format("malformed ODP setup for region %x: %d bytes, page size %d,"
                        + " %d pages, key of %d bytes", region, length, pageSize, pages, keyLength), (Throwable) null);
            }
            byte[] key = setup.asSlice(OdpWire.SETUP_HEADER, keyLength).toArray(JAVA_BYTE);
            RemoteWindow window = owner.attach(WindowKey.fromBytes(key, 0, keyLength));
            return new OdpMapping(node, owner, region, pageSize, pages, token, window, timeout.toNanos());
        }
    }

    /** Number of pages of the region. */
    public int pages() {
        return table.pages();
    }

    /** The owner's page size. */
    public long pageSize() {
        return pageSize;
    }

    /**
     * What this peer's table says of {@code page} now: a read-only look, like
     * {@link OdpRegion#state}; the table itself stays inside the mapping.
     */
    public PeerPageState state(int page) {
        return table.state(page);
    }

    /** The live table, mutators included: only for this package's tests (a peer that holds an operation open). */
    PeerPageTable table() {
        return table;
    }

    /**
     * Calls {@code listener} with each range this peer gives up, just before its {@code ACK}
     * goes out (under the table's lock: it must be short and must not call back). After that the
     * owner may release the pages: their content is gone (zero when faulted in again).
     */
    public void onRelease(Consumer<PageRange> listener) {
        this.onRelease = listener;
    }

    /** Writes {@code source} (native) at {@code offset} of the region; returns once it is complete at the owner. */
    public void put(long offset, MemorySegment source) {
        rma(true, offset, source, null);
    }

    /**
     * Like {@link #put(long, MemorySegment)}, and runs {@code whileHeld} after the put completed
     * at the owner but before the pages may be given up (no {@code ACK} for them can go out
     * meanwhile): for callers that must know their write landed while they still held the pages.
     */
    public void put(long offset, MemorySegment source, Runnable whileHeld) {
        rma(true, offset, source, whileHeld);
    }

    /** Reads the region at {@code offset} into {@code target} (native, writable). */
    public void get(long offset, MemorySegment target) {
        rma(false, offset, target, null);
    }

    /** Like {@link #get(long, MemorySegment)}, and runs {@code whileHeld} before the pages may be given up. */
    public void get(long offset, MemorySegment target, Runnable whileHeld) {
        rma(false, offset, target, whileHeld);
    }

    private void rma(boolean put, long offset, MemorySegment buffer, Runnable whileHeld) {
        if (closing) {
            throw closedException();
        }
        if (keyGone) { // not a second's wait for a key that will not come, as for a revocation just seen
            throw keyGoneException();
        }
        if (!put && buffer.isReadOnly()) {
            throw new IllegalArgumentException("a get writes into its target, which is read-only: " + buffer);
        }
        long length = buffer.byteSize();
        if (offset < 0 || length <= 0 || offset + length > (long) table.pages() * pageSize) {
            throw new IndexOutOfBoundsException("offset " + offset + ", length " + length);
        }
        int first = (int) (offset / pageSize);
        PageRange range = new PageRange(first, (int) ((offset + length - 1) / pageSize) - first + 1);
        long deadline = System.nanoTime() + timeoutNanos;
        while (!table.tryBegin(range)) {
            try {
                await(table.whenMapped(range), deadline, "fault on " + range);
            } catch (TransportException e) {
                if (closing) { // the wait failed because the mapping closed under it
                    throw closedException();
                }
                throw e;
            }
        }
        try {
            for (RemoteWindow w = window;;) {
                try {
                    if (put) {
                        await(w.put(offset, buffer), UNTIL_UCX_LETS_GO, "put");
                        await(w.flush(), deadline, "flush");
                    } else {
                        await(w.get(offset, buffer), UNTIL_UCX_LETS_GO, "get");
                    }
                    break;
                } catch (StaleWindowException stale) {
                    // The owner re-keyed (it cut another peer off): it sent us the next key before it
                    // revoked this one, so wait briefly for it. A peer that was cut off gets none.
                    RemoteWindow next = awaitRekey(w, Math.min(deadline, System.nanoTime() + REKEY_WAIT_NANOS));
                    if (next == null) {
                        throw stale;
                    }
                    w = next;
                }
            }
            if (whileHeld != null) {
                whileHeld.run();
            }
        } finally {
            table.end(range);
        }
    }

    /** A window with a newer key than {@code stale}, waiting until {@code until}; null when none came. */
    private RemoteWindow awaitRekey(RemoteWindow stale, long until) {
        synchronized (rekeyed) {
            while (window.key().generation() <= stale.key().generation()) {
                long left = until - System.nanoTime();
                if (left <= 0) {
                    return null;
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(rekeyed, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return null;
                }
            }
            return window;
        }
    }

    /** The generation of the owner's key this mapping uses now (it grows when the owner re-keys). */
    public long keyGeneration() {
        return window.key().generation();
    }

    /**
     * For tests of the cut-off: when true, the receiving thread drops {@code INVALIDATE}s, as a
     * peer would that is frozen or broken, so it never acknowledges and the owner's lease expires.
     */
    void ignoreInvalidations(boolean ignore) {
        this.ignoreInvalidations = ignore;
    }

    /**
     * Waits for {@code f} until {@code deadline} ({@link System#nanoTime}), or with
     * {@link #UNTIL_UCX_LETS_GO} as long as its operation holds the caller's buffer.
     */
    private static <T> T await(CompletableFuture<T> f, long deadline, String what) {
        try {
            return deadline == UNTIL_UCX_LETS_GO ? f.get()
                    : f.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new TransportException(what + " timed out", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof TransportException t) {
                throw t;
            }
            throw new TransportException(what + " failed: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TransportException(what + " interrupted", e);
        }
    }

    /** The counters of this peer's table. */
    public OdpStats stats() {
        return table.stats();
    }

    /**
     * Stops the receiving thread and frees its counter set; later puts and gets throw
     * {@link IllegalStateException}, and so do those waiting for their pages. Once no put or get is
     * in flight (waiting at most the mapping's timeout for those that are) it tells the owner
     * ({@code DETACH}), which then cuts this peer off at once: its reclaims wait for this peer's
     * acknowledgement no longer, rather than until its lease ran out.
     */
    @Override
    public void close() {
        if (closing) {
            return;
        }
        closing = true;
        table.close(closedException()); // no operation begins now; one waiting for its pages ends
        detach();
        counters.close(); // frees its set in the counters file; never throws
        if (OdpWire.stopReceiving(receive, thread)) {
            arena.close();
        }
    }

    /**
     * Sends the owner a DETACH once none of this mapping's operations is in flight: an ACK of every
     * reclaim, now and later. Not when the owner cannot hear it, has taken the key back already,
     * or an operation is still in flight after the timeout: then the lease does it.
     */
    private void detach() {
        long deadline = System.nanoTime() + timeoutNanos;
        while (!table.idle()) {
            if (System.nanoTime() - deadline > 0) {
                return;
            }
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        if (keyGone || !owner.isUsable()) {
            return;
        }
        try {
            synchronized (toOwnerLock) {
                owner.send(OdpWire.tag(OdpWire.TO_OWNER, region), OdpWire.encodeDetach(node.id(), token));
                detached = true;
            }
        } catch (RuntimeException e) { // the node is closing, say: the lease does it
            System.getLogger(OdpMapping.class.getName()).log(System.Logger.Level.DEBUG, "no DETACH: " + e);
        }
    }

    private IllegalStateException closedException() {
        return new IllegalStateException("ODP mapping of region " + Integer.toHexString(region) + " is closed");
    }

    /** Messages dropped so far for want of the right token. */
    long forgedDropped() {
        return forged.dropped();
    }

    private void run() {
        long tag = OdpWire.tag(OdpWire.TO_PEER, region);
        while (!closing) {
            try {
                if (keyRevokedForGood()) {
                    return;
                }
                if (receive == null) {
                    receive = node.receive(tag, inbox);
                }
                long length;
                try {
                    length = receive.get(OdpRegion.TICK_MILLIS, TimeUnit.MILLISECONDS);
                } catch (TimeoutException e) {
                    if (!owner.isUsable()) {
                        ownerGone(null);
                        return;
                    }
                    continue;
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TransportException t && t.isTruncation())) {
                        throw e;
                    }
                    receive = null;
                    forged.drop("a message of more than " + OdpWire.MAX_BYTES + " bytes");
                    continue;
                }
                receive = null;
                boolean rekey = OdpWire.isRekey(inbox, length);
                if (OdpWire.token(inbox, length) != token) {
                    forged.drop(rekey ? "a REKEY" : "a message of " + length + " bytes");
                    continue;
                }
                if (rekey) {
                    byte[] key = OdpWire.rekeyBytes(inbox, length);
                    RemoteWindow next = owner.attach(WindowKey.fromBytes(key, 0, key.length));
                    synchronized (rekeyed) {
                        window = next;
                        rekeyed.notifyAll();
                    }
                    continue;
                }
                switch (OdpWire.decode(inbox, length)) {
                    case OdpMessage.Invalidate i -> {
                        if (!ignoreInvalidations) {
                            table.onInvalidate(i);
                        }
                    }
                    case OdpMessage.Established e -> table.onEstablished(e);
                    case OdpMessage m -> throw new IllegalArgumentException("peer got " + m);
                }
            } catch (ExecutionException | RuntimeException e) {
                receive = null;
                if (!closing && !owner.isUsable()) {
                    ownerGone(e);
                    return;
                }
                if (!closing) {
                    System.getLogger(OdpMapping.class.getName()).log(System.Logger.Level.WARNING,
                            "ODP mapping " + Integer.toHexString(region) + ": " + e);
                    if (e instanceof ExecutionException) {
                        sleepQuietly();
                    }
                }
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /**
     * The endpoint to the owner was closed (with this node, or by the caller) or failed: no page
     * comes any more. Every wait for pages fails now and later, with {@code cause}; said once.
     */
    private void ownerGone(Throwable cause) {
        String what = "ODP mapping of region " + Integer.toHexString(region) + ": its endpoint to the owner ("
                + owner + ") is closed or failed; no page can come any more";
        System.getLogger(OdpMapping.class.getName()).log(System.Logger.Level.WARNING, what);
        table.close(new TransportException(what, cause));
    }

    /**
     * True when the owner revoked the key in use and sent no newer one within
     * {@link #REKEY_WAIT_NANOS}: it closed the region or cut this peer off, and no page comes any
     * more, so every wait for pages fails now and later (said once). An owner that re-keys sends
     * the next key before it revokes this one.
     */
    private boolean keyRevokedForGood() {
        RemoteWindow w = window;
        if (!w.isRevoked()) {
            revokedSince = 0;
            return false;
        }
        long now = System.nanoTime();
        if (revokedSince == 0) {
            revokedSince = now;
        }
        if (now - revokedSince < REKEY_WAIT_NANOS) {
            return false;
        }
        keyGone = true;
        StaleWindowException gone = keyGoneException();
        System.getLogger(OdpMapping.class.getName()).log(System.Logger.Level.WARNING, gone.getMessage());
        table.close(gone);
        return true;
    }

    private StaleWindowException keyGoneException() {
        WindowKey key = window.key();
        return new StaleWindowException(key.windowId(), key.generation(), "the owner revoked it and sent no newer key"
                + " (it closed ODP region " + Integer.toHexString(region) + " or cut this peer off); no page can come"
                + " any more");
    }

    private static void sleepQuietly() {
        try {
            Thread.sleep(OdpRegion.TICK_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
