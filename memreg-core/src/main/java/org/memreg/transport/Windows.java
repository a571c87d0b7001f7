package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntFunction;
import org.memreg.config.Settings;
import org.memreg.device.Access;
import org.memreg.linux.Errno;
import org.memreg.linux.LinuxException;
import org.memreg.linux.MemInfo;
import org.memreg.linux.SysConf;
import org.memreg.linux.SysvShm;
import org.memreg.ucx.Ucp;
import org.memreg.ucx.UcxContext;
import org.memreg.ucx.UcxMemory;
import org.memreg.ucx.UcxWorker;
import org.memreg.util.ArenaHold;
import org.memreg.util.OpenArena;
import org.memreg.util.Warnings;

/**
 * A node's windows, both sides of them: the windows it owns (allocation within a budget, closing,
 * describing them to peers that ask), the revocation protocol (revoke to every peer and wait for
 * the acknowledgements; on a peer's revoke, flush and acknowledge), and, as origin, attaching keys
 * as their owner describes them, the endpoints' remote-key caches, and put, get and flush. Kept
 * apart from the node so that the protocol's two halves and the stale-key checks they feed read
 * in one place.
 *
 * <p><b>Attach.</b> The bytes of a {@link WindowKey} a user holds only select a window: attach asks
 * the owner ({@code DESCRIBE}) and the owner answers with the key as it issued it
 * ({@link Description}); anything else is refused before UCX sees a byte of it. The remote key UCX
 * unpacks is the owner's own. While UCX unpacks a key of a SysV segment on this host, this node
 * holds the segment itself ({@link SysvShm#attach}): UCX 1.13 crashes when the segment is gone
 * (its failed unpack frees what it never set up), and held, it cannot go.
 *
 * <p><b>Revocations heard.</b> A peer's revocation marks the keys of that window attached here
 * (every endpoint's cache), and the attaches of it in flight, which a description sent before
 * the revocation would otherwise complete. Nothing else is kept: an attach of a stale key later
 * asks the owner, who refuses it. (Every revocation heard was once kept for good, one entry per
 * window a peer ever closed or invalidated, so a node whose peers made and closed windows in
 * a loop grew without bound, and a peer could grow it as fast as it could send revocations.)
 *
 * <p>State here is guarded by the node's lock.
 */
final class Windows {
    private final TransportContext ctx;
    private final UcxWorker worker;
    private final ReentrantLock lock;
    /** The peers to revoke at and answer. */
    private final Connections connections;
    /** Peers' windows mapped into this process ({@link RemoteWindow#mapped}). */
    private final Set<RemoteWindow> mappedWindows = new HashSet<>();
    /** Maps and allocates windows' memory. */
    private final UcxContext ucx;
    /** Most bytes of windows this node allocates, together. */
    private final long maxWindowBytes;
    /** Which puts and gets register their local buffer (through its cache). */
    private final Chunking chunking;
    private final Map<Long, Window> windows = new HashMap<>();
    /**
     * Attaches waiting for their owner's description, by (owner, window id): {how many, the highest
     * generation revoked meanwhile (-1: none)}.
     */
    private final Map<List<Long>, long[]> attaching = new HashMap<>();
    /** Bytes of the windows this node allocated and has not closed. */
    private long allocatedBytes;
    private final Warnings badRequests = new Warnings(Node.class, "memreg node dropped window requests");
    private final Warnings unacknowledged = new Warnings(Node.class, "memreg window revoked without every peer's word");
    /**
     * The memory handle of a put or get whose local buffer memreg does not register (see
     * {@link #registeredLocally}): none, and UCX copies the bytes or registers them itself, as
     * {@code ucp_put_nbx}/{@code ucp_get_nbx} do without {@code UCP_OP_ATTR_FIELD_MEMH}.
     */
    private static final long UCX_REGISTERS = 0;

    Windows(TransportContext ctx, Connections connections, UcxContext ucx, long maxWindowBytes, Chunking chunking) {
        this.ctx = ctx;
        this.worker = ctx.worker;
        this.lock = ctx.lock;
        this.connections = connections;
        this.ucx = ucx;
        this.maxWindowBytes = maxWindowBytes;
        this.chunking = chunking;
    }

    // ---------------------------------------------------------------- owner

