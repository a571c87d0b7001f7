package org.memreg.transport;

import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.memreg.ucx.AddressGuardProbe;

/**
 * {@link ForgedHelloTest}'s probe: a raw UCX peer sends a node (no secret) UCX hellos whose
 * worker address is damaged: its own real address cut at every length, with every version UCX
 * does not know, and with the damage inside that aborted or crashed UCX 1.13 (a NaN or huge
 * latency, an interface address of length 0, an address family TCP cannot use:
 * {@code AddressGuardProbe.crashers}). Prints {@code hellos=N}, then {@code served=true} once a
 * good peer was served after them; a process that UCX aborts prints neither.
 *
 * <p>Arguments: the seed (node ids and nonces).
 */
public final class ForgedHelloChild {
    private ForgedHelloChild() {
    }

    public static void main(String[] args) throws Exception {
        SplittableRandom random = new SplittableRandom(Long.parseLong(args[0]));
        int hellos = 0;
        try (Node node = GoodPeer.loopback("target").listen(new InetSocketAddress("127.0.0.1", 0)).build();
             RawUcxPeer hostile = new RawUcxPeer()) {
            byte[] real = hostile.address();
            for (int length = 1; length < real.length; length++) {
                // a node id not seen before: the node connects back
                hostile.hello(node, random.nextLong(), random.nextLong(), Arrays.copyOf(real, length));
                hellos++;
            }
            for (int version = 2; version < 16; version++) { // UCX 1.13 knows 0 and 1; it aborted on the others
                byte[] damaged = real.clone();
                damaged[0] = (byte) (damaged[0] & 0xf0 | version);
                hostile.hello(node, random.nextLong(), random.nextLong(), damaged);
                hellos++;
            }
            for (byte[] damaged : AddressGuardProbe.crashers(real)) {
                hostile.hello(node, random.nextLong(), random.nextLong(), damaged);
                hellos++;
            }
            System.out.println("hellos=" + hellos);
            GoodPeer.assertServed(node, b -> b);
            System.out.println("served=true");
        }
    }
}
