package org.memreg.jmh;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.memreg.transport.Endpoint;
import org.memreg.transport.Node;
import org.memreg.ucx.Ucp;
import org.memreg.ucx.UcxContext;
import org.memreg.ucx.UcxWorker;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * An 8-byte round trip between two workers of one JVM, driven by one thread: what memreg's
 * transport costs per message over the bare FFM binding ({@link UcpLatencyFloor}'s loop), without
 * the second core. Between two processes the same comparison moves with where the host places the
 * two vCPUs (0.2 to 0.8 µs for the same run here); on one thread the message never leaves the
 * core's cache, so what is left is the software on the path, which is what the transport can change.
 *
 * <ul>
 *   <li>{@code floor}: post a receive, send, progress the other worker until its receive is done,
 *       and back: no node, lock, future or operation.
 *   <li>{@code futures}: {@link Endpoint#send} and {@link Node#receive}, each a future waited on
 *       with {@code get()} (which drives the worker).
 *   <li>{@code sendCopy}: {@link Endpoint#sendCopy} (no future) and {@link Node#receive}.
 * </ul>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class PingPongBenchmark {
    private static final long PING = 1, PONG = 2;

    /** Two bare workers, each with an endpoint to the other. */
    @State(Scope.Thread)
    public static class Bare {
        UcxContext contextA, contextB;
        UcxWorker a, b;
        long aToB, bToA;
        Arena arena;
        MemorySegment aIn, bIn, aOut, bOut, info;

        @Setup(Level.Trial)
        public void setUp() {
            contextA = UcxContext.create(Map.of("NET_DEVICES", "lo")); // a context each, as two nodes have
            contextB = UcxContext.create(Map.of("NET_DEVICES", "lo"));
            a = UcxWorker.create(contextA);
            b = UcxWorker.create(contextB);
            aToB = a.connect(b.address(), Ucp.ERR_HANDLING_MODE_NONE);
            bToA = b.connect(a.address(), Ucp.ERR_HANDLING_MODE_NONE);
            arena = Arena.ofConfined();
            aIn = arena.allocate(8, 8);
            bIn = arena.allocate(8, 8);
            aOut = arena.allocate(8, 8);
            bOut = arena.allocate(8, 8);
            info = arena.allocate(Ucp.TAG_RECV_INFO_BYTES, 8);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            a.close();
            b.close();
            contextA.close();
            contextB.close();
            arena.close();
        }
    }

    /** Two nodes connected over loopback, and their buffers. */
    @State(Scope.Thread)
    public static class Nodes {
        /** With progress threads (the default configuration; they stay aside while the caller drives) or without. */
        @Param({"true", "false"})
        boolean progressThread;
        Node server, client;
        Endpoint toServer, toClient;
        Arena arena;
        MemorySegment serverIn, clientIn, serverOut, clientOut;

        @Setup(Level.Trial)
        public void setUp() throws Exception {
            server = Node.builder().name("pingpong-server").progressThread(progressThread)
                    .ucx("NET_DEVICES", "lo").listen(new InetSocketAddress("127.0.0.1", 0)).build();
            client = Node.builder().name("pingpong-client").progressThread(progressThread).ucx("NET_DEVICES", "lo").build();
            // Without a progress thread nothing drives the server's handshake: progress it while the client connects.
            CompletableFuture<Endpoint> accepted = CompletableFuture.supplyAsync(() -> {
                Endpoint peer;
                while ((peer = server.accepted()) == null) {
                    server.progress();
                }
                return peer;
            });
            toServer = client.connect("127.0.0.1", server.port());
            toClient = accepted.get(30, TimeUnit.SECONDS);
            arena = Arena.ofConfined();
            serverIn = arena.allocate(8, 8);
            clientIn = arena.allocate(8, 8);
            serverOut = arena.allocate(8, 8);
            clientOut = arena.allocate(8, 8);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            client.close();
            server.close();
            arena.close();
        }
    }

    @Benchmark
    public long floor(Bare s) {
        long fromB = s.a.tagReceive(s.aIn.address(), 8, PONG, -1L, 0, s.info.address());
        long toB = s.b.tagReceive(s.bIn.address(), 8, PING, -1L, 0, s.info.address());
        s.aOut.set(ValueLayout.JAVA_LONG, 0, s.aIn.get(ValueLayout.JAVA_LONG, 0) + 1);
        UcpLatencyFloor.send(s.a, s.aToB, s.aOut, 8, PING);
        UcpLatencyFloor.await(s.b, toB, s.info);
        s.bOut.set(ValueLayout.JAVA_LONG, 0, s.bIn.get(ValueLayout.JAVA_LONG, 0));
        UcpLatencyFloor.send(s.b, s.bToA, s.bOut, 8, PONG);
        UcpLatencyFloor.await(s.a, fromB, s.info);
        return s.aIn.get(ValueLayout.JAVA_LONG, 0);
    }

    @Benchmark
    public long futures(Nodes s) throws Exception {
        CompletableFuture<Long> pong = s.client.receive(PONG, s.clientIn);
        CompletableFuture<Long> ping = s.server.receive(PING, s.serverIn);
        s.clientOut.set(ValueLayout.JAVA_LONG, 0, s.clientIn.get(ValueLayout.JAVA_LONG, 0) + 1);
        s.toServer.send(PING, s.clientOut).get();
        ping.get();
        s.serverOut.set(ValueLayout.JAVA_LONG, 0, s.serverIn.get(ValueLayout.JAVA_LONG, 0));
        s.toClient.send(PONG, s.serverOut).get();
        pong.get();
        return s.clientIn.get(ValueLayout.JAVA_LONG, 0);
    }

    @Benchmark
    public long sendCopy(Nodes s) throws Exception {
        CompletableFuture<Long> pong = s.client.receive(PONG, s.clientIn);
        CompletableFuture<Long> ping = s.server.receive(PING, s.serverIn);
        s.clientOut.set(ValueLayout.JAVA_LONG, 0, s.clientIn.get(ValueLayout.JAVA_LONG, 0) + 1);
        s.toServer.sendCopy(PING, s.clientOut);
        ping.get();
        s.serverOut.set(ValueLayout.JAVA_LONG, 0, s.serverIn.get(ValueLayout.JAVA_LONG, 0));
        s.toClient.sendCopy(PONG, s.serverOut);
        pong.get();
        return s.clientIn.get(ValueLayout.JAVA_LONG, 0);
    }
}
