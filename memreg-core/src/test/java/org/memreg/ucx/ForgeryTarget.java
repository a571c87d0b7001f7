package org.memreg.ucx;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.Socket;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * What the forgers in child JVMs ({@link WireupForger}, {@link RendezvousForger}, {@link
 * CompletionForger}, {@link FrameFuzzer}) send to: a worker over TCP without a token (anyone may
 * connect) and a friend worker, with error-mode-NONE endpoints both ways that have carried a message. Frames go to the worker's UCX port on fresh plain sockets, the
 * two progressed meanwhile; afterwards the two exchange a message both ways.
 */
final class ForgeryTarget implements AutoCloseable {
    private final UcxContext context = UcxContext.create(TcpGuardProbe.TCP);
    private final long firstEndpoint = IdGuard.Log.ENDPOINTS.count();
    final UcxWorker victim = UcxWorker.create(context);
    final UcxWorker friend = UcxWorker.create(context);
    final long out = victim.connect(friend.address(), Ucp.ERR_HANDLING_MODE_NONE);
    final long in = friend.connect(victim.address(), Ucp.ERR_HANDLING_MODE_NONE);
    final Arena arena = Arena.ofConfined();
    private final MemorySegment message = arena.allocateFrom("served");
    private final MemorySegment inbox = arena.allocate(message.byteSize());
    private UcxWorker peer; // a third worker, connected to the worker by idGivenToAPeer
    private long peerOut;

    ForgeryTarget() {
        UcxTestSupport.sendAndReceive(victim, out, friend, message, inbox, 9);
    }

    /** Sends {@code bytes} on a fresh socket to the worker's UCX port; progresses both until {@code done} or {@code nanos}. */
    void forge(byte[] bytes, BooleanSupplier done, long nanos) throws IOException {
        try (Socket socket = new Socket("127.0.0.1", AddressLayout.tcpPort(victim.address()))) {
            OutputStream stream = socket.getOutputStream();
            stream.write(bytes);
            stream.flush();
            long deadline = System.nanoTime() + nanos;
            while (!done.getAsBoolean() && System.nanoTime() < deadline) {
                progress();
            }
        }
    }

    /**
     * The friend receives the message of {@code tag} (as long as {@code expected}): UCX's status,
     * then {@code whole} when every byte is {@code expected}'s, else {@code differs}; {@code pending}
     * when it is not done after 20 s.
     */
    String receive(MemorySegment expected, long tag) {
        MemorySegment into = arena.allocate(expected.byteSize());
        MemorySegment info = arena.allocate(Ucp.TAG_RECV_INFO_BYTES);
        long receive = friend.tagReceive(into.address(), into.byteSize(), tag, -1L, 0, info.address());
        long deadline = System.nanoTime() + 20_000_000_000L;
        int status;
        while ((status = friend.testReceive(receive, info.address())) == Ucp.INPROGRESS
                && System.nanoTime() < deadline) {
            progress();
        }
        if (status == Ucp.INPROGRESS) {
            return "pending";
        }
        Ucp.requestFree(receive);
        return Ucp.statusString(status) + "," + (into.mismatch(expected) < 0 ? "whole" : "differs");
    }

    /** The ids of the endpoints the worker and its friend made for each other (random: {@link IdGuard}). */
    List<Long> endpointIds() {
        return IdGuard.Log.ENDPOINTS.since(firstEndpoint);
    }

    /**
     * A third worker connects to the worker, which makes an endpoint for it: the id the worker gave
     * that endpoint, which the peer saw (UCP's wire-up reply carries it); 0 when none was made in 20 s.
     */
    long idGivenToAPeer() {
        long before = IdGuard.Log.ENDPOINTS.count();
        peer = UcxWorker.create(context);
        peerOut = peer.connect(victim.address(), Ucp.ERR_HANDLING_MODE_NONE); // the peer's own endpoint: one id
        MemorySegment big = arena.allocate(1 << 20); // a rendezvous: its receiver answers, by an endpoint of its own
        UcxTestSupport.sendAndReceive(peer, peerOut, victim, big, arena.allocate(big.byteSize()), 12);
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (IdGuard.Log.ENDPOINTS.count() < before + 2 && System.nanoTime() < deadline) {
            peer.progress();
            victim.progress();
        }
        return IdGuard.Log.ENDPOINTS.count() < before + 2 ? 0 : IdGuard.Log.ENDPOINTS.get(before + 1);
    }

    void progress() {
        victim.progress();
        friend.progress();
    }

    /** A message from the friend to the worker and one back: {@code served,served} when both arrive. */
    String exchange() {
        UcxTestSupport.sendAndReceive(friend, in, victim, message, inbox, 10);
        String back = inbox.getString(0);
        inbox.fill((byte) 0);
        UcxTestSupport.sendAndReceive(victim, out, friend, message, inbox, 11);
        return back + "," + inbox.getString(0);
    }

    @Override
    public void close() {
        UcxTestSupport.complete(victim.closeEndpoint(out, true), victim, friend);
        UcxTestSupport.complete(friend.closeEndpoint(in, true), victim, friend);
        if (peer != null) {
            UcxTestSupport.complete(peer.closeEndpoint(peerOut, true), victim, peer);
            peer.close();
        }
        friend.close();
        victim.close();
        arena.close();
        context.close();
    }
}
