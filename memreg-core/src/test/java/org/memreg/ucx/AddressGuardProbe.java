package org.memreg.ucx;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.memreg.linux.Mman;

/**
 * {@link AddressGuardTest}'s probe, in a child JVM because what it guards against aborts the
 * process: a worker is given damaged copies of a real peer's address (versions 1 and 2) and
 * connects to each one that passes the check, while both sides progress. Without the guard, a
 * NaN or huge latency failed an assertion in UCX's lane selection (SIGABRT) and an interface
 * address of length 0 was dereferenced by the TCP and CMA transports (SIGSEGV).
 *
 * <p>Prints {@code crafted=N} and {@code craftedRefused=N} (the damage known to crash UCX),
 * {@code tries=N}, {@code connected=N} (single bytes changed at every position, then several at
 * random), {@code bypassRefused=N} and {@code bypassCreated=N} (the crafted addresses given to
 * {@code ucp_ep_create} without memreg's check: refused by libucp's call into the guard, or
 * endpoints made), {@code overreads=N} (checks of damaged addresses that
 * end at an inaccessible page) and last {@code survived=true}. Arguments: the seed.
 */
public final class AddressGuardProbe {
    private static final float HUGE = 3e38f;
    private static final int[] VALUES = {0x00, 0xff, 0x7f, 0x80, 0x01, 0x20, 0x40, 0xfe};
    private static final int WORKER_TRIES = 30;
    private static final MemorySegment MESSAGE = Arena.global().allocate(8);

    private AddressGuardProbe() {
    }

    public static void main(String[] args) {
        SplittableRandom random = new SplittableRandom(Long.parseLong(args[0]));
        int crafted = 0;
        int craftedRefused = 0;
        int tries = 0;
        int connected = 0;
        long bypassRefused = 0;
        int bypassCreated = 0;
        int overreads = 0;
        for (Map<String, String> config : List.of(Map.of("NET_DEVICES", "lo"),
                Map.of("NET_DEVICES", "lo", "ADDRESS_VERSION", "v2"))) {
            try (UcxContext peerContext = UcxContext.create(config);
                 UcxWorker peer = UcxWorker.create(peerContext);
                 UcxContext victimContext = UcxContext.create(Map.of("NET_DEVICES", "lo"))) {
                byte[] real = peer.address();
                List<byte[]> damaged = crashers(real);
                crafted += damaged.size();
                try (UcxWorker victim = UcxWorker.create(victimContext)) {
                    for (byte[] address : damaged) {
                        craftedRefused += tryConnect(victim, peer, address) == Outcome.REFUSED ? 1 : 0;
                    }
                    long refusedBefore = AddressGuard.refused();
                    for (byte[] address : damaged) {
                        bypassCreated += connectUnchecked(victim, address) ? 1 : 0;
                    }
                    bypassRefused += AddressGuard.refused() - refusedBefore;
                }
                List<byte[]> mutants = mutants(real, random);
                tries += mutants.size();
                for (int from = 0; from < mutants.size(); from += WORKER_TRIES) {
                    // a fresh worker now and then: UCX keeps 64 endpoint configurations a worker, then refuses
                    try (UcxWorker victim = UcxWorker.create(victimContext)) {
                        for (byte[] address : mutants.subList(from, Math.min(mutants.size(), from + WORKER_TRIES))) {
                            connected += tryConnect(victim, peer, address) == Outcome.CONNECTED ? 1 : 0;
                        }
                    }
                }
                overreads += checkAgainstAGuardPage(real, random, 50_000);
            }
        }
        System.out.println("crafted=" + crafted);
        System.out.println("craftedRefused=" + craftedRefused);
        System.out.println("bypassRefused=" + bypassRefused);
        System.out.println("bypassCreated=" + bypassCreated);
        System.out.println("tries=" + tries);
        System.out.println("connected=" + connected);
        System.out.println("overreads=" + overreads);
        System.out.println("survived=true");
    }

    /** Damage to {@code real} that aborted or crashed UCX 1.13 (one change per address). */
    public static List<byte[]> crashers(byte[] real) {
        AddressLayout layout = AddressLayout.of(real);
        List<byte[]> out = new ArrayList<>();
        for (AddressLayout.Interface entry : layout.interfaces()) {
            if (layout.v2()) {
                for (int field = 0; field < 3; field++) { // fp8 overhead, bandwidth, latency: NaN
                    out.add(with(real, entry.attributes() + field, 0xff));
                }
            } else {
                for (int field = 0; field < 3; field++) { // float overhead, bandwidth, latency
                    out.add(withFloat(real, entry.attributes() + 4 * field, Float.NaN));
                }
                out.add(withFloat(real, entry.attributes() + 8, HUGE));
            }
            if (layout.v2() && (real[entry.attributes() + 6] & 0x66) != 0) {
                byte[] noSegment = with(real, entry.attributes() + 4, 0); // messages of 0 bytes at most
                out.add(with(noSegment, entry.attributes() + 5, 0));
            }
            out.add(with(real, entry.lengthByte(), real[entry.lengthByte()] & 0xc0)); // interface address length 0
        }
        AddressLayout.Interface tcp = layout.find("tcp");
        if (tcp != null) {
            out.add(with(real, tcp.device() + 1, 7)); // an address family TCP cannot use
        }
        return out;
    }

