package org.memreg.odp;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.memreg.device.Access;
import org.memreg.linux.Mman;
import org.memreg.linux.ProcessMaps;
import org.memreg.linux.SysConf;
import org.memreg.monitor.MemoryMonitor;
import org.memreg.stat.CounterSet;
import org.memreg.stat.SetKind;
import org.memreg.transport.Endpoint;
import org.memreg.transport.Node;
import org.memreg.transport.TransportException;
import org.memreg.transport.Window;
import org.memreg.transport.WindowKey;

/**
 * The owner's side of an on-demand-paged region: a transport {@link Window} whose pages are
 * given back to the kernel on {@link #reclaim} once every peer that maps them acknowledged
 * (or its lease ran out), and made present again when a peer faults on them. Peers reach it
 * through {@link OdpMapping}. The protocol is {@link OwnerPageTable}; this class wires it to the
 * transport (control messages under the tags of {@link OdpWire}) and to real memory.
 *
 * <p><b>Memory.</b> Two kinds of {@link WindowMemory}. By default
 * ({@link WindowMemory#UCX_SHARED}) the window is allocated by UCX, which on this platform makes
 * it SysV shared memory (a {@code MAP_SHARED} mapping; checked in {@code /proc/self/maps} when the
 * region is made) that peers on this host reach directly: a release is munlock +
 * {@code MADV_DONTNEED} + {@code MADV_REMOVE} (DONTNEED alone frees nothing of a shared mapping).
 * With {@link WindowMemory#ANONYMOUS} the region maps private anonymous memory itself and
 * registers it as the window ({@link Node#registerWindow}): a release is munlock +
 * {@code MADV_DONTNEED}, and userfaultfd can watch it ({@link #watchRemovals}). Peers on this host
 * reach it by cross-memory attach rather than the shared segment; over the error mode PEER that
 * leases need, UCX uses neither shared segment nor attach but TCP for both kinds, and they
 * measured the same (BENCHMARKS.md). Either way {@link #residentReclaimedPages()} checks with
 * {@code mincore} that released pages stay released, and the region starts with every page
 * present and pinned.
 *
 * <p><b>Thread.</b> One daemon thread per region receives the peers' {@code ACK}s and
 * {@code FAULT}s and is also the lease timer: it waits for the next message at most until the
 * earliest lease deadline (and at most {@link #TICK_MILLIS}), then calls
 * {@link OwnerPageTable#expireLeases}.
 *
 * <p><b>Cut-off.</b> A peer whose lease ran out is cut off: the table forgets its mappings and
 * ignores its later messages, and the region thread <em>re-keys</em> the window (the
 * endpoint to the late peer belongs to the application and is left open). It first sends
 * every remaining peer the next key generation ({@code REKEY}, see {@link OdpWire}; they attach
 * it at once), then revokes the current generation through the transport
 * ({@link Window#invalidate()}: every connected node, the late one included, is told, flushes what
 * it issued to us and acknowledges; a node that does not answer is skipped after at most 5 s).
 * The re-key runs on a thread of its own ({@code odp-rekey-<region>}), so the region thread goes
 * on serving the other peers' FAULTs and ACKs while the revocation waits, and {@link #serve} hands
 * a new peer the next key meanwhile. After that the late peer's node refuses a put or get with its
 * old key at the origin with {@link org.memreg.transport.StaleWindowException} before anything is
 * sent; a remaining peer whose operation met the revocation first retries it with the new key
 * ({@link OdpMapping}).
 *
 * <p><b>What a software transport cannot enforce.</b> The revocation is checked at the origin,
 * by the late peer's own transport, when its progress thread has processed the revocation. The
 * window is shared memory that the peer's process has mapped: a process that is frozen (not dead,
 * e.g. SIGSTOP) through the revocation and then resumes an RMA it had already begun, or issues one
 * before its progress thread handles the pending revocation, or simply misbehaves, still writes
 * through its mapping; nothing in the owner can stop that. A released page it writes becomes
 * resident again, which {@link #residentReclaimedPages()} reports. A NIC would revoke the key in
 * hardware.
 *
 * <p>A peer whose endpoint closes or fails (error mode PEER: a killed peer's within milliseconds
 * here) is cut off at the region thread's next look, at most {@link #TICK_MILLIS} later, as
 * {@link #disconnect} does; a peer that stops answering without that is found out by its lease
 * (when a reclaim needs its {@code ACK}). A peer whose mapping closes says so ({@code DETACH},
 * once none of its operations is in flight) and is cut off at once, without a re-key: it lets go
 * of the key itself.
 *
 * <p><b>Counters.</b> A region's counters ({@link #stats()}, the {@code odp.*} counters of
 * {@link org.memreg.stat.CounterId}) live in a set named {@code odp-owner-<region number in hex>}
 * in the process's counters file, which {@code memreg stat} shows while the region is open; each
 * {@link OdpMapping}'s as {@code odp-peer-<region number in hex>}; {@value #STATS_PROP_NAME}{@code =false}
 * keeps both in ordinary memory instead.
 */
