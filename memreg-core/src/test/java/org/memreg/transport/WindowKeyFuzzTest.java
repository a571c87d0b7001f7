package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.memreg.transport.GoodPeer.loopback;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.memreg.device.Access;
import org.memreg.linux.Mman;
import org.memreg.ucx.UcxTestSupport;
import org.memreg.util.TestSeeds;

/**
 * 100,000 mutated window keys (every field, the remote-key bytes included) attached and used
 * against three windows: one UCX allocated, one read-only, one over caller memory between two
 * guard pages. None may crash the node, and no byte may land outside a window a key names: at the
 * end every window holds exactly what the puts that were allowed wrote, the guards are untouched.
 */
class WindowKeyFuzzTest {
    private static final int KEYS = Integer.getInteger("memreg.test.fuzzKeys", 100_000);
    private static final long PAGE = 4096;
    private static final byte ORIGINAL = 0x5a;
    private static final byte GUARD = 0x33;
    private static final byte WRITTEN = (byte) 0xab;

    /** A window under fuzz: its genuine key, its memory, and which of its bytes puts wrote. */
    private record Target(WindowKey key, MemorySegment memory, boolean[] written) {
    }

    @Test
    @Timeout(value = 300, unit = TimeUnit.SECONDS)
    void mutatedKeysShouldNeverCrashNorLandOutsideTheWindowTheyName() throws Exception {
        UcxTestSupport.assumeUcx();
        long seed = TestSeeds.seed("WindowKeyFuzzTest");
        SplittableRandom random = new SplittableRandom(seed);
        long mapped = Mman.mapAnonymous(4 * PAGE);
        MemorySegment guarded = MemorySegment.ofAddress(mapped).reinterpret(4 * PAGE);
        guarded.fill(GUARD);
        try (Node server = loopback("owner").listen(new InetSocketAddress("127.0.0.1", 0)).build();
             Node client = loopback("origin").build(); Arena arena = Arena.ofShared()) {
            Endpoint endpoint = client.connect("127.0.0.1", server.port());
            Window allocated = server.allocateWindow(64 << 10, Access.ALL);
            Window readOnly = server.allocateWindow(PAGE, Access.REMOTE_READ);
            Window registered = server.registerWindow(guarded.asSlice(PAGE, 2 * PAGE), Access.ALL);
            List<Target> targets = List.of(target(allocated), target(readOnly), target(registered));
            MemorySegment source = arena.allocate(128 << 10, 4096);
            source.fill(WRITTEN);
            MemorySegment sink = arena.allocate(128 << 10, 4096);

            TreeMap<String, Integer> outcomes = new TreeMap<>();
            long start = System.nanoTime();
            for (int i = 0; i < KEYS; i++) {
                Target target = targets.get(random.nextInt(targets.size()));
                byte[] bytes = mutate(target.key().toBytes(), targets, random);
                String outcome = use(endpoint, bytes, targets, source, sink, random);
                outcomes.merge(outcome, 1, Integer::sum);
                if (i % 25_000 == 24_999) {
                    System.out.printf("%,d keys: %s%n", i + 1, outcomes);
                }
            }
            System.out.printf("key fuzz: %,d keys in %.1f s: %s%n", KEYS, (System.nanoTime() - start) / 1e9, outcomes);

            for (Target t : targets) {
                for (long b = 0; b < t.memory().byteSize(); b++) {
                    byte expected = t.written()[(int) b] ? WRITTEN : ORIGINAL;
                    if (t.memory().get(JAVA_BYTE, b) != expected) {
                        throw new AssertionError(t.key() + " byte " + b + " is " + t.memory().get(JAVA_BYTE, b)
                                + ", expected " + expected);
                    }
                }
            }
            for (long b = 0; b < PAGE; b++) {
                assertEquals(GUARD, guarded.get(JAVA_BYTE, b), "guard page before the window, byte " + b);
                assertEquals(GUARD, guarded.get(JAVA_BYTE, 3 * PAGE + b), "guard page after the window, byte " + b);
            }
            assertTrue(outcomes.getOrDefault("put landed", 0) > 0, "some puts through genuine keys landed");
            assertTrue(outcomes.getOrDefault("malformed", 0) > 0 && outcomes.getOrDefault("stale", 0) > 0
                    && outcomes.getOrDefault("refused", 0) > 0, "every kind of refusal seen: " + outcomes);
            GoodPeer.assertServed(server);
        } finally {
            Mman.munmap(mapped, 4 * PAGE);
        }
    }