    /** The node's {@code allocateWindow}. */
    Window allocate(long bytes, Access access) {
        Objects.requireNonNull(access, "access");
        long page = SysConf.pageSize();
        if (bytes <= 0 || bytes > Long.MAX_VALUE - page) {
            throw new IllegalArgumentException("window size must be positive: " + bytes);
        }
        long rounded = (bytes + page - 1) / page * page;
        long available = MemInfo.availableBytes();
        if (rounded > available) {
            throw new TransportException(String.format("a window of %s is more than the %s of memory available now"
                    + " (MemAvailable)", Settings.formatBytesShort(rounded), Settings.formatBytesShort(available)),
                    Ucp.ERR_NO_MEMORY);
        }
        return add(access, prot -> {
            if (rounded > maxWindowBytes - allocatedBytes) {
                throw new TransportException(String.format("a window of %s would take this node's windows to %s, over"
                        + " %s=%s", Settings.formatBytesShort(rounded), Settings.formatBytesShort(allocatedBytes + rounded),
                        NodeBuilder.MAX_WINDOW_BYTES_PROP_NAME, Settings.formatBytesShort(maxWindowBytes)),
                        Ucp.ERR_NO_MEMORY);
            }
            return ucx.allocate(rounded, prot);
        }, null, ArenaHold.NONE);
    }

    /** The node's {@code registerWindow}. */
    Window register(MemorySegment memory, Access access) {
        Objects.requireNonNull(access, "access");
        if (!memory.isNative() || memory.byteSize() <= 0) {
            throw new IllegalArgumentException("a window needs native memory of positive size: " + memory);
        }
        OpenArena.require(memory, "a window");
        if (access.remoteWrite()) {
            Messaging.checkWritable(memory, "a window peers may write");
        }
        long page = SysConf.pageSize();
        if (memory.address() % page != 0 || memory.byteSize() % page != 0) {
            // UCX maps whole pages: a window over part of a page would let peers reach its neighbours
            throw new IllegalArgumentException("a window needs whole pages (address and size multiples of " + page
                    + "): " + memory);
        }
        ArenaHold hold = holdForWindow(memory);
        try {
            return add(access, prot -> ucx.map(memory.address(), memory.byteSize(), prot), memory, hold);
        } catch (RuntimeException | Error e) {
            hold.releaseAndWait();
            throw e;
        }
    }

    /**
     * Holds the arena of a registered window's memory open for the window's life: peers put into
     * and get from it whenever they like, and a close of its arena under them had UCX write into
     * freed memory. A confined arena cannot be held (its owner closes it at will), so its memory is
     * refused, as is a shared arena's where no hold can be had.
     */
    private static ArenaHold holdForWindow(MemorySegment memory) {
        if (OpenArena.confined(memory)) {
            throw new IllegalArgumentException("a window's memory must not be of a confined arena, whose owner may"
                    + " close it under peers' puts and gets: take it from a shared, automatic or global arena: " + memory);
        }
        ArenaHold hold = ArenaHold.of(memory);
        if (hold == ArenaHold.NONE && ArenaHold.closableByAnother(memory)) {
            String why = ArenaHold.unavailableReason();
            throw new IllegalStateException("cannot hold the shared arena of a window's memory open for the window's"
                    + " life (" + (why != null ? why : ArenaHold.MAX_HOLDS + " arenas held at once already") + "): "
                    + memory);
        }
        if (!hold.await()) {
            hold.releaseAndWait();
            throw OpenArena.closed(memory, "a window");
        }
        return hold;
    }

