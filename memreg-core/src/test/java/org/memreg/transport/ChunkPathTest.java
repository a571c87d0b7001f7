package org.memreg.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.Access;
import org.memreg.device.Device;
import org.memreg.device.MemoryRegion;
import org.memreg.monitor.MemoryMonitor;
import org.memreg.ucx.UcxDevice;
import org.memreg.ucx.UcxRegion;
import org.memreg.ucx.UcxTestSupport;

/**
 * The rendezvous chunk path: a chunk gets its UCX memory handle from the cache's registration or
 * fails, and a node that does not cache deregisters every chunk when its transfer is done.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ChunkPathTest {
    private static final long MESSAGE = 5L << 20; // three chunks of the default 2 MiB

    /** A device whose regions are no UCX memory: what a cache over the wrong device would hand a chunk. */
    private static final class PlainDevice implements Device {
        record Region(long address, long length, Access access, long localKey, long remoteKey) implements MemoryRegion {}

        final Set<MemoryRegion> live = new HashSet<>();

        @Override
        public String name() {
            return "plain-test";
        }

        @Override
        public MemoryRegion register(long address, long length, Access access) {
            Region region = new Region(address, length, access, live.size() + 1, live.size() + 1);
            live.add(region);
            return region;
        }

        @Override
        public void deregister(MemoryRegion region) {
            live.remove(region);
        }

        @Override
        public long registeredBytes() {
            return live.stream().mapToLong(MemoryRegion::length).sum();
        }

        @Override
        public void close() {
            live.clear();
        }
    }

    @Test
    void shouldRefuseAChunkWhoseRegistrationHasNoMemoryHandle() {
        PlainDevice device = new PlainDevice();
        try (RegistrationCache cache = RegistrationCache.builder(device).monitor(MemoryMonitor.NONE)
                .statsName("none").build(); Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(1 << 16, 4096);
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> Chunk.register(cache, buffer.address(), buffer.byteSize(), Access.LOCAL_READ));
            assertTrue(e.getMessage().contains("no UCX memory handle") && e.getMessage().contains("plain-test"),
                    e.getMessage());
            assertEquals(0, cache.stats().inUseBytes(), "the registration was released");
        }
    }

    @Test
    void shouldGiveAChunkTheMemoryHandleOfItsCachedRegistration() {
        UcxTestSupport.assumeUcx();
        try (UcxDevice device = UcxDevice.builder().build();
             RegistrationCache cache = RegistrationCache.builder(device).monitor(MemoryMonitor.NONE)
                     .statsName("none").build(); Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(1 << 16, 4096);
            Chunk chunk = Chunk.register(cache, buffer.address() + 100, 1000, Access.LOCAL_WRITE);
            try (var registration = cache.acquire(buffer.address() + 100, 1000, Access.LOCAL_WRITE)) {
                assertEquals(((UcxRegion) registration.region()).memh(), chunk.memh, "the cached region's handle");
                assertTrue(chunk.memh != 0);
            }
            chunk.release();
            assertEquals(0, cache.stats().inUseBytes());
        }
    }

    @Test
    void shouldDeregisterEveryChunkWhenNotCaching() throws Exception {
        UcxTestSupport.assumeUcx();
        assertEquals(0, registeredAfterOneMessage(false), "nothing stays registered without caching");
        assertTrue(registeredAfterOneMessage(true) > 0, "the caching node keeps its chunks registered");
    }

    /**
     * Many large messages in flight at once against a cache that holds one message's pipeline:
     * the chunks that find no room go over the cache's limit instead of failing their message
     * (with hard limits every send after the first failed with "cannot register chunk"), and
     * instead of waiting for room, which deadlocked now and then under load: each node held room
     * for one message while the other's receive of it waited for room.
     */
    @Test
    void shouldGoOverTheCacheLimitWhenChunksInFlightFillIt() throws Exception {
        UcxTestSupport.assumeUcx();
        long chunk = 256 << 10;
        int depth = 2;
        int messages = 6;
        long size = 4 * chunk + 12_345; // five chunks, the last one short
        try (Node receiver = smallCacheNode("receiver", chunk, depth); Node sender = smallCacheNode("sender", chunk, depth);
             Arena arena = Arena.ofShared()) {
            Endpoint endpoint = sender.connect(receiver.workerAddress());
            MemorySegment[] data = new MemorySegment[messages];
            MemorySegment[] buffers = new MemorySegment[messages];
            List<CompletableFuture<Long>> receives = new ArrayList<>();
            List<CompletableFuture<Long>> sends = new ArrayList<>();
            for (int m = 0; m < messages; m++) {
                data[m] = arena.allocate(size, 4096);
                for (long i = 0; i < size; i += 8) {
                    data[m].set(ValueLayout.JAVA_BYTE, i, (byte) (m * 31 + i / 8));
                }
                buffers[m] = arena.allocate(size, 4096);
                receives.add(receiver.receive(10 + m, buffers[m]));
            }
            for (int m = 0; m < messages; m++) {
                sends.add(endpoint.send(10 + m, data[m]));
            }
            for (int m = 0; m < messages; m++) {
                assertEquals(size, sends.get(m).get(30, TimeUnit.SECONDS), "send " + m);
                assertEquals(size, receives.get(m).get(30, TimeUnit.SECONDS), "receive " + m);
                assertEquals(-1, data[m].mismatch(buffers[m]), "message " + m + " arrived intact");
            }
            for (Node node : new Node[] {sender, receiver}) {
                assertEquals(0, node.cache().stats().inUseBytes(), node + ": every chunk released");
            }
            assertTrue(sender.peakRegisteredBytes() > depth * (chunk + 2 * 4096), "the sender went over its cache: peak "
                    + sender.peakRegisteredBytes());
        }
    }

    /**
     * Nodes set to different chunk sizes exchange rendezvous messages both ways intact: the
     * receiver chunks as the sender does. Before, a receiver with larger chunks than its sender
     * took each short chunk for a whole one, the next landed at the wrong offset, and the receive
     * completed with most of its buffer stale.
     */
    @Test
    void nodesWithDifferentChunkSizesShouldExchangeMessagesIntact() throws Exception {
        UcxTestSupport.assumeUcx();
        long size = (4L << 20) + 12_345;
        try (Node small = smallCacheNode("small chunks", 64 << 10, 2);
             Node large = smallCacheNode("large chunks", 2 << 20, 2);
             Arena arena = Arena.ofShared()) {
            Endpoint toLarge = small.connect(large.workerAddress());
            Endpoint toSmall = large.connect(small.workerAddress());
            MemorySegment data = arena.allocate(size, 4096);
            for (long i = 0; i < size; i++) {
                data.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 7 + i / 4093));
            }
            for (Endpoint endpoint : List.of(toLarge, toSmall)) {
                Node receiver = endpoint == toLarge ? large : small;
                MemorySegment buffer = arena.allocate(size, 4096);
                CompletableFuture<Long> received = receiver.receive(4, buffer);
                assertEquals(size, endpoint.send(4, data).get(30, TimeUnit.SECONDS), "send to " + receiver);
                assertEquals(size, received.get(30, TimeUnit.SECONDS), "receive at " + receiver);
                assertEquals(-1, data.mismatch(buffer), "intact at " + receiver);
            }
        }
    }

    /** A node whose cache holds exactly one pipeline of {@code depth} chunks. */
    private static Node smallCacheNode(String name, long chunk, int depth) {
        return Node.builder().name(name).ucx("NET_DEVICES", "lo").monitor("none").chunkBytes(chunk)
                .pipelineDepth(depth).cacheBytes(depth * (chunk + 2 * 4096)).build();
    }

    /** Sends one rendezvous message between two nodes; returns the bytes both still have registered. */
    private static long registeredAfterOneMessage(boolean caching) throws Exception {
        try (Node receiver = node("receiver", caching); Node sender = node("sender", caching);
             Arena arena = Arena.ofShared()) {
            Endpoint endpoint = sender.connect(receiver.workerAddress());
            MemorySegment data = arena.allocate(MESSAGE, 4096);
            MemorySegment buffer = arena.allocate(MESSAGE, 4096);
            var received = receiver.receive(3, buffer);
            assertEquals(MESSAGE, endpoint.send(3, data).get(30, TimeUnit.SECONDS));
            assertEquals(MESSAGE, received.get(30, TimeUnit.SECONDS));
            for (Node node : new Node[] {sender, receiver}) {
                assertTrue(node.peakRegisteredBytes() >= NodeBuilder.CHUNK_BYTES_DEFAULT,
                        node + " registered its chunks: peak " + node.peakRegisteredBytes());
                assertEquals(0, node.cache().stats().inUseBytes(), node + ": every chunk released");
            }
            return sender.registeredBytes() + receiver.registeredBytes();
        }
    }

    private static Node node(String name, boolean caching) {
        return Node.builder().name(name).ucx("NET_DEVICES", "lo").cacheRegistrations(caching).monitor("none")
                .build();
    }
}
