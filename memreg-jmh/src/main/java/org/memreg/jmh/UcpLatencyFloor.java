package org.memreg.jmh;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HexFormat;
import java.util.Map;
import org.memreg.ucx.Ucp;
import org.memreg.ucx.UcxContext;
import org.memreg.ucx.UcxWorker;

/**
 * The floor under memreg's 8-byte tag latency: ucx_perftest's tag_lat loop written directly on
 * memreg's FFM binding ({@code org.memreg.ucx}), with none of the transport (no node, lock,
 * futures, standing receives). What it adds to ucx_perftest is what calling libucp from Java
 * costs; memreg's transport cannot be faster than this.
 *
 * <pre>
 * UcpLatencyFloor server ITERS WARMUP          prints address=HEX, serves one run, exits
 * UcpLatencyFloor client HEX ITERS WARMUP      prints "result tag_lat 8 ITERS VALUE us" (half round trip, mean)
 * </pre>
 */
public final class UcpLatencyFloor {
    private static final long ADDRESS = 1, PING = 2, PONG = 3;

    private UcpLatencyFloor() {
    }

    public static void main(String[] args) {
        boolean server = args[0].equals("server");
        int iters = Integer.parseInt(args[server ? 1 : 2]);
        int warmup = Integer.parseInt(args[server ? 2 : 3]);
        try (UcxContext context = UcxContext.create(Map.of()); Arena arena = Arena.ofConfined()) {
            UcxWorker worker = UcxWorker.create(context);
            try {
                MemorySegment buffer = arena.allocate(4096, 4096);
                MemorySegment info = arena.allocate(Ucp.TAG_RECV_INFO_BYTES, 8);
                if (server) {
                    System.out.println("address=" + HexFormat.of().formatHex(worker.address()));
                    System.out.flush();
                    long length = receive(worker, buffer, 4096, ADDRESS, info);
                    long ep = worker.connect(buffer.asSlice(0, length).toArray(ValueLayout.JAVA_BYTE),
                            Ucp.ERR_HANDLING_MODE_NONE);
                    for (int i = 0; i < warmup + iters; i++) {
                        receive(worker, buffer, 8, PING, info);
                        send(worker, ep, buffer, 8, PONG);
                    }
                    flush(worker);
                } else {
                    long ep = worker.connect(HexFormat.of().parseHex(args[1]), Ucp.ERR_HANDLING_MODE_NONE);
                    byte[] own = worker.address();
                    MemorySegment.copy(own, 0, buffer, ValueLayout.JAVA_BYTE, 0, own.length);
                    send(worker, ep, buffer, own.length, ADDRESS);
                    pingPong(worker, ep, buffer, info, warmup);
                    long start = System.nanoTime();
                    pingPong(worker, ep, buffer, info, iters);
                    double half = (System.nanoTime() - start) / 1e3 / iters / 2;
                    System.out.printf("result tag_lat 8 %d %.3f us%n", iters, half);
                    flush(worker);
                }
            } finally {
                worker.close();
            }
        }
    }

    private static void pingPong(UcxWorker worker, long ep, MemorySegment buffer, MemorySegment info, int count) {
        for (int i = 0; i < count; i++) {
            long request = worker.tagReceive(buffer.address() + 2048, 8, PONG, -1L, 0, info.address());
            send(worker, ep, buffer, 8, PING);
            await(worker, request, info);
        }
    }

    private static long receive(UcxWorker worker, MemorySegment buffer, long length, long tag, MemorySegment info) {
        long request = worker.tagReceive(buffer.address(), length, tag, -1L, 0, info.address());
        await(worker, request, info);
        return info.get(ValueLayout.JAVA_LONG, 8);
    }

    /** Progresses {@code worker} until the receive {@code request} is done, then frees it; fails unless it succeeded. */
    static void await(UcxWorker worker, long request, MemorySegment info) {
        int status;
        while ((status = worker.testReceive(request, info.address())) == Ucp.INPROGRESS) {
            worker.progress();
        }
        Ucp.requestFree(request);
        check(status);
    }

    /** Sends {@code length} bytes of {@code buffer} under {@code tag}, progressing {@code worker} until the send is done. */
    static void send(UcxWorker worker, long ep, MemorySegment buffer, long length, long tag) {
        long request = worker.tagSend(ep, buffer.address(), length, tag, 0);
        if (Ucp.isRequest(request)) {
            int status;
            while ((status = Ucp.requestCheckStatus(request)) == Ucp.INPROGRESS) {
                worker.progress();
            }
            Ucp.requestFree(request);
            check(status);
        } else {
            check(Ucp.status(request));
        }
    }

    private static void flush(UcxWorker worker) {
        long request = worker.flush();
        if (Ucp.isRequest(request)) {
            while (Ucp.requestCheckStatus(request) == Ucp.INPROGRESS) {
                worker.progress();
            }
            Ucp.requestFree(request);
        }
        for (int i = 0; i < 1000; i++) {
            worker.progress(); // let the peer's last message go out before the worker closes
        }
    }

    private static void check(int status) {
        if (status != Ucp.OK) {
            throw new IllegalStateException("UCX: " + Ucp.statusString(status));
        }
    }
}
