package org.memreg.ucx;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.ByteOrder;
import java.util.HexFormat;

/**
 * {@link WireupGuardTest}'s peer, in a process of its own: a worker that connects to another over
 * TCP and puts 8 bytes into its window (arguments: its address and the window's packed key, hex,
 * and the window's address), and progresses until that worker's own connection request
 * waits, unread, on the connection (the other answered the wire-up request and its reply waits
 * behind that request); then the process ends at once, as a peer that crashed or hung up there
 * would. It stops progressing once it has read the other's acknowledgement of its own request
 * (that progress call sends its wire-up request), so that the other's request waits unread.
 * Prints {@code halted=request} just before; {@code halted=reply} if the reply came without it
 * (too late to leave at that moment), or {@code halted=none} if nothing came in 10 s.
 */
public final class WireupLeaver {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle GETPEERNAME = libc("getpeername",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle RECV = libc("recv",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    private static final int MSG_PEEK = 0x2;
    private static final int MSG_DONTWAIT = 0x40;
    private static final long DEADLINE_NANOS = 10_000_000_000L;
    private static final int MAX_FD = 256;
    private static final byte AF_INET = 2;
    private static final byte WIREUP_AM_ID = 1; // UCP_AM_ID_WIREUP
    private static final int CONN_ACK = 2;

    private WireupLeaver() {
    }

    public static void main(String[] args) throws Throwable {
        byte[] address = HexFormat.of().parseHex(args[0]);
        UcxContext context = UcxContext.create(TcpGuardProbe.TCP);
        UcxWorker worker = UcxWorker.create(context);
        long ep = worker.connect(address, Ucp.ERR_HANDLING_MODE_PEER);
        Arena arena = Arena.ofConfined();
        int rw = Ucp.PROT_LOCAL_READ | Ucp.PROT_LOCAL_WRITE | Ucp.PROT_REMOTE_READ | Ucp.PROT_REMOTE_WRITE;
        UcxMemory own = context.allocate(4096, rw);
        long key = worker.unpackRkey(ep, HexFormat.of().parseHex(args[1]));
        worker.put(ep, own.address(), 8, Long.parseLong(args[2]), key, own.memh()); // the other answers: a wire-up reply
        worker.flushEndpoint(ep);
        MemorySegment peeked = arena.allocate(4096);
        MemorySegment sockaddr = arena.allocate(128);
        MemorySegment length = arena.allocate(JAVA_INT);
        long deadline = System.nanoTime() + DEADLINE_NANOS;
        boolean progressing = true;
        while (System.nanoTime() < deadline) {
            if (progressing) {
                worker.progress();
            }
            Thread.sleep(1); // what arrives now waits unread for the look below, not for a progress call
            for (int fd = 3; fd < MAX_FD; fd++) { // the connection this worker made, or one the other made back
                length.set(JAVA_INT, 0, (int) sockaddr.byteSize());
                if ((int) GETPEERNAME.invokeExact(fd, sockaddr, length) == 0 && sockaddr.get(JAVA_BYTE, 0) == AF_INET) {
                    String waiting = waiting(fd, peeked);
                    if ("ack".equals(waiting) && progressing) {
                        worker.progress(); // reads the acknowledgement and sends the wire-up request; no more
                        progressing = false;
                    } else if (waiting != null && !"ack".equals(waiting)) {
                        halt(waiting);
                    }
                }
            }
        }
        halt("none");
    }

    private static void halt(String waiting) {
        System.out.println("halted=" + waiting);
        System.out.flush();
        Runtime.getRuntime().halt(0);
    }

    /**
     * {@code request} when a connection request (UCX's frame: id 32, then event 1) waits unread
     * among the frames on fd (after UCX's magic number, on a connection just made to this worker);
     * {@code reply} when the wire-up reply (id 1) came without one (this process read the request
     * and acknowledged it within a progress call: too late); {@code ack} when the other's
     * acknowledgement of this worker's own connection request waits; else null.
     */
    private static String waiting(int fd, MemorySegment peeked) throws Throwable {
        long count = (long) RECV.invokeExact(fd, peeked, peeked.byteSize(), MSG_PEEK | MSG_DONTWAIT);
        var le = JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN).withByteAlignment(1);
        long start = count >= 8 && peeked.get(JAVA_LONG.withOrder(ByteOrder.LITTLE_ENDIAN).withByteAlignment(1), 0)
                == TcpFrames.MAGIC ? 8 : 0;
        for (long at = start; at + 9 <= count; at += 5 + Integer.toUnsignedLong(peeked.get(le, at + 1))) {
            if (peeked.get(JAVA_BYTE, at) == TcpFrames.CM && peeked.get(le, at + 5) == TcpFrames.CONN_REQ) {
                return "request";
            }
            if (peeked.get(JAVA_BYTE, at) == TcpFrames.CM && peeked.get(le, at + 5) == CONN_ACK) {
                return "ack";
            }
            if (peeked.get(JAVA_BYTE, at) == WIREUP_AM_ID) {
                return "reply";
            }
        }
        return null;
    }

    @SuppressWarnings("restricted")
    private static MethodHandle libc(String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), descriptor);
    }
}