public final class OdpRegion implements AutoCloseable {
    /** Longest wait of the region thread between lease checks. */
    public static final long TICK_MILLIS = 20;
    /** Whether regions and mappings publish their counters for {@code memreg stat} ({@code true}/{@code false}). */
    public static final String STATS_PROP_NAME = "memreg.odp.stats";
    /** Default of {@link #STATS_PROP_NAME}. */
    public static final boolean STATS_DEFAULT = true;

    /** The memory behind a region's window: who allocates it, and so who can reach it and how. */
    public enum WindowMemory {
        /** Allocated by UCX: shared memory peers on this host reach directly (fast RMA). */
        UCX_SHARED,
        /**
         * Private anonymous memory the region maps and registers: memory userfaultfd can watch,
         * for {@link #watchRemovals}; peers on this host cannot use the shared segment for it.
         */
        ANONYMOUS
    }

    private final Node node;
    /** The mapping the region made ({@link WindowMemory#ANONYMOUS}), unmapped after the window closes; else null. */
    private final MemorySegment owned;
    private final Window window;
    private final int region;
    private final long pageSize;
    private final boolean shared;
    private final OwnerPageTable table;
    /** The table's counters: in the process's counters file unless {@link #STATS_PROP_NAME} is false. */
    private final CounterSet counters;
    private final OdpCounters odpCounters;
    /** The peers served, by node id: their endpoint and the token their messages carry ({@link OdpWire}). */
    private final Map<Long, Served> peers = new ConcurrentHashMap<>();
    /** Messages dropped for a wrong token, and when one was last reported. */
    private final ForgedMessages forged = new ForgedMessages("ODP region");
    private final ConcurrentLinkedQueue<Long> toClose = new ConcurrentLinkedQueue<>();
    /** Held by a re-key from start to end, and by the window's close: one at a time, none after the close. */
    private final Object keyLock = new Object();
    /** Held while a key is handed out (SETUP, REKEY), briefly: so no peer gets a key about to be revoked. */
    private final Object handoutLock = new Object();
    /** The next key, handed out by a re-key under way and good after its revocation; else null (handoutLock). */
    private WindowKey nextKey;
    /** The pages' memory, and what the application drops of it itself ({@link #watchRemovals}). */
    private final WatchedPageMemory memory;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment inbox = arena.allocate(OdpWire.BYTES, 8);
    private final Thread thread;
    private volatile boolean closing;
    private volatile CompletableFuture<Long> receive;
    /** The thread of the last re-key, or null (the region thread's alone). */
    private Thread rekeying;
    /** When the region thread last looked at its peers' endpoints ({@link System#nanoTime}). */
    private long endpointsSeen = System.nanoTime();
    private int trimCursor;

    /** The (node, region number) pairs of the regions open in this process: one region per number per node. */
    private static final Set<List<Long>> OPEN = ConcurrentHashMap.newKeySet();