    /**
     * {@code callers}: a registered window's memory, which the window holds, and {@code hold} the
     * hold of its arena, which the window's close ends; null and {@link ArenaHold#NONE} for one UCX allocates.
     */
    private Window add(Access access, IntFunction<UcxMemory> map, MemorySegment callers, ArenaHold hold) {
        int prot = Ucp.PROT_LOCAL_READ | Ucp.PROT_LOCAL_WRITE | (access.remoteRead() ? Ucp.PROT_REMOTE_READ : 0)
                | (access.remoteWrite() ? Ucp.PROT_REMOTE_WRITE : 0);
        lock.lock();
        try {
            ctx.checkOpen();
            UcxMemory memory = map.apply(prot);
            Window window;
            try {
                byte[] rkey = memory.packRkey();
                if (Description.FIXED + WindowKey.BYTES_BEFORE_RKEY + rkey.length > ControlReceive.BUFFER_BYTES) {
                    throw new TransportException("UCX's remote key of " + rkey.length + " bytes does not fit a window"
                            + " description", Ucp.ERR_INVALID_PARAM);
                }
                long windowId;
                do {
                    windowId = TransportContext.RANDOM.nextLong();
                } while (windowId == 0 || windows.containsKey(windowId));
                int shmid = memory.allocated() ? SysvShm.idOf(memory.address()) : -1;
                window = new Window(ctx, this, windowId, memory, access, rkey, shmid, callers, hold);
            } catch (RuntimeException e) {
                memory.close();
                throw e;
            }
            windows.put(window.id(), window);
            if (memory.allocated()) {
                allocatedBytes += memory.length();
            }
            return window;
        } finally {
            ctx.unlockAndWake();
        }
    }

    /** The second half of {@link Window#close()}: forgets the window and unmaps its memory. */
    void close(Window window, UcxMemory memory) {
        lock.lock();
        try {
            if (windows.remove(window.id()) != null && memory.allocated()) {
                allocatedBytes -= memory.length();
            }
            memory.close();
        } finally {
            ctx.unlockAndWake();
        }
    }

    /** Closes every window this node owns (the node is closing; called without the lock). */
    void closeAll() {
        for (Window window : new ArrayList<>(windows.values())) {
            window.close();
        }
    }

    /**
     * Tells every usable endpoint that generation {@code generation} of window {@code windowId}
     * is revoked and waits until each acknowledged (after flushing its operations to us), failed,
     * or the timeout passed. A peer that did not acknowledge is reported when its late puts could
     * still reach memory that stays mapped ({@code reachable}: the window stays, or its memory is
     * the caller's): over UCX's shared memory and CMA, only the peer's own transport stops them.
     */
    void revoke(long windowId, long generation, boolean reachable) {
        List<Endpoint> asked = new ArrayList<>();
        List<CompletableFuture<Long>> acks = new ArrayList<>();
        List<ControlReceive> receives = new ArrayList<>();
        lock.lock();
        try {
            if (ctx.closed) {
                return;
            }
            for (Endpoint endpoint : connections.endpoints()) {
                if (!endpoint.isUsable() || endpoint.peerId == 0) {
                    continue;
                }
                // Each peer its own, random: a peer must not answer for another (the tag is all that matches)
                long revokeId = TransportContext.RANDOM.nextLong() & Tags.LOW48;
                CompletableFuture<Long> ack = ctx.engine.newFuture();
                ControlReceive receive = new ControlReceive(ctx, Tags.REVOKE_ACK | revokeId, Tags.EXACT, false,
                        (tag, payload) -> ack.complete(payload.get(JAVA_LONG, 0)));
                ctx.engine.add(receive);
                receives.add(receive);
                asked.add(endpoint);
                acks.add(ack);
                ctx.sendControl(endpoint, Tags.REVOKE, connections.signed(endpoint.peerId, windowId, generation, revokeId));
            }
        } finally {
            ctx.unlockAndWake();
        }
        long wait = Math.min(ctx.timeoutNanos, TimeUnit.SECONDS.toNanos(5));
        long deadline = System.nanoTime() + wait;
        for (int i = 0; i < acks.size(); i++) {
            try {
                ctx.engine.await(acks.get(i), Math.max(1, deadline - System.nanoTime()), null);
            } catch (TransportException e) {
                // A peer that failed or does not answer is skipped. Once the memory is unmapped it
                // cannot reach it through a UCX-allocated segment (its own attachment outlives ours)
                // nor over TCP; memory that stays mapped it still can, with a put issued before it
                // saw the revocation, as a stalled peer may have.
                Endpoint silent = asked.get(i);
                if (reachable && silent.isUsable()) {
                    unacknowledged.warn(() -> String.format("%s did not acknowledge the revocation of generation %d of"
                            + " window %016x within %d ms (%s): a put or get it issued before it saw the revocation may"
                            + " still reach the window's memory", silent, generation, windowId,
                            TimeUnit.NANOSECONDS.toMillis(wait), e.getMessage()));
                }
            }
        }
        lock.lock();
        try {
            receives.forEach(r -> r.cancel(ctx));
        } finally {
            ctx.unlockAndWake();
        }
    }

