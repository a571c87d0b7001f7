package org.memreg.ucx;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.Socket;
import java.util.function.BooleanSupplier;

/**
 * What the forgers in child JVMs ({@link WireupForger}, {@link AtpForger}) send to: a worker over
 * TCP without a token (anyone may connect) and a friend worker, with error-mode-NONE endpoints both
 * ways that have carried a message. Frames go to the worker's UCX port on fresh plain sockets, the
 * two progressed meanwhile; afterwards the two exchange a message both ways.
 */
final class ForgeryTarget implements AutoCloseable {
    private final UcxContext context = UcxContext.create(TcpGuardProbe.TCP);
    final UcxWorker victim = UcxWorker.create(context);
    final UcxWorker friend = UcxWorker.create(context);
    final long out = victim.connect(friend.address(), Ucp.ERR_HANDLING_MODE_NONE);
    final long in = friend.connect(victim.address(), Ucp.ERR_HANDLING_MODE_NONE);
    final Arena arena = Arena.ofConfined();
    private final MemorySegment message = arena.allocateFrom("served");
    private final MemorySegment inbox = arena.allocate(message.byteSize());

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
        friend.close();
        victim.close();
        arena.close();
        context.close();
    }
}