    private OdpRegion(Node node, long bytes, int region, Duration lease, WindowMemory windowMemory) {
        this.node = node;
        this.region = region;
        this.pageSize = SysConf.pageSize();
        long rounded = (bytes + pageSize - 1) / pageSize * pageSize;
        if (rounded / pageSize > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("region too large: " + bytes);
        }
        if (windowMemory == WindowMemory.ANONYMOUS) {
            long at = Mman.mmap(0, rounded, Mman.PROT_READ | Mman.PROT_WRITE,
                    Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS, -1, 0);
            this.owned = MemorySegment.ofAddress(at).reinterpret(rounded);
            try {
                this.window = node.registerWindow(owned, Access.ALL);
            } catch (RuntimeException e) {
                Mman.munmap(at, rounded);
                throw e;
            }
        } else {
            this.owned = null;
            this.window = node.allocateWindow(rounded, Access.ALL);
        }
        long pages = window.size() / pageSize;
        LockedPageMemory locked;
        try {
            this.shared = ProcessMaps.holding(window.segment().address()).shared();
            locked = new LockedPageMemory(window.segment().address(), shared).establishAll((int) pages);
        } catch (RuntimeException e) { // e.g. RLIMIT_MEMLOCK: give back what was taken
            window.close();
            if (owned != null) {
                Mman.munmap(owned.address(), owned.byteSize());
            }
            throw e;
        }
        this.memory = new WatchedPageMemory(locked, "ODP region " + Integer.toHexString(region),
                window.segment().address(), pageSize, (int) pages);
        this.counters = OdpStatsCounters.open(SetKind.ODP_REGION, "odp-owner-" + Integer.toHexString(region));
        this.odpCounters = new OdpCounters(counters);
        this.table = new OwnerPageTable((int) pages, memory, new Outbox(), lease.toNanos(), odpCounters);
        this.thread = Thread.ofPlatform().daemon().name("odp-owner-" + Integer.toHexString(region)).start(this::run);
    }

    /**
     * Starts configuring an ODP region of {@code bytes} (rounded up to pages) on {@code node},
     * under region number {@code region} (peers attach with the same number; one region per
     * number per node); {@link OdpRegionBuilder#build()} allocates it.
     */
    public static OdpRegionBuilder builder(Node node, int region, long bytes) {
        return new OdpRegionBuilder(node, region, bytes);
    }

    /** Allocates the region (from {@link OdpRegionBuilder#build()}). */
    static OdpRegion open(Node node, long bytes, int region, Duration lease, WindowMemory windowMemory) {
        if (lease.isNegative() || lease.isZero()) {
            throw new IllegalArgumentException("lease must be positive: " + lease);
        }
        if (bytes <= 0) {
            throw new IllegalArgumentException("region size must be positive: " + bytes);
        }
        Objects.requireNonNull(windowMemory, "windowMemory");
        OdpStatsCounters.checkSettings();
        List<Long> name = List.of(node.id(), (long) region);
        if (!OPEN.add(name)) {
            throw new IllegalStateException(String.format("node %016x already has an ODP region %x", node.id(), region));
        }
        try {
            return new OdpRegion(node, bytes, region, lease, windowMemory);
        } catch (RuntimeException e) {
            OPEN.remove(name);
            throw e;
        }
    }

    /** The region's memory, for the owner's own reads and writes (only of pages it knows present). */
    public MemorySegment segment() {
        return window.segment();
    }

    /** Number of pages. */
    public int pages() {
        return table.pages();
    }

    /** Page size in bytes. */
    public long pageSize() {
        return pageSize;
    }

    /** True when the window is a shared mapping (released with MADV_REMOVE too). */
    public boolean isShared() {
        return shared;
    }