    // ---------------------------------------------------------------- origin

    /** Control handler (under the lock, inside progress): a peer revoked a generation of its window. */
    void onRevoke(long tag, MemorySegment payload) {
        if (!connections.fromSigner(payload, 40, "a revocation")) {
            return; // a forged one would make this node refuse the owner's window for good
        }
        long owner = payload.get(JAVA_LONG, 0);
        long windowId = payload.get(JAVA_LONG, 16);
        long generation = payload.get(JAVA_LONG, 24);
        long revokeId = payload.get(JAVA_LONG, 32) & Tags.LOW48;
        long[] inFlight = attaching.get(List.of(owner, windowId));
        if (inFlight != null) {
            inFlight[1] = Math.max(inFlight[1], generation);
        }
        Endpoint toOwner = connections.byPeer(owner);
        List<RemoteWindow> stale = new ArrayList<>();
        for (Endpoint endpoint : connections.endpoints()) {
            RemoteWindow attached = endpoint.peerId == owner ? endpoint.keys.get(windowId) : null;
            if (attached != null && attached.key.generation() <= generation) {
                attached.revoked = true;
                endpoint.keys.remove(windowId);
                stale.add(attached);
            }
        }
        if (toOwner == null || !toOwner.isUsable()) {
            stale.forEach(window -> window.destroyRkey(worker));
            return;
        }
        // Flush what we issued to the owner, then drop the keys and acknowledge.
        long request = worker.flushEndpoint(toOwner.ep);
        ctx.engine.add(new RmaOp(ctx, toOwner, request, "flush before revoke acknowledgement",
                new CompletableFuture<>(), null, () -> {
                    stale.forEach(window -> window.destroyRkey(worker));
                    MemorySegment ack = Arena.ofAuto().allocate(8, 8);
                    ack.set(JAVA_LONG, 0, ctx.nodeId);
                    if (toOwner.isUsable()) {
                        ctx.sendControl(toOwner, Tags.REVOKE_ACK | revokeId, ack);
                    }
                }));
    }

    /**
     * Control handler (under the lock, inside progress): a peer asks about a generation of one of
     * our windows; the answer goes back under the exact tag it asked for.
     */
    void onDescribe(long tag, MemorySegment payload) {
        if (!connections.fromSigner(payload, 40, "a window request")) {
            return; // a forged one would send descriptions to a peer that asked for none
        }
        long requester = payload.get(JAVA_LONG, 0);
        long requestId = payload.get(JAVA_LONG, 16) & Tags.LOW48;
        Endpoint to = connections.byPeer(requester);
        if (to == null || !to.isUsable()) {
            badRequests.warn(() -> String.format("a window request from node %016x, which is not connected", requester));
            return;
        }
        Window window = windows.get(payload.get(JAVA_LONG, 24));
        long generation = payload.get(JAVA_LONG, 32);
        Description answer = window == null ? Description.refusal(Description.Status.UNKNOWN) : window.describe(generation);
        byte[] bytes = answer.toBytes();
        MemorySegment message = Arena.ofAuto().allocate(bytes.length, 8);
        message.copyFrom(MemorySegment.ofArray(bytes));
        ctx.sendControl(to, Tags.DESCRIPTION | requestId, message);
    }

    /** {@link Endpoint#attach}: asks the owner, then unpacks the remote key the owner described. */
    RemoteWindow attach(Endpoint endpoint, WindowKey key) {
        Objects.requireNonNull(key, "key");
        CompletableFuture<byte[]> answer = ctx.engine.newFuture();
        ControlReceive receive;
        List<Long> window = List.of(key.owner(), key.windowId());
        lock.lock();
        try {
            RemoteWindow cached = checkAttach(endpoint, key);
            if (cached != null) {
                return cached;
            }
            long requestId = TransportContext.RANDOM.nextLong() & Tags.LOW48;
            receive = new ControlReceive(ctx, Tags.DESCRIPTION | requestId, Tags.EXACT, false,
                    (tag, payload) -> answer.complete(payload.toArray(JAVA_BYTE)));
            ctx.engine.add(receive);
            ctx.sendControl(endpoint, Tags.DESCRIBE,
                    connections.signed(endpoint.peerId, requestId, key.windowId(), key.generation()));
            attaching.computeIfAbsent(window, w -> new long[] {0, -1})[0]++;
        } finally {
            ctx.unlockAndWake();
        }
        try {
            return attachDescribed(endpoint, key, answer, receive);
        } finally {
            lock.lock();
            try {
                long[] inFlight = attaching.get(window);
                if (--inFlight[0] == 0) {
                    attaching.remove(window);
                }
            } finally {
                lock.unlock();
            }
        }
    }

