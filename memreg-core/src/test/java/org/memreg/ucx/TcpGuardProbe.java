package org.memreg.ucx;

import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * {@link TcpGuardTest}'s probe, in a child JVM because what it guards against aborts the process:
 * a worker that requires a TCP token is sent, on fresh plain sockets to its UCX TCP port, what
 * aborted UCX 1.13 (its magic number, then a frame of an unexpected kind, or longer than its
 * receive buffer), without a token, with a wrong one, and cut short; then a worker of this process
 * that holds the token sends it a message. Prints {@code key=value} lines: {@code attacks},
 * {@code refused} (by the guard), {@code admitted}, {@code received}, and {@code survived=true}.
 */
public final class TcpGuardProbe {
    static final Map<String, String> TCP = Map.of("NET_DEVICES", "lo", "TLS", "tcp");
    private static final long MAGIC = 0xCAFEBABE12345678L; // UCT_TCP_MAGIC_NUMBER
    private static final long DEADLINE_NANOS = 20_000_000_000L;

    private TcpGuardProbe() {
    }

    /** What a stranger sends: each aborted UCX 1.13 when it came first on a connection. */
    static List<byte[]> attacks(byte[] token, long seed) {
        byte[] wrong = token.clone();
        wrong[new Random(seed).nextInt(wrong.length)] ^= 1;
        byte[] unexpectedFrame = frame(200, 0); // above UCT_AM_ID_MAX, none of UCX's own
        byte[] longFrame = frame(1, 1 << 30);    // past the 64 KiB receive buffer
        // a token cut short ends the connection with nothing after it: any byte after it could be the last one
        return List.of(unexpectedFrame, longFrame, concat(wrong, unexpectedFrame), concat(wrong, longFrame),
                java.util.Arrays.copyOf(token, 15));
    }

    /** UCX's TCP magic number, then a frame header ({@code uct_tcp_am_hdr_t}: id, length) claiming {@code length}. */
    static byte[] frame(int id, int length) {
        return ByteBuffer.allocate(13).order(ByteOrder.LITTLE_ENDIAN).putLong(MAGIC).put((byte) id).putInt(length)
                .array();
    }

    private static byte[] concat(byte[] a, byte[] b) {
        return ByteBuffer.allocate(a.length + b.length).put(a).put(b).array();
    }

    public static void main(String[] args) throws Exception {
        byte[] token = java.util.HexFormat.of().parseHex(args[0]);
        long seed = Long.parseLong(args[1]);
        try (UcxContext context = UcxContext.create(TCP); UcxWorker victim = UcxWorker.create(context);
             UcxWorker friend = UcxWorker.create(context); Arena arena = Arena.ofConfined()) {
            System.out.println("listeners=" + victim.requireTcpToken(token));
            byte[] address = victim.address();
            int port = AddressLayout.tcpPort(address);
            List<byte[]> attacks = attacks(token, seed);
            for (byte[] attack : attacks) {
                long refused = TcpGuard.refused();
                try (Socket socket = new Socket("127.0.0.1", port)) {
                    OutputStream out = socket.getOutputStream();
                    out.write(attack);
                    out.flush();
                    socket.shutdownOutput(); // a cut token is then read as ended, not awaited
                    long deadline = System.nanoTime() + DEADLINE_NANOS;
                    while (TcpGuard.refused() == refused && System.nanoTime() < deadline) {
                        victim.progress();
                    }
                }
            }
            System.out.println("attacks=" + attacks.size());
            System.out.println("refused=" + TcpGuard.refused());
            friend.requireTcpToken(token);
            long ep = friend.connect(address, Ucp.ERR_HANDLING_MODE_PEER);
            MemorySegment message = arena.allocateFrom("served");
            MemorySegment inbox = arena.allocate(message.byteSize());
            UcxTestSupport.sendAndReceive(friend, ep, victim, message, inbox, 9); // a hang is killed by the test
            System.out.println("received=" + inbox.getString(0));
            System.out.println("admitted=" + TcpGuard.admitted());
            UcxTestSupport.complete(friend.closeEndpoint(ep, true), friend, victim);
            System.out.println("survived=true");
        }
    }
}
