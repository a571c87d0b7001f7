package org.memreg.transport;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.memreg.device.Access;

/**
 * {@link SharedMemoryShrinkTest}'s misbehaving peer: a node on UCX's POSIX shared memory (its
 * receive queue and its window's memory in files) that hands a victim its window key (tag 1) and,
 * when asked (tag 2), shrinks every such file to nothing, having first swapped its own mappings
 * of them for private copies so that only the processes that mapped them from it can fault. It
 * answers with how many files it shrank (tag 3), then serves until the victim says it is done
 * (tag 4); it takes one eager message (tag 5) before the shrinking and one after. Prints
 * {@code port=N} once it listens.
 */
public final class ShrinkingPeerChild {
    static final long KEY = 1;
    static final long SHRINK = 2;
    static final long SHRUNK = 3;
    static final long DONE = 4;
    static final long DATA = 5;
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle FTRUNCATE = LINKER.downcallHandle(
            LINKER.defaultLookup().find("ftruncate").orElseThrow(), FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final MethodHandle MMAP = LINKER.downcallHandle(LINKER.defaultLookup().find("mmap").orElseThrow(),
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    private static final int PROT_READ_WRITE = 3;
    private static final int MAP_PRIVATE_FIXED_ANONYMOUS = 0x02 | 0x10 | 0x20;

    private ShrinkingPeerChild() {
    }

    public static void main(String[] args) throws Throwable {
        try (Node node = GoodPeer.loopback("shrinking").ucx("TLS", "posix,cma,tcp,self").ucx("ALLOC_PRIO", "md:posix")
                     .listen(new InetSocketAddress("127.0.0.1", 0)).build();
             Arena arena = Arena.ofShared()) {
            System.out.println("port=" + node.port());
            System.out.flush();
            Endpoint victim = GoodPeer.accepted(node);
            try (Window window = node.allocateWindow(64 << 10, Access.ALL)) {
                byte[] key = window.key().toBytes();
                victim.send(KEY, arena.allocate(key.length, 8).copyFrom(MemorySegment.ofArray(key)))
                        .get(20, TimeUnit.SECONDS);
                MemorySegment word = arena.allocate(8, 8);
                node.receive(DATA, word).get(60, TimeUnit.SECONDS);
                node.receive(SHRINK, word).get(60, TimeUnit.SECONDS);
                word.set(JAVA_LONG, 0, shrinkPosixFiles());
                victim.send(SHRUNK, word).get(20, TimeUnit.SECONDS);
                node.receive(DATA, word).get(60, TimeUnit.SECONDS);
                node.receive(DONE, word).get(60, TimeUnit.SECONDS);
            }
        }
    }

    /** Shrinks every UCX POSIX shared-memory file this process holds open; how many. */
    private static long shrinkPosixFiles() throws Throwable {
        List<String> maps = Files.readAllLines(Path.of("/proc/self/maps"));
        long shrunk = 0;
        try (var fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : fds.toList()) {
                String target;
                try {
                    target = Files.readSymbolicLink(fd).toString();
                } catch (IOException gone) {
                    continue;
                }
                if (!target.contains("ucx_shm_posix")) {
                    continue;
                }
                long inode = (Long) Files.getAttribute(fd, "unix:ino");
                for (String line : maps) {
                    String[] f = line.trim().split(" +");
                    if (f.length > 4 && f[4].equals(Long.toString(inode))) {
                        keepPrivately(f[0]);
                    }
                }
                if ((int) FTRUNCATE.invokeExact(Integer.parseInt(fd.getFileName().toString()), 0L) == 0) {
                    shrunk++;
                }
            }
        }
        return shrunk;
    }

    /** Replaces the mapping {@code range} ("lo-hi" in hex) with a private anonymous copy of it. */
    private static void keepPrivately(String range) throws Throwable {
        String[] r = range.split("-");
        long lo = Long.parseUnsignedLong(r[0], 16);
        long hi = Long.parseUnsignedLong(r[1], 16);
        MemorySegment mapping = MemorySegment.ofAddress(lo).reinterpret(hi - lo);
        byte[] copy = mapping.toArray(JAVA_BYTE);
        MemorySegment same = (MemorySegment) MMAP.invokeExact(mapping, hi - lo, PROT_READ_WRITE,
                MAP_PRIVATE_FIXED_ANONYMOUS, -1, 0L);
        if (same.address() != lo) {
            throw new IllegalStateException("mmap over " + range + " returned " + same);
        }
        mapping.copyFrom(MemorySegment.ofArray(copy));
    }
}