    /** The rest of {@link #attach}, once asked: awaits the owner's description and unpacks its key. */
    private RemoteWindow attachDescribed(Endpoint endpoint, WindowKey key, CompletableFuture<byte[]> answer,
            ControlReceive receive) {
        byte[] bytes;
        try {
            bytes = ctx.engine.await(answer, ctx.timeoutNanos, endpoint);
        } catch (TransportException e) {
            lock.lock();
            try {
                receive.cancel(ctx);
            } finally {
                ctx.unlockAndWake();
            }
            throw new TransportException("the owner of " + key + " did not describe it: " + e.getMessage(), e.status());
        }
        Description described;
        try {
            described = Description.parse(bytes);
        } catch (IllegalArgumentException e) {
            throw new TransportException("the owner of " + key + " sent a bad description: " + e.getMessage(),
                    Ucp.ERR_INVALID_PARAM);
        }
        if (described.status() != Description.Status.OK) {
            throw new StaleWindowException(key.windowId(), key.generation(), described.status().reason);
        }
        if (!described.key().equals(key)) {
            throw new TransportException(key + " does not match the window its owner describes ("
                    + described.key() + "): a damaged or altered key", Ucp.ERR_INVALID_PARAM);
        }
        lock.lock();
        try {
            if (attaching.get(List.of(key.owner(), key.windowId()))[1] >= key.generation()) {
                throw new StaleWindowException(key.windowId(), key.generation(), "revoked by its owner");
            }
            RemoteWindow cached = checkAttach(endpoint, key); // another attach may have finished meanwhile
            if (cached != null) {
                return cached;
            }
            RemoteWindow window = new RemoteWindow(endpoint, key, unpack(endpoint, described), onThisHost(described)
                    ? described.shmid() : -1);
            RemoteWindow older = endpoint.keys.put(key.windowId(), window);
            if (older != null) { // its key may be in use by operations in flight: destroyed once they are flushed
                older.revoked = true;
                ctx.engine.add(new RmaOp(ctx, endpoint, worker.flushEndpoint(endpoint.ep),
                        "flush before dropping the key of " + older.key, new CompletableFuture<>(), null,
                        () -> older.destroyRkey(worker)));
            }
            return window;
        } finally {
            ctx.unlockAndWake();
        }
    }

    /** The checks before and after asking the owner (under the lock): the cached window, or null. */
    private RemoteWindow checkAttach(Endpoint endpoint, WindowKey key) {
        if (!endpoint.isUsable() || ctx.closed) {
            throw endpoint.unusable("attach " + key);
        }
        if (key.owner() != endpoint.peerId) {
            throw new TransportException(String.format("%s belongs to node %016x, not to the peer of %s", key,
                    key.owner(), endpoint), Ucp.ERR_INVALID_PARAM);
        }
        RemoteWindow cached = endpoint.keys.get(key.windowId());
        return cached != null && !cached.revoked && cached.key.equals(key) ? cached : null;
    }

    /** Whether the described window is a SysV segment this process can name: its owner shares this IPC namespace. */
    private static boolean onThisHost(Description described) {
        return described.shmid() >= 0 && described.namespace() == SysvShm.NAMESPACE && SysvShm.NAMESPACE != 0;
    }

    /** Unpacks the described remote key, holding the window's SysV segment meanwhile (see the class comment). */
    private long unpack(Endpoint endpoint, Description described) {
        WindowKey key = described.key();
        long guard = 0;
        if (onThisHost(described)) {
            try {
                guard = SysvShm.attach(described.shmid());
            } catch (LinuxException e) {
                if (e.errno() == Errno.EACCES) {
                    throw new TransportException("cannot reach " + key + ": its shared memory is not ours to map ("
                            + e.getMessage() + ")", Ucp.ERR_INVALID_PARAM);
                }
                throw new StaleWindowException(key.windowId(), key.generation(), "its memory is gone (" + e.getMessage()
                        + ")");
            }
        }
        try {
            return worker.unpackRkey(endpoint.ep, key.rkey());
        } catch (RuntimeException e) {
            throw new TransportException("cannot unpack the remote key of " + key + ": " + e.getMessage(), e);
        } finally {
            if (guard != 0) {
                SysvShm.detach(guard);
            }
        }
    }

