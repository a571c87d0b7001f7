package org.memreg.ucx;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A {@code ucp_worker} and what is made from it: endpoints, tagged and RMA
 * operations. A thin layer: handles are {@code long}s, operations return UCX's status pointer
 * (see {@link Ucp#status(long)}), set-up throws {@link UcxException}.
 *
 * <p><b>Not thread-safe.</b> The worker is created in {@code UCS_THREAD_MODE_SERIALIZED}: the
 * owner must make sure one thread at a time calls into it (memreg's transport holds a lock).
 * Endpoint errors arrive through an upcall during {@link #progress()} and wait in
 * {@link #endpointErrors} for the owner. Endpoints are made only from a peer's worker address:
 * UCX's sockaddr listener and client-server endpoints are not used (a client with another error
 * mode could abort the listening process in UCX 1.13).
 *
 * <p>Operations take no completion callback: a returned request is polled with
 * {@link Ucp#requestCheckStatus} and freed with {@link Ucp#requestFree} by the owner.
 */
public final class UcxWorker implements AutoCloseable {
    private static final AtomicLong IDS = new AtomicLong();

    private final UcxContext context;
    private final long id = IDS.incrementAndGet();
    private final long handle;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment param = arena.allocate(UcxLayouts.REQUEST_PARAM);
    private final MemorySegment out = arena.allocate(JAVA_LONG, 2);
    private final MemorySegment epParams = arena.allocate(UcxLayouts.EP_PARAMS);
    /** {ep, status} pairs queued by the endpoint error upcall. */
    final Queue<long[]> endpointErrors = new ConcurrentLinkedQueue<>();
    /** The token this worker's TCP listeners require and its connections show ({@link #requireTcpToken}), or null. */
    private byte[] tcpToken;
    /** This worker's address as its TCP listeners were registered with the guard. */
    private MemorySegment guardedAddress;
    private boolean closed;

    private UcxWorker(UcxContext context, long handle) {
        this.context = context;
        this.handle = handle;
    }

    /** Creates a worker of {@code context}. */
    public static UcxWorker create(UcxContext context) {
        try (Arena temp = Arena.ofConfined()) {
            MemorySegment params = temp.allocate(UcxLayouts.WORKER_PARAMS);
            UcxLayouts.putLong(params, UcxLayouts.WORKER_PARAMS, "field_mask", Ucp.WORKER_PARAM_FIELD_THREAD_MODE);
            UcxLayouts.putInt(params, UcxLayouts.WORKER_PARAMS, "thread_mode", Ucp.THREAD_MODE_SERIALIZED);
            MemorySegment result = temp.allocate(JAVA_LONG);
            Ucp.check("ucp_worker_create", Ucp.workerCreate(context.handle(), params.address(), result.address()));
            long handle = Ucp.readLong(result);
            try {
                IdGuard.workerMade(handle); // on this thread, right after UCP set up the worker's maps
            } catch (IllegalStateException e) {
                Ucp.workerDestroy(handle);
                throw e;
            }
            UcxWorker worker = new UcxWorker(context, handle);
            UcxCallbacks.register(worker);
            worker.guardedAddress = worker.arena.allocateFrom(JAVA_BYTE, worker.address());
            TcpGuard.require(worker.guardedAddress, null, true); // UCX's frames on its TCP connections are checked
            return worker;
        }
    }

    long id() {
        return id;
    }

    /** The raw {@code ucp_worker_h}. */
    public long handle() {
        return handle;
    }

    /** The context this worker belongs to. */
    public UcxContext context() {
        return context;
    }

    /** {@code ucp_worker_progress}. */
    public int progress() {
        return Ucp.workerProgress(handle);
    }

    /**
     * {@code ucp_worker_get_efd}: a descriptor that becomes readable when the worker, once
     * {@link #arm() armed}, has events; -1 when the context was made without wakeup support.
     */
    public int eventFd() {
        int status = Ucp.workerGetEfd(handle, out.address());
        return status == Ucp.OK ? out.get(JAVA_INT, 0) : -1;
    }

    /**
     * {@code ucp_worker_arm}: {@link Ucp#OK} when the caller may now sleep on {@link #eventFd()},
     * {@link Ucp#ERR_BUSY} when events are pending (progress instead).
     */
    public int arm() {
        return Ucp.workerArm(handle);
    }

    /** {@code ucp_worker_signal}: wakes a thread sleeping on {@link #eventFd()}; safe from any thread. */
    public void signal() {
        Ucp.workerSignal(handle);
    }

    /** This worker's address, to give a peer that connects by address (shared memory, same host). */
    public byte[] address() {
        Ucp.check("ucp_worker_get_address", Ucp.workerGetAddress(handle, out.address(), out.address() + 8));
        long address = out.getAtIndex(JAVA_LONG, 0);
        long length = out.getAtIndex(JAVA_LONG, 1);
        try {
            return MemorySegment.ofAddress(address).reinterpret(length).toArray(JAVA_BYTE);
        } finally {
            Ucp.workerReleaseAddress(handle, address);
        }
    }

    /**
     * From now on a TCP connection to this worker must open with {@code token} (16 bytes), or it
     * is reset before UCX reads a byte of it; and every worker this one {@link #connect connects}
     * to is shown the same token. UCX's TCP transport believes whoever connects to its port (a
     * stranger's frame aborted the process, a stranger's put wrote unregistered memory): peers
     * sharing a secret derive one token from it, and strangers are kept out ({@code TcpGuard}).
     * (Frames UCX would abort on are refused on every worker's connections, token or not.) Call
     * before anyone has this worker's address.
     *
     * @return how many TCP listeners the worker has (0 when UCX uses no TCP transport)
     * @throws IllegalArgumentException when the token is not 16 bytes
     * @throws IllegalStateException when a token was required already
     */
    public int requireTcpToken(byte[] token) {
        if (tcpToken != null) {
            throw new IllegalStateException("this worker requires a TCP token already");
        }
        int listeners = TcpGuard.require(guardedAddress, token, true);
        tcpToken = token.clone();
        return listeners;
    }

    /** The next queued endpoint error as {ep, status}, or null. */
    public long[] pollEndpointError() {
        return endpointErrors.poll();
    }

    /**
     * Creates an endpoint to a worker by its {@link #address()}, which may come from a peer.
     * UCX 1.13 trusts what it reads there: a short address was read on past its end, a bad version
     * byte, a NaN or huge latency aborted the process, an interface address of length 0 crashed
     * it. So the address is checked first, within its length ({@code AddressGuard}'s walk, which
     * also checks every address UCX unpacks from peers' wire-up messages; {@code TcpGuard} makes it
     * as it learns the peer's TCP listeners). UCX's frames on TCP connections to those listeners
     * are checked; with a {@link #requireTcpToken TCP token}, the listeners are shown it.
     *
     * @throws IllegalArgumentException when the bytes are not a UCX worker address UCX can be given
     * @throws UcxException when UCX refuses the address or cannot reach the worker
     */
    public long connect(byte[] workerAddress, int errMode) {
        try (Arena temp = Arena.ofConfined()) {
            MemorySegment address = temp.allocateFrom(JAVA_BYTE, workerAddress);
            TcpGuard.require(address, tcpToken, false); // the address check: throws for a bad one
            clearEpParams(errMode);
            epParams.set(JAVA_LONG, 0, epParams.get(JAVA_LONG, 0) | Ucp.EP_PARAM_FIELD_REMOTE_ADDRESS);
            UcxLayouts.putLong(epParams, UcxLayouts.EP_PARAMS, "address", address.address());
            return createEp("connect to a worker address");
        }
    }

    private void clearEpParams(int errMode) {
        epParams.fill((byte) 0);
        long mask = Ucp.EP_PARAM_FIELD_ERR_HANDLING_MODE | Ucp.EP_PARAM_FIELD_ERR_HANDLER;
        epParams.set(JAVA_LONG, 0, mask);
        UcxLayouts.putInt(epParams, UcxLayouts.EP_PARAMS, "err_mode", errMode);
        long handler = UcxLayouts.offset(UcxLayouts.EP_PARAMS, "err_handler");
        epParams.set(JAVA_LONG, handler, UcxCallbacks.ERR_HANDLER.address());
        epParams.set(JAVA_LONG, handler + 8, id);
    }

    private long createEp(String what) {
        int status = Ucp.epCreate(handle, epParams.address(), out.address());
        if (status != Ucp.OK) {
            throw new UcxException("ucp_ep_create", status, what);
        }
        return out.get(JAVA_LONG, 0);
    }

    /** {@code ucp_ep_close_nbx}; {@code force} releases without the peer (failed endpoints). */
    public long closeEndpoint(long ep, boolean force) {
        resetParam(force ? Ucp.OP_ATTR_FIELD_FLAGS : 0, 0);
        param.set(JAVA_INT, Ucp.RP_FLAGS, force ? Ucp.EP_CLOSE_FLAG_FORCE : 0);
        return Ucp.epCloseNbx(ep, param.address());
    }

    /** {@code ucp_ep_flush_nbx}: completes when every operation on {@code ep} completed remotely. */
    public long flushEndpoint(long ep) {
        resetParam(0, 0);
        return Ucp.epFlushNbx(ep, param.address());
    }

    /** {@code ucp_worker_flush_nbx}. */
    public long flush() {
        resetParam(0, 0);
        return Ucp.workerFlushNbx(handle, param.address());
    }

    /** {@code ucp_tag_send_nbx} of {@code [address, address + length)}; {@code memh} 0 lets UCX register. */
    public long tagSend(long ep, long address, long length, long tag, long memh) {
        resetParam(0, memh);
        return Ucp.tagSendNbx(ep, address, length, tag, param.address());
    }

    /**
     * {@code ucp_tag_send_nbx} that UCX must finish inside the call
     * (UCP_OP_ATTR_FLAG_FORCE_IMM_CMPL): a status, never a request; {@link Ucp#ERR_NO_RESOURCE}
     * when it cannot, and then it keeps nothing of the buffer. In UCX 1.13 only what fits its
     * short (inline) protocol goes at once.
     */
    public long tagSendAtOnce(long ep, long address, long length, long tag) {
        resetParam(Ucp.OP_ATTR_FLAG_FORCE_IMM_CMPL, 0);
        return Ucp.tagSendNbx(ep, address, length, tag, param.address());
    }

    /**
     * {@link #tagSendAtOnce(long, long, long, long)} of the whole of {@code data}, handed to UCX as
     * a segment: its arena cannot close during the call, in which UCX copies it. This thread must
     * be able to access {@code data} (FFM throws {@link WrongThreadException} otherwise).
     */
    public long tagSendAtOnce(long ep, MemorySegment data, long tag) {
        resetParam(Ucp.OP_ATTR_FLAG_FORCE_IMM_CMPL, 0);
        return Ucp.tagSendNbx(ep, data, tag, param.address());
    }

    /**
     * {@code ucp_tag_recv_nbx}, always returning a request (UCP_OP_ATTR_FLAG_NO_IMM_CMPL): UCX
     * 1.13 completed receives of already-arrived messages at once without filling
     * {@code recv_info}, so the sender tag and length are read with {@link #testReceive} instead.
     * {@code info} is still passed for UCX versions that fill it.
     */
    public long tagReceive(long address, long length, long tag, long mask, long memh, long info) {
        resetParam(Ucp.OP_ATTR_FIELD_RECV_INFO | Ucp.OP_ATTR_FLAG_NO_IMM_CMPL, memh);
        param.set(JAVA_LONG, Ucp.RP_RECV_INFO, info);
        return Ucp.tagRecvNbx(handle, address, length, tag, mask, param.address());
    }

    /**
     * {@code ucp_tag_probe_nb} with remove: takes the oldest message that arrived unasked under
     * {@code tag}/{@code mask} out of UCX's unexpected queue, its sender tag and length into
     * {@code info}; returns its handle, or 0. A taken message must go to {@link #receiveTaken}.
     */
    public long takeUnexpected(long tag, long mask, long info) {
        return Ucp.tagProbeNb(handle, tag, mask, 1, info);
    }

    /**
     * {@code ucp_tag_probe_nb} of any tag, without remove: true when a message waits in UCX's
     * unexpected queue, the oldest one's sender tag and length then in {@code info}. It stays
     * there: only {@link #takeUnexpected} may hand it on. One pointer test when the queue is empty.
     */
    public boolean peekUnexpected(long info) {
        return Ucp.tagProbeNb(handle, 0, 0, 0, info) != 0;
    }

    /**
     * {@code ucp_tag_msg_recv_nbx} of a message from {@link #takeUnexpected} into
     * {@code [address, address + length)}. With {@code atOnce} only a message that has arrived
     * whole is received (a status pointer comes back); any other returns
     * {@link Ucp#ERR_NO_RESOURCE} and stays taken, for a call without. Else a request may come
     * back ({@link #testReceive}); a shorter buffer than the message fails it as truncated, and
     * UCX lets go of the message either way. With {@code memh} (not 0), the buffer's memory
     * handle, a rendezvous message lands zero copy.
     */
    public long receiveTaken(long message, long address, long length, boolean atOnce, long memh) {
        resetParam(atOnce ? Ucp.OP_ATTR_FLAG_FORCE_IMM_CMPL : 0, memh);
        return Ucp.tagMsgRecvNbx(handle, address, length, message, param.address());
    }

    /** {@code ucp_tag_recv_request_test}: status, and the sender tag and length into {@code info}. */
    public int testReceive(long request, long info) {
        return Ucp.tagRecvRequestTest(request, info);
    }

    /** {@code ucp_request_cancel}: a cancelled request completes with {@link Ucp#ERR_CANCELED}. */
    public void cancel(long request) {
        Ucp.requestCancel(handle, request);
    }

    /** {@code ucp_put_nbx}. */
    public long put(long ep, long address, long length, long remoteAddress, long rkey, long memh) {
        resetParam(0, memh);
        return Ucp.putNbx(ep, address, length, remoteAddress, rkey, param.address());
    }

    /** {@code ucp_get_nbx}. */
    public long get(long ep, long address, long length, long remoteAddress, long rkey, long memh) {
        boolean ignored = IdGuard.shuffle(handle); // over TCP the get names itself to the peer, which answers with data
        resetParam(0, memh);
        return Ucp.getNbx(ep, address, length, remoteAddress, rkey, param.address());
    }

    /** Unpacks a packed remote key for use on {@code ep}. */
    public long unpackRkey(long ep, byte[] packed) {
        try (Arena temp = Arena.ofConfined()) {
            MemorySegment buffer = temp.allocate(Math.max(1, packed.length));
            buffer.copyFrom(MemorySegment.ofArray(packed));
            MemorySegment result = temp.allocate(JAVA_LONG);
            Ucp.check("ucp_ep_rkey_unpack", Ucp.epRkeyUnpack(ep, buffer.address(), result.address()));
            return Ucp.readLong(result);
        }
    }

    /**
     * {@code ucp_rkey_destroy}: after every operation that used the key was flushed (UCX keeps the
     * key of an operation still in flight), and before the worker is destroyed.
     *
     * @throws IllegalStateException once the worker is closed
     */
    public void destroyRkey(long rkey) {
        if (closed) { // a pooled key's memory went with the worker: destroying it then wrote into freed memory
            throw new IllegalStateException("worker is closed: its remote keys went with it");
        }
        Ucp.rkeyDestroy(rkey);
    }

    private void resetParam(int mask, long memh) {
        param.fill((byte) 0);
        if (memh != 0) {
            mask |= Ucp.OP_ATTR_FIELD_MEMH;
            param.set(JAVA_LONG, Ucp.RP_MEMH, memh);
        }
        param.set(JAVA_INT, Ucp.RP_OP_ATTR_MASK, mask);
    }

    /** Destroys the worker (endpoints must be closed first). Twice is harmless. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        WireupGuard.workerGone(handle); // before its address can be another worker's
        Ucp.workerDestroy(handle);
        TcpGuard.forget(guardedAddress);
        UcxCallbacks.unregister(this);
        arena.close();
    }
}