    /**
     * Starts serving the peer at the other end of {@code endpoint}: it gets an empty page table
     * here and the region's key in a SETUP message (it waits for it in
     * {@link OdpMapping#attach}). Returns the peer's id in the table (its node id). A node served
     * before (even if cut off) is refused: a restarted peer is a new node with a new id.
     */
    public long serve(Endpoint endpoint) {
        checkOpen();
        if (endpoint.node() != node) {
            throw new IllegalArgumentException(endpoint + " belongs to " + endpoint.node() + ", not to this region's "
                    + node);
        }
        long peer = endpoint.peerId();
        table.connect(peer);
        synchronized (handoutLock) { // not keyLock: a re-key under way may hold that for seconds
            Served served = new Served(endpoint, ForgedMessages.newToken());
            peers.put(peer, served);
            byte[] key = (nextKey != null ? nextKey : window.key()).toBytes();
            MemorySegment setup = Arena.ofAuto().allocate(OdpWire.SETUP_HEADER + key.length, 8);
            setup.set(JAVA_LONG, 0, pageSize);
            setup.set(JAVA_INT, 8, table.pages());
            setup.set(JAVA_INT, 12, key.length);
            setup.set(JAVA_LONG, 16, served.token());
            setup.asSlice(OdpWire.SETUP_HEADER).copyFrom(MemorySegment.ofArray(key));
            endpoint.send(OdpWire.tag(OdpWire.SETUP, region), setup);
        }
        return peer;
    }

    /**
     * Cuts {@code peer} off now (the application knows it failed or left) and re-keys the window
     * before it returns: the revocation waits at most 5 s for nodes that do not answer, and first
     * for a re-key under way.
     */
    public void disconnect(long peer) {
        checkOpen();
        table.disconnect(peer);
        closeCutOff();
    }

    /** Starts reclaiming the present pages of {@code range} (also called by REMOVE events: {@link #watchRemovals}); see {@link OwnerPageTable#reclaim}. Returns its epoch or 0. */
    public long reclaim(PageRange range) {
        checkOpen();
        return table.reclaim(range, System.nanoTime());
    }

    /**
     * Starts reclaiming about {@code bytes} of present pages, round robin through the region (we
     * do not know which pages peers use least). For {@code PressureWatcher.builder(region::trim)}.
     * Returns the bytes whose reclaim started (they are released once the peers acknowledged).
     */
    public long trim(long bytes) {
        checkOpen();
        int want = (int) Math.min(table.pages(), Math.max(1, (bytes + pageSize - 1) / pageSize));
        int taken = 0;
        synchronized (table) {
            for (int scanned = 0; scanned < table.pages() && taken < want; scanned++) {
                int p = trimCursor;
                trimCursor = (trimCursor + 1) % table.pages();
                if (table.state(p) == OwnerPageState.PRESENT) {
                    table.reclaim(new PageRange(p, 1), System.nanoTime());
                    taken++;
                }
            }
        }
        return taken * pageSize;
    }

    /**
     * Starts the protocol whenever the application itself drops pages of the region
     * ({@code madvise(MADV_DONTNEED)} or {@code MADV_REMOVE}, after {@code munlock}: the kernel
     * refuses both on locked pages): {@code monitor} (normally
     * {@link org.memreg.monitor.UserfaultfdMonitor#open(boolean)}, started here and closed with
     * the region) watches the region and hands each REMOVE to the region thread, which reclaims
     * the present pages of that range as if {@link #reclaim} had been called: peers are
     * invalidated, acknowledge, and the pages are released and marked reclaimed.
     *
     * <p><b>After the fact.</b> The kernel lets the madvise go on as soon as the reader has read
     * the event, before the region thread has told any peer, so by then the pages are gone: a
     * peer's put that lands between the madvise and its {@code ACK} writes a fresh zero page that
     * the release then drops again, and a get reads zeros. What the protocol restores is the
     * invariant that the peers' tables and the pages agree; it cannot protect data the
     * application itself threw away. Events of the region's own releases are ignored.
     *
     * <p><b>Lost events.</b> When the monitor says events were lost ({@code SUSPECT}: its ring
     * overflowed), the region thread asks the kernel which {@code PRESENT} pages are no longer
     * resident ({@code mincore}) and reclaims those; once the monitor has failed, it asks every
     * tick ({@link #TICK_MILLIS}), so dropped pages are still found, a tick late at most.
     *
     * <p><b>Window memory.</b> Needs a region made with {@link WindowMemory#ANONYMOUS}. The window UCX
     * allocates ({@link WindowMemory#UCX_SHARED}) is a SysV segment (shmat) here, and
     * {@code UFFDIO_REGISTER} refuses it with EINVAL in every mode (write-protect, missing, minor),
     * even from a userfaultfd opened with {@code WP_HUGETLBFS_SHMEM}: userfaultfd takes anonymous,
     * shmem and hugetlbfs mappings, and a SysV segment's mapping is none of those to it. For such a
     * region this returns false.
     *
     * @return false when the monitor cannot watch the region's memory (then the monitor is closed)
     */
    public boolean watchRemovals(MemoryMonitor monitor) {
        checkOpen();
        return memory.watch(monitor);
    }