    private static Target target(Window window) {
        window.segment().fill(ORIGINAL);
        return new Target(window.key(), window.segment(), new boolean[(int) window.size()]);
    }

    /** The genuine key, with one field (or a few raw bytes) changed; sometimes left as it is. */
    static byte[] mutate(byte[] key, List<Target> targets, SplittableRandom random) {
        ByteBuffer b = ByteBuffer.wrap(key);
        int rkeyAt = WindowKey.BYTES_BEFORE_RKEY;
        switch (random.nextInt(12)) {
            case 0 -> b.putLong(0, random.nextLong()); // owner
            case 1 -> b.putLong(8, random.nextBoolean() ? random.nextLong()
                    : targets.get(random.nextInt(targets.size())).key().windowId()); // another window's id
            case 2 -> b.putLong(16, b.getLong(16) + random.nextLong(-3, 100)); // generation
            case 3 -> b.putLong(24, b.getLong(24) + (random.nextBoolean() ? random.nextLong(-PAGE, PAGE)
                    : random.nextLong())); // address
            case 4 -> b.putLong(32, random.nextBoolean() ? b.getLong(32) * 2 + random.nextInt(3)
                    : random.nextLong()); // length
            case 5 -> b.putInt(40, random.nextInt(16)); // access bits, some unknown
            case 6 -> b.putInt(44, b.getInt(44) + random.nextInt(-4, 5)); // remote-key length
            case 7 -> key[rkeyAt + random.nextInt(key.length - rkeyAt)] ^= (byte) (1 + random.nextInt(255));
            case 8 -> { // random remote-key bytes
                byte[] rkey = new byte[key.length - rkeyAt];
                random.nextBytes(rkey);
                System.arraycopy(rkey, 0, key, rkeyAt, rkey.length);
            }
            case 9 -> { // truncated or extended
                return Arrays.copyOf(key, random.nextInt(key.length + 16));
            }
            case 10 -> key[random.nextInt(key.length)] ^= (byte) (1 + random.nextInt(255)); // any byte
            default -> {
                // unchanged: the genuine key, whose puts must land where they should
            }
        }
        return key;
    }

    /** Attaches {@code bytes} and puts or gets at a random place; says what happened. */
    private static String use(Endpoint endpoint, byte[] bytes, List<Target> targets, MemorySegment source,
            MemorySegment sink, SplittableRandom random) throws Exception {
        WindowKey key;
        try {
            key = WindowKey.fromBytes(bytes, 0, bytes.length);
        } catch (IllegalArgumentException e) {
            return "malformed";
        }
        RemoteWindow window;
        try {
            window = endpoint.attach(key);
        } catch (StaleWindowException e) {
            return "stale";
        } catch (TransportException e) {
            return "refused";
        }
        Target target = targets.stream().filter(t -> t.key().equals(window.key())).findFirst()
                .orElseThrow(() -> new AssertionError("attached a key no window issued: " + window.key()));
        long size = target.memory().byteSize();
        long offset = random.nextLong(-16, size + 16);
        long length = 1 + random.nextLong(Math.min(source.byteSize(), size + 64));
        boolean put = random.nextBoolean();
        try {
            if (put) {
                window.put(offset, source.asSlice(0, length)).get(20, TimeUnit.SECONDS);
                window.flush().get(20, TimeUnit.SECONDS);
                Arrays.fill(target.written(), (int) offset, (int) (offset + length), true);
                return "put landed";
            }
            window.get(offset, sink.asSlice(0, length)).get(20, TimeUnit.SECONDS);
            return "get read";
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IndexOutOfBoundsException || e.getCause() instanceof UnsupportedOperationException) {
                return "put/get refused";
            }
            throw e;
        }
    }
}