    private static byte[] with(byte[] real, int position, int value) {
        byte[] copy = real.clone();
        copy[position] = (byte) value;
        return copy;
    }

    private static byte[] withFloat(byte[] real, int position, float value) {
        byte[] copy = real.clone();
        MemorySegment.ofArray(copy).set(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, position, value);
        return copy;
    }

    /** What became of one damaged address. */
    private enum Outcome { REFUSED, UNREACHABLE, CONNECTED }

    /** {@code real} with one byte set to each of {@link #VALUES} at every position, then with 1-4 random bytes. */
    private static List<byte[]> mutants(byte[] real, SplittableRandom random) {
        List<byte[]> out = new ArrayList<>();
        for (int position = 0; position < real.length; position++) {
            for (int value : VALUES) {
                out.add(with(real, position, value));
            }
        }
        for (int i = 0; i < 1000; i++) {
            byte[] address = real.clone();
            for (int n = 1 + random.nextInt(4); n > 0; n--) {
                address[random.nextInt(address.length)] = (byte) random.nextInt(256);
            }
            out.add(address);
        }
        return out;
    }

    /**
     * Connects to {@code address} unless memreg refuses it, and sends the peer 8 bytes over the
     * endpoint while both sides progress a little.
     */
    private static Outcome tryConnect(UcxWorker victim, UcxWorker peer, byte[] address) {
        if (Boolean.getBoolean("probe.trace")) {
            System.err.println("try " + java.util.HexFormat.of().formatHex(address));
        }
        long ep;
        try {
            ep = victim.connect(address, Ucp.ERR_HANDLING_MODE_NONE);
        } catch (IllegalArgumentException refused) {
            return Outcome.REFUSED;
        } catch (UcxException unreachable) {
            return Outcome.UNREACHABLE; // UCX refused it itself, cleanly
        }
        long send = victim.tagSend(ep, MESSAGE.address(), MESSAGE.byteSize(), 7, 0);
        for (int i = 0; i < 20 && Ucp.isRequest(send) && Ucp.requestCheckStatus(send) == Ucp.INPROGRESS; i++) {
            victim.progress();
            peer.progress();
        }
        UcxTestSupport.complete(victim.closeEndpoint(ep, true), victim); // a forced close ends the send, if it still waits
        if (Ucp.isRequest(send) && Ucp.requestCheckStatus(send) != Ucp.INPROGRESS) {
            Ucp.requestFree(send);
        }
        return Outcome.CONNECTED;
    }

    /** ucp_ep_create with {@code address} and no check of memreg's before it; false when UCX refused it. */
    private static boolean connectUnchecked(UcxWorker victim, byte[] address) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment params = arena.allocate(UcxLayouts.EP_PARAMS);
            params.set(JAVA_LONG, 0, Ucp.EP_PARAM_FIELD_REMOTE_ADDRESS);
            UcxLayouts.putLong(params, UcxLayouts.EP_PARAMS, "address",
                    arena.allocate(address.length).copyFrom(MemorySegment.ofArray(address)).address());
            MemorySegment out = arena.allocate(JAVA_LONG);
            if (Ucp.epCreate(victim.handle(), params.address(), out.address()) != Ucp.OK) {
                return false;
            }
            UcxTestSupport.complete(victim.closeEndpoint(out.get(JAVA_LONG, 0), true), victim);
            return true;
        }
    }

    /**
     * Checks {@code count} damaged or cut copies of {@code real}, each placed to end where an
     * inaccessible page begins: a read past an address's end kills the process. How many.
     */
    private static int checkAgainstAGuardPage(byte[] real, SplittableRandom random, int count) {
        long page = 4096;
        long base = Mman.mapAnonymous(2 * page);
        try {
            Mman.mprotect(base + page, page, Mman.PROT_NONE);
            MemorySegment first = MemorySegment.ofAddress(base).reinterpret(page);
            for (int i = 0; i < count; i++) {
                byte[] address = real.clone();
                for (int n = random.nextInt(6); n > 0; n--) {
                    address[random.nextInt(address.length)] = (byte) random.nextInt(256);
                }
                int length = random.nextInt(4) == 0 ? random.nextInt(address.length + 1) : address.length;
                MemorySegment at = first.asSlice(page - length, length);
                at.copyFrom(MemorySegment.ofArray(address).asSlice(0, length));
                AddressGuard.check(at);
            }
            return count;
        } finally {
            Mman.munmap(base, 2 * page);
        }
    }
}