    private void checkOpen() {
        if (closing) {
            throw new IllegalStateException("ODP region " + Integer.toHexString(region) + " is closed");
        }
    }

    /** The state of {@code page}. */
    public OwnerPageState state(int page) {
        return table.state(page);
    }

    /** Reclaims still waiting for acknowledgements or leases. */
    public int pendingReclaims() {
        return table.pendingReclaims();
    }

    /** The counters now. */
    public OdpStats stats() {
        return table.stats();
    }

    /** The generation of the window's key now: 1, plus one per re-keying after a cut-off. */
    public long keyGeneration() {
        return window.generation();
    }

    /** True when {@code peer} was cut off. */
    public boolean isCutOff(long peer) {
        return table.isCutOff(peer);
    }

    /**
     * Pages the table says are {@code RECLAIMED} but {@code mincore} finds resident: a page was
     * touched after it was released (by a peer's RMA, or by the owner). Checked under the table's
     * lock, so no fault can re-establish a page between the two looks. 0 when all is well.
     */
    public int residentReclaimedPages() {
        return memory.residentReclaimedPages(table);
    }

    /** Runs {@code action} with the page table locked: no state changes meanwhile. */
    public void withStatesFrozen(Runnable action) {
        synchronized (table) {
            action.run();
        }
    }

    /**
     * Stops the region thread, revokes the key at every peer, frees the memory and frees its
     * counter set. Twice is harmless.
     */
    @Override
    public void close() {
        if (closing) {
            return;
        }
        closing = true;
        OPEN.remove(List.of(node.id(), (long) region));
        counters.close(); // frees its set in the counters file; never throws
        boolean stopped = OdpWire.stopReceiving(receive, thread);
        memory.close(); // its monitor, before the unmap
        try {
            synchronized (keyLock) { // after a re-key under way (at most its 5 s); a later one finds closing set
                window.close();
            }
        } finally {
            if (owned != null) {
                Mman.munmap(owned.address(), owned.byteSize()); // after the window: no peer reaches it now
            }
            if (stopped) {
                arena.close();
            }
        }
    }

