package org.memreg.ucx;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * {@link TcpGuardTest}'s probe, in a child JVM because what it guards against aborts the process:
 * a worker over TCP (without a token) is sent, on a plain socket, one UCP endpoint check naming an
 * endpoint the worker does not have, with an address whose TCP listener is the sender's own plain
 * socket. UCP answers such a check by connecting to the address it carries (to tell the peer the
 * endpoint is gone); the sender answers that connection with a frame UCX 1.13 aborts on (longer
 * than its receive buffer). Before, a connection to a listener memreg never named was not checked,
 * and the worker died (tcp_ep.c:1404).
 * <ul>
 *   <li>{@code destroyed}: the check names an endpoint the worker had and closed (as its peer
 *       would): UCP connects out, and the frame check refuses the answer.
 *   <li>{@code made-up}: the check names an id the worker never issued (as a stranger must): the
 *       wire-up guard drops it, and the worker connects nowhere.
 * </ul>
 * Prints {@code connectedOut=} whether the worker connected to the sender, {@code refused=} the
 * frames the guard refused as too long, {@code dropped=} the wire-up messages it dropped, {@code
 * received=} a message a friend sent after it, and {@code survived=true}.
 */
public final class EndpointCheckProbe {
    private static final int EP_CHECK = 4;
    private static final long NEVER_ISSUED = 99;
    private static final int PACK_FLAGS = 0x1ef; // UCP_ADDRESS_PACK_FLAGS_ALL but EP_ADDR: as a check's reply reads it

    private EndpointCheckProbe() {
    }

    public static void main(String[] args) throws Throwable {
        boolean destroyed = args[0].equals("destroyed");
        try (UcxContext context = UcxContext.create(TcpGuardProbe.TCP); UcxWorker victim = UcxWorker.create(context);
             UcxWorker friend = UcxWorker.create(context); Arena arena = Arena.ofConfined();
             ServerSocket stranger = new ServerSocket(0)) {
            stranger.setSoTimeout(destroyed ? 20_000 : 3_000);
            long checked = NEVER_ISSUED;
            if (destroyed) { // the worker's endpoint to a peer since gone, closed: the peer knew its id
                try (UcxWorker peer = UcxWorker.create(context)) {
                    long endpoints = IdGuard.Log.ENDPOINTS.count();
                    long gone = victim.connect(peer.address(), Ucp.ERR_HANDLING_MODE_NONE);
                    checked = IdGuard.Log.ENDPOINTS.get(endpoints);
                    UcxTestSupport.complete(victim.closeEndpoint(gone, true), victim, peer);
                }
                for (int i = 0; i < 1000; i++) {
                    victim.progress();
                }
            }
            byte[] address = wireupAddress(arena, friend, stranger.getLocalPort());
            CompletableFuture<Boolean> answered = CompletableFuture.supplyAsync(() -> {
                try (Socket back = stranger.accept()) {
                    back.getInputStream().read(new byte[64]); // the worker's magic number and request
                    OutputStream out = back.getOutputStream();
                    out.write(new TcpFrames().header(200, 1 << 30).toArray());
                    out.flush();
                    back.getInputStream().read(); // until the worker hangs up
                    return true;
                } catch (Exception e) {
                    return false;
                }
            });
            long refused = TcpGuard.framesRefused(FrameFault.TOO_LONG);
            long dropped = WireupGuard.dropped();
            byte[] check = new TcpFrames().magic().request(4242, 0, 9).header(TcpFrames.WIREUP, 20 + address.length)
                    .put((byte) EP_CHECK).put((byte) 0).putShort((short) 0).putLong(1).putLong(checked)
                    .bytes(address).toArray();
            try (Socket socket = new Socket("127.0.0.1", AddressLayout.tcpPort(victim.address()))) {
                socket.getOutputStream().write(check);
                socket.getOutputStream().flush();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                while (TcpGuard.framesRefused(FrameFault.TOO_LONG) == refused && WireupGuard.dropped() == dropped
                        && System.nanoTime() < deadline) {
                    victim.progress();
                }
            }
            System.out.println("refused=" + (TcpGuard.framesRefused(FrameFault.TOO_LONG) - refused));
            System.out.println("dropped=" + (WireupGuard.dropped() - dropped));
            System.out.println("connectedOut=" + answered.get(20, TimeUnit.SECONDS));
            long ep = friend.connect(victim.address(), Ucp.ERR_HANDLING_MODE_PEER);
            MemorySegment message = arena.allocateFrom("served");
            MemorySegment inbox = arena.allocate(message.byteSize());
            UcxTestSupport.sendAndReceive(friend, ep, victim, message, inbox, 9);
            System.out.println("received=" + inbox.getString(0));
            UcxTestSupport.complete(friend.closeEndpoint(ep, true), friend, victim);
            System.out.println("survived=true");
        }
    }

    /**
     * {@code worker}'s address as UCP's wire-up messages carry it ({@code ucp_address_pack}, all
     * transports), its TCP listener's port replaced by {@code port}.
     */
    @SuppressWarnings("restricted") // libucp's own packing, by its 1.13.1 signature
    private static byte[] wireupAddress(Arena arena, UcxWorker worker, int port) throws Throwable {
        SymbolLookup libucp = SymbolLookup.libraryLookup("libucp.so.0", arena);
        MethodHandle pack = Linker.nativeLinker().downcallHandle(libucp.find("ucp_address_pack").orElseThrow(),
                FunctionDescriptor.of(JAVA_BYTE, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_LONG,
                        JAVA_LONG, JAVA_LONG));
        long allTransports = libucp.find("ucp_tl_bitmap_max").orElseThrow().address();
        MemorySegment size = arena.allocate(JAVA_LONG);
        MemorySegment buffer = arena.allocate(JAVA_LONG);
        byte status = (byte) pack.invokeExact(worker.handle(), 0L, allTransports, PACK_FLAGS, 0, 0L, size.address(),
                buffer.address());
        if (status != 0) {
            throw new IllegalStateException("ucp_address_pack: " + status);
        }
        byte[] address = MemorySegment.ofAddress(buffer.get(JAVA_LONG, 0)).reinterpret(size.get(JAVA_LONG, 0))
                .toArray(JAVA_BYTE); // UCX's buffer is left to the process's end
        int own = AddressLayout.tcpPort(worker.address());
        int replaced = 0;
        for (int i = 0; i + 1 < address.length; i++) {
            if ((address[i] & 0xff) == own >> 8 && (address[i + 1] & 0xff) == (own & 0xff)) {
                address[i] = (byte) (port >> 8);
                address[i + 1] = (byte) port;
                replaced++;
            }
        }
        if (replaced != 1) {
            throw new IllegalStateException("the listener's port appears " + replaced + " times in the address");
        }
        return address;
    }
}
