package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * {@link SharedMemoryShrinkTest}'s victim: a node of default settings (unless the environment sets
 * UCX's) that attaches a {@link ShrinkingPeerChild}'s window and puts, gets and sends to it before
 * and after the peer shrank its shared-memory files. Prints {@code posixMappings=N} (this
 * process's mappings of UCX POSIX shared memory), {@code shrunk=N} (the peer's count) and
 * {@code after=ok}; a process that SIGBUS killed prints neither of the last two.
 *
 * <p>Arguments: the peer's port.
 */
public final class ShmVictimChild {
    private ShmVictimChild() {
    }

    public static void main(String[] args) throws Exception {
        try (Node node = GoodPeer.loopback("victim").build(); Arena arena = Arena.ofShared()) {
            Endpoint peer = node.connect("127.0.0.1", Integer.parseInt(args[0]));
            MemorySegment keyBytes = arena.allocate(4096, 8);
            long length = node.receive(ShrinkingPeerChild.KEY, keyBytes).get(20, TimeUnit.SECONDS);
            byte[] key = keyBytes.asSlice(0, length).toArray(JAVA_BYTE);
            RemoteWindow window = peer.attach(WindowKey.fromBytes(key, 0, key.length));
            MemorySegment word = arena.allocate(8, 8);
            putGetSend(peer, window, word, 0x1234);
            long posix = Files.readAllLines(Path.of("/proc/self/maps")).stream()
                    .filter(l -> l.contains("ucx_shm_posix")).count();
            System.out.println("posixMappings=" + posix);
            MemorySegment count = arena.allocate(8, 8);
            var shrunk = node.receive(ShrinkingPeerChild.SHRUNK, count);
            peer.send(ShrinkingPeerChild.SHRINK, word).get(20, TimeUnit.SECONDS);
            shrunk.get(20, TimeUnit.SECONDS);
            System.out.println("shrunk=" + count.get(JAVA_LONG, 0));
            putGetSend(peer, window, word, 0x5678); // into the shrunk files, if this process had mapped them
            System.out.println("after=ok");
            peer.send(ShrinkingPeerChild.DONE, word).get(20, TimeUnit.SECONDS);
        }
    }

    private static void putGetSend(Endpoint peer, RemoteWindow window, MemorySegment word, long value) throws Exception {
        word.set(JAVA_LONG, 0, value);
        window.put(8, word).get(20, TimeUnit.SECONDS);
        window.flush().get(20, TimeUnit.SECONDS);
        word.set(JAVA_LONG, 0, 0);
        window.get(8, word).get(20, TimeUnit.SECONDS);
        if (word.get(JAVA_LONG, 0) != value) {
            throw new AssertionError("read back " + word.get(JAVA_LONG, 0) + ", put " + value);
        }
        peer.send(ShrinkingPeerChild.DATA, word).get(20, TimeUnit.SECONDS); // eager, into the peer's receive queue
    }
}