    private void run() {
        long tag = OdpWire.tag(OdpWire.TO_OWNER, region);
        while (!closing) {
            try {
                if (receive == null) {
                    receive = node.receive(tag, inbox);
                }
                long wait = Math.min(table.nextLeaseDeadline() - System.nanoTime(),
                        TimeUnit.MILLISECONDS.toNanos(TICK_MILLIS));
                try {
                    receive.get(Math.max(wait, 100_000), TimeUnit.NANOSECONDS);
                } catch (TimeoutException | ExecutionException e) {
                    // nothing came (the lease check below), or takeArrived sees the failure
                }
                takeArrived(tag);
                cutOffFailed();
                memory.reclaimDropped(table);
                table.expireLeases(System.nanoTime());
                startReKey();
            } catch (ExecutionException | RuntimeException e) {
                receive = null;
                if (!closing && node.isClosed()) { // nothing comes any more: say so once, not every tick
                    System.getLogger(OdpRegion.class.getName()).log(System.Logger.Level.WARNING, "ODP region "
                            + Integer.toHexString(region) + ": its node closed; the region serves no peer any more");
                    return;
                }
                if (!closing) {
                    System.getLogger(OdpRegion.class.getName()).log(System.Logger.Level.WARNING,
                            "ODP region " + Integer.toHexString(region) + ": " + e);
                    try {
                        Thread.sleep(TICK_MILLIS);
                    } catch (InterruptedException stop) {
                        return;
                    }
                }
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /**
     * Handles every message that has come (at most a thousand), not just the one waited for, before
     * the leases are judged: a peer's ACK that came in time while this thread was held up (a
     * burst, or the table held by {@link #withStatesFrozen}) counts. Before, the leases were judged
     * after one message, and a peer whose ACK waited behind another was cut off.
     */
    private void takeArrived(long tag) throws ExecutionException {
        for (int taken = 0; taken < 1000 && receive.isDone(); taken++) {
            CompletableFuture<Long> done = receive;
            receive = null;
            if (done.state() == Future.State.CANCELLED) {
                return; // by close()
            }
            if (done.state() == Future.State.SUCCESS) {
                accept(done.resultNow());
            } else if (done.exceptionNow() instanceof TransportException t && t.isTruncation()) {
                forged.drop("a message of more than " + OdpWire.BYTES + " bytes"); // and the leases go on
            } else {
                throw new ExecutionException(done.exceptionNow());
            }
            receive = node.receive(tag, inbox);
            if (!receive.isDone()) {
                node.progress(); // one look into UCX for what else has come
            }
        }
    }

    /**
     * Cuts off the peers whose endpoint closed or failed, as {@link #disconnect} would: the
     * transport says they are gone (a killed peer's within milliseconds), and their reclaims need
     * not wait out the lease. Once a tick, not once a message: a look is one per peer. Not for
     * endpoints this region's own node closes: its close begins ({@link Node#isClosed}) before
     * its endpoints close, so the node is asked after the endpoint.
     */
    private void cutOffFailed() {
        long now = System.nanoTime();
        if (now - endpointsSeen < TimeUnit.MILLISECONDS.toNanos(TICK_MILLIS)) {
            return;
        }
        endpointsSeen = now;
        for (Map.Entry<Long, Served> e : peers.entrySet()) {
            long peer = e.getKey();
            if (!e.getValue().endpoint().isUsable() && !node.isClosed() && !table.isCutOff(peer)) {
                table.disconnect(peer);
                odpCounters.peersGone.increment();
                System.getLogger(OdpRegion.class.getName()).log(System.Logger.Level.WARNING, String.format(
                        "ODP region %x: the endpoint to peer %016x closed or failed; peer cut off", region, peer));
            }
        }
    }

    /** Messages dropped so far for want of the right token. */
    long forgedDropped() {
        return forged.dropped();
    }

    /** The message of {@code length} bytes in the inbox: dispatched, or dropped (and counted) when no served peer sent it. */
    private void accept(long length) {
        long detached = OdpWire.detachedPeer(inbox, length);
        if (detached != 0) {
            Served served = peers.get(detached);
            if (served != null && served.token() == OdpWire.token(inbox, length)) {
                table.disconnect(detached); // its reclaims need it no more
                // No re-key: with none of its operations in flight and none to come, the peer lets go
                // of the key itself. A re-key would also hold the key (and the next cut-off's re-key)
                // while its revocation waits for this peer's node, which may be closing.
                toClose.remove(detached);
                peers.remove(detached);
            } else {
                forged.drop(String.format("a DETACH in the name of node %016x", detached));
            }
            return;
        }
        OdpMessage message;
        try {
            message = OdpWire.decode(inbox, length);
        } catch (IllegalArgumentException e) { // no peer of ours sends that: no warning per message, no pause
            forged.drop(e.getMessage());
            return;
        }
        if (fromItsPeer(message, OdpWire.token(inbox, length))) {
            dispatch(message);
        }
    }

    /** True when {@code m} carries the token of the peer it names; else it is dropped, and counted. */
    private boolean fromItsPeer(OdpMessage m, long token) {
        long peer = switch (m) {
            case OdpMessage.Ack a -> a.peer();
            case OdpMessage.Fault f -> f.peer();
            default -> 0;
        };
        Served served = peers.get(peer);
        if (served != null && served.token() == token) {
            return true;
        }
        forged.drop(String.format("a %s in the name of node %016x", m.getClass().getSimpleName(), peer));
        return false;
    }

    private void dispatch(OdpMessage m) {
        switch (m) {
            case OdpMessage.Ack a -> table.onAck(a);
            case OdpMessage.Fault f -> table.onFault(f);
            default -> throw new IllegalArgumentException("owner got " + m);
        }
    }

    /**
     * Starts a thread that re-keys the window for the peers cut off, unless none was or the last
     * re-key is still running (what it leaves is taken at a later tick). Its revocation may wait
     * seconds for a silent node: this thread goes on serving meanwhile.
     */
    private void startReKey() {
        Thread last = rekeying;
        if (!toClose.isEmpty() && (last == null || !last.isAlive())) {
            rekeying = Thread.ofPlatform().daemon().name("odp-rekey-" + Integer.toHexString(region))
                    .start(this::reKey);
        }
    }

    private void reKey() {
        try {
            closeCutOff();
        } catch (RuntimeException e) { // e.g. the node closed under it
            if (!closing) {
                System.getLogger(OdpRegion.class.getName()).log(System.Logger.Level.WARNING,
                        "ODP region " + Integer.toHexString(region) + ": re-key failed: " + e);
            }
        }
    }

    /**
     * Re-keys the window for the peers cut off since the last call, and stops sending to them
     * (on a re-key thread, or the caller of {@link #disconnect}; outside the table's lock).
     */
    private void closeCutOff() {
        if (toClose.isEmpty()) {
            return;
        }
        synchronized (keyLock) {
            if (closing) {
                return; // the window closes: that revokes every key
            }
            List<Long> late = new java.util.ArrayList<>();
            for (Long peer; (peer = toClose.poll()) != null;) {
                late.add(peer);
            }
            if (late.isEmpty()) {
                return; // taken meanwhile by the re-key of a disconnect
            }
            synchronized (handoutLock) { // a peer served from now on gets the next key too
                nextKey = window.nextKey(); // good from now on, and after the current one is revoked
                byte[] key = nextKey.toBytes();
                for (Map.Entry<Long, Served> e : peers.entrySet()) {
                    Endpoint endpoint = e.getValue().endpoint();
                    if (!late.contains(e.getKey()) && !table.isCutOff(e.getKey()) && endpoint.isUsable()) {
                        endpoint.send(OdpWire.tag(OdpWire.TO_PEER, region), // before the revocation
                                OdpWire.encodeRekey(key, e.getValue().token()));
                    }
                }
            }
            try {
                window.invalidate(); // revokes the current generation at every node; next becomes current
            } finally {
                synchronized (handoutLock) {
                    nextKey = null;
                }
            }
            late.forEach(peers::remove); // the endpoint is the application's: left open
        }
    }

    /** Sends through the peer's endpoint (called under the table's lock: only queues work). */
    private final class Outbox implements OwnerPageTable.Outbox {
        @Override
        public void send(long peer, OdpMessage message) {
            Served served = peers.get(peer);
            if (served != null && served.endpoint().isUsable()) { // a failed send: the lease decides
                served.endpoint().send(OdpWire.tag(OdpWire.TO_PEER, region), OdpWire.encode(message, served.token()));
            }
        }

        @Override
        public void cutOff(long peer) {
            toClose.add(peer); // re-keyed and closed by the region thread, outside the table's lock
        }
    }

    /** A peer this region serves: the endpoint to it and the token of the messages between them. */
    private record Served(Endpoint endpoint, long token) {
    }
}