    /**
     * Whether a put or get of {@code bytes} hands UCX the local buffer's registration (through the
     * cache, as rendezvous chunks do): above the eager size, else UCX moves it in bounce-buffer
     * fragments; up to one chunk, so that one transfer pins no more than a chunk does. Other
     * sizes go without a memory handle ({@link #UCX_REGISTERS}), by design.
     */
    private boolean registeredLocally(long bytes) {
        return bytes > chunking.eagerBytes() && bytes <= chunking.chunkBytes();
    }

    /** {@link RemoteWindow#mapped}. */
    Optional<MemorySegment> map(RemoteWindow window) {
        lock.lock();
        try {
            Endpoint endpoint = window.endpoint;
            if (!endpoint.isUsable() || ctx.closed) {
                throw endpoint.unusable("map " + window.key);
            }
            if (window.revoked || window.rkey == 0) {
                throw new StaleWindowException(window.key.windowId(), window.key.generation(),
                        "closed or invalidated by its owner; not mapped");
            }
            if (!window.key.access().remoteRead()) { // a mapping can be read: the owner did not allow that
                throw new UnsupportedOperationException("window " + Long.toHexString(window.key.windowId())
                        + " grants only " + window.key.access() + ": a mapping would let this node read it");
            }
            if (window.mappedSegment() != null || window.shmid < 0 || window.unmappable) {
                return Optional.ofNullable(window.mappedSegment());
            }
            long address = attach(window);
            if (address == 0) {
                window.unmappable = true;
                return Optional.empty();
            }
            return Optional.of(window.map(address, mappedWindows));
        } finally {
            ctx.unlockAndWake();
        }
    }

    /**
     * Attaches the segment the owner described for {@code window}, this node's own attachment: the
     * memory stays while attached, whatever the owner or UCX do. The segment must hold the whole
     * window; a smaller one (an owner describing another's segment, or lying about the length) would
     * have had reads past its end fault. Returns 0, attaching nothing, for a segment backed by huge
     * pages: a hugetlb page its owner removed, or never reserved (SHM_NORESERVE), is not faulted in
     * anew once the pool is empty, and the read gets SIGBUS.
     */
    private long attach(RemoteWindow window) {
        WindowKey key = window.key;
        long address;
        try {
            address = SysvShm.attach(window.shmid, key.access().remoteWrite());
        } catch (LinuxException e) {
            throw new StaleWindowException(key.windowId(), key.generation(), "its memory cannot be mapped ("
                    + e.getMessage() + ")");
        }
        SysvShm.Mapping mapping = SysvShm.mappingAt(address);
        if (mapping == null || mapping.end() - address < key.length()) {
            SysvShm.detach(address);
            throw new TransportException(String.format("%s: the segment its owner described holds %d bytes, not the"
                    + " window's %d", key, mapping == null ? 0 : mapping.end() - address, key.length()),
                    Ucp.ERR_INVALID_PARAM);
        }
        if (SysvShm.kernelPageBytes(mapping.start()) != SysConf.pageSize()) {
            SysvShm.detach(address);
            return 0;
        }
        return address;
    }

    /** Ends every peer window's mapping still open: the node has closed, and its keys go with the worker (under the lock). */
    void unmapAll() {
        List.copyOf(mappedWindows).forEach(RemoteWindow::unmap);
    }

