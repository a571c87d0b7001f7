package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.memreg.linux.Mman;
import org.memreg.linux.SysConf;
import org.memreg.ucx.Ucp;

/**
 * {@link HeldSendTest}'s child: {@code args[0]} eager sends of {@code args[1]} bytes, each from a
 * mapping of its own, to a raw UCX peer that does not progress (node timeout 1 s); once every
 * future completed, the sender unmaps their buffers, as it may, and sends {@code args[2]} more;
 * then the peer takes everything. Prints {@code sent=}, {@code timedOut=}, {@code busy=} (of the
 * later sends), {@code intact=} (messages the peer then received whole, in order, with the bytes
 * each was sent with), {@code heldOps=} (operations beyond the standing ones, once the peer took
 * everything) and {@code survived=true}. A node that left a caller's buffer with UCX past its
 * future's completion ends the process here (SIGSEGV in UCX's copy from the unmapped buffer).
 */
public final class StalledPeerProbe {
    public static void main(String[] args) throws Exception {
        int count = Integer.parseInt(args[0]);
        int size = Integer.parseInt(args[1]);
        int later = Integer.parseInt(args[2]);
        long mapped = Math.max(size, SysConf.pageSize());
        try (Node node = GoodPeer.loopback("sender").listen(new InetSocketAddress("127.0.0.1", 0))
                     .timeout(Duration.ofSeconds(1)).build();
             RawUcxPeer stalled = new RawUcxPeer()) {
            if (stalled.greet(node, 0x1234, 77) == null) {
                throw new AssertionError("the node did not reply to the hello");
            }
            Endpoint toStalled = GoodPeer.accepted(node);
            int standing = node.operations();
            List<Long> buffers = new ArrayList<>();
            List<CompletableFuture<Long>> sends = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                long buffer = Mman.mapAnonymous(mapped);
                MemorySegment data = MemorySegment.ofAddress(buffer).reinterpret(size);
                data.fill((byte) i);
                buffers.add(buffer);
                sends.add(toStalled.send(5, data));
            }
            int timedOut = 0;
            for (CompletableFuture<Long> send : sends) {
                timedOut += status(send) == Ucp.ERR_TIMED_OUT ? 1 : 0;
            }
            System.out.println("sent=" + (count - timedOut));
            System.out.println("timedOut=" + timedOut);
            for (long buffer : buffers) {
                Mman.munmap(buffer, mapped); // every future completed: the buffers are the caller's again
            }
            MemorySegment data = MemorySegment.ofAddress(Mman.mapAnonymous(mapped)).reinterpret(size);
            int busy = 0;
            for (int i = 0; i < later; i++) {
                busy += status(toStalled.send(6, data)) == Ucp.ERR_BUSY ? 1 : 0;
            }
            System.out.println("busy=" + busy);
            int intact = 0; // the peer comes back and takes everything, in order
            for (int i = 0; i < count; i++) {
                MemorySegment message = stalled.receive(5, 20_000);
                if (message != null && message.byteSize() == size && isFilledWith(message, (byte) i)) {
                    intact++;
                }
            }
            System.out.println("intact=" + intact);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (node.operations() > standing && System.nanoTime() < deadline) {
                stalled.discardArrived();
                Thread.sleep(5);
            }
            System.out.println("heldOps=" + (node.operations() - standing));
        }
        System.out.println("survived=true");
    }

    private static boolean isFilledWith(MemorySegment message, byte value) {
        for (long i = 0; i < message.byteSize(); i++) {
            if (message.get(JAVA_BYTE, i) != value) {
                return false;
            }
        }
        return true;
    }

    /** 0 for a send that completed, else its {@link TransportException}'s status. */
    private static int status(CompletableFuture<Long> send) throws InterruptedException {
        try {
            send.get(30, TimeUnit.SECONDS);
            return 0;
        } catch (ExecutionException e) {
            return e.getCause() instanceof TransportException t ? t.status() : Integer.MIN_VALUE;
        } catch (java.util.concurrent.TimeoutException e) {
            throw new AssertionError("a send's future did not complete within 30 s", e);
        }
    }
}
