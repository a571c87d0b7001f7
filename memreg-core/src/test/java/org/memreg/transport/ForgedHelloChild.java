package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * {@link ForgedHelloTest}'s probe: a raw UCX peer sends a node (no secret) UCX hellos whose
 * worker address is damaged: its own real address cut at every length, then with every version
 * UCX does not know. Prints {@code hellos=N}, then {@code served=true} once a good peer was served
 * after them; a process that UCX aborts prints neither. (Bytes damaged inside an address can
 * still abort UCX 1.13 further on, in a transport's own checks, for instance a shared-memory
 * segment id with flags no segment has: memreg cannot tell those from good ones. The README's
 * trust model says so.)
 *
 * <p>Arguments: the seed (node ids, nonces and tokens).
 */
public final class ForgedHelloChild {
    private ForgedHelloChild() {
    }

    public static void main(String[] args) throws Exception {
        SplittableRandom random = new SplittableRandom(Long.parseLong(args[0]));
        int hellos = 0;
        try (Node node = GoodPeer.loopback("target").listen(new InetSocketAddress("127.0.0.1", 0)).build();
             RawUcxPeer hostile = new RawUcxPeer();
             Arena arena = Arena.ofShared()) {
            byte[] real = hostile.address();
            for (int length = 1; length < real.length; length++) {
                hello(node, hostile, arena, Arrays.copyOf(real, length), random);
                hellos++;
            }
            for (int version = 2; version < 16; version++) { // UCX 1.13 knows 0 and 1; it aborted on the others
                byte[] damaged = real.clone();
                damaged[0] = (byte) (damaged[0] & 0xf0 | version);
                hello(node, hostile, arena, damaged, random);
                hellos++;
            }
            System.out.println("hellos=" + hellos);
            GoodPeer.assertServed(node, b -> b);
            System.out.println("served=true");
        }
    }

    /** A hello as a memreg node sends it (version, error mode NONE, no proof) with {@code address}. */
    private static void hello(Node node, RawUcxPeer hostile, Arena arena, byte[] address, SplittableRandom random) {
        MemorySegment hello = arena.allocate(32 + address.length, 8);
        hello.set(JAVA_LONG, 0, random.nextLong()); // a node id not seen before: the node connects back
        hello.set(JAVA_LONG, 8, random.nextLong()); // nonce
        hello.set(JAVA_SHORT, 16, (short) Handshake.VERSION);
        hello.set(JAVA_BYTE, 18, (byte) ErrorMode.NONE.ordinal());
        hello.set(JAVA_BYTE, 19, (byte) 0);
        hello.set(JAVA_INT, 20, address.length);
        hello.set(JAVA_LONG, 24, random.nextLong()); // token
        hello.asSlice(32).copyFrom(MemorySegment.ofArray(address));
        hostile.send(node, Tags.HELLO, hello);
    }
}