    /** {@link RemoteWindow#put} and {@link RemoteWindow#get}. */
    CompletableFuture<Void> rma(RemoteWindow window, boolean put, long offset, MemorySegment given) {
        CompletableFuture<Void> future = ctx.engine.newFuture();
        String what = (put ? "put of " : "get of ") + given.byteSize() + " bytes at offset " + offset;
        WindowKey key = window.key;
        if (!given.isNative()) {
            future.completeExceptionally(new IllegalArgumentException("only native segments: " + what));
            return future;
        }
        if (!given.scope().isAlive()) {
            future.completeExceptionally(OpenArena.closed(given, "a " + what));
            return future;
        }
        try {
            OpenArena.requireAccessible(given, "a " + what);
        } catch (WrongThreadException e) {
            future.completeExceptionally(e);
            return future;
        }
        if (!put && given.isReadOnly()) {
            future.completeExceptionally(new IllegalArgumentException("a get writes into its target, which is"
                    + " read-only: " + what));
            return future;
        }
        if (offset < 0 || given.byteSize() > key.length() - offset || offset > key.length()) {
            future.completeExceptionally(new IndexOutOfBoundsException(what + " is outside the " + key.length()
                    + "-byte window " + Long.toHexString(key.windowId())));
            return future;
        }
        if (put ? !key.access().remoteWrite() : !key.access().remoteRead()) {
            future.completeExceptionally(new UnsupportedOperationException(what + ": window "
                    + Long.toHexString(key.windowId()) + " grants only " + key.access()));
            return future;
        }
        // a confined arena's memory: UCX gets a copy (a put) or the node's memory, which its owner copies in (a get)
        boolean confined = OpenArena.confined(given);
        MemorySegment piece;
        try {
            piece = !confined ? null : put ? ctx.confinedMemory.copyIn(given, "a " + what)
                    : ctx.confinedMemory.take(given.byteSize());
        } catch (IllegalStateException closed) { // by its owner since the look above
            future.completeExceptionally(closed);
            return future;
        }
        MemorySegment local = confined ? piece.asSlice(0, given.byteSize()) : given;
        lock.lock();
        try {
            Endpoint endpoint = window.endpoint;
            if (!endpoint.isUsable() || ctx.closed) {
                future.completeExceptionally(endpoint.unusable(what));
                return future;
            }
            if (window.revoked || window.rkey == 0) {
                future.completeExceptionally(new StaleWindowException(key.windowId(), key.generation(),
                        "closed or invalidated by its owner; " + what + " not sent"));
                return future;
            }
            long remote = key.address() + offset;
            Chunk chunk = registeredLocally(local.byteSize())
                    ? Chunk.register(chunking.cache(), local.address(), local.byteSize(),
                            put ? Access.LOCAL_READ : Access.LOCAL_WRITE)
                    : null;
            long memh = chunk != null ? chunk.memh : UCX_REGISTERS;
            ArenaHold.Posted posted;
            try { // UCX copies over shared memory within the call; a request it keeps holds the arena from there on
                posted = ArenaHold.during(local, () -> put
                        ? worker.put(endpoint.ep, local.address(), local.byteSize(), remote, window.rkey, memh)
                        : worker.get(endpoint.ep, local.address(), local.byteSize(), remote, window.rkey, memh),
                        Ucp::isRequest);
            } catch (IllegalStateException e) {
                if (local.scope().isAlive()) {
                    throw e;
                }
                // closed by another thread since the look above: nothing was posted
                if (chunk != null) {
                    chunk.release();
                }
                future.completeExceptionally(OpenArena.closed(local, "a " + what));
                return future;
            }
            Runnable after = chunk == null && piece == null ? null : () -> {
                if (chunk != null) {
                    chunk.release();
                }
                if (piece != null) {
                    ctx.confinedMemory.give(piece);
                }
            };
            RmaOp op = new RmaOp(ctx, endpoint, posted.result(), what, future, null, after, local, posted.hold(),
                    confined && !put ? given : null);
            if (!op.poll(ctx)) {
                ctx.engine.add(op);
            }
        } finally {
            ctx.unlockAndWake();
        }
        return future;
    }

    /** {@link Endpoint#flush()}. */
    CompletableFuture<Void> flush(Endpoint endpoint) {
        CompletableFuture<Void> future = ctx.engine.newFuture();
        lock.lock();
        try {
            if (!endpoint.isUsable() || ctx.closed) {
                future.completeExceptionally(endpoint.unusable("flush"));
                return future;
            }
            RmaOp op = new RmaOp(ctx, endpoint, worker.flushEndpoint(endpoint.ep), "flush", future, null, null);
            if (!op.poll(ctx)) {
                ctx.engine.add(op);
            }
        } finally {
            ctx.unlockAndWake();
        }
        return future;
    }
}
