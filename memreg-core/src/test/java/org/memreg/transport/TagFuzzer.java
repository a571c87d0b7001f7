package org.memreg.transport;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.memreg.device.Access;

/**
 * {@link TagFuzzTest}'s hostile peer, in a child JVM because what it finds may end the process: a
 * peer that speaks UCX directly ({@link RawUcxPeer}) sends a node {@code args[1]} random tagged
 * messages from seed {@code args[0]}, across memreg's whole tag space: user messages (to tags the
 * node has receives posted on, of four sizes, and to others), rendezvous headers with plausible
 * and absurd lengths, chunk sizes and senders, chunks of the message ids those headers name, every
 * control type with the node ids, window ids and generations a peer knows (half of them signed
 * with the token the node gave the peer in its reply to the peer's hello, so that they pass the
 * token check), any tag at all, and now and then a hello with a real, damaged or random address.
 *
 * <p>All along a friend exchanges eager and rendezvous messages with the node both ways, and every
 * 100 messages puts into and gets from its window; each byte is checked. What the node holds for
 * receives not yet posted must stay within its limit throughout. At the end the hostile peer
 * leaves, its messages the node holds still in flight, and the node's posted receives are
 * cancelled: after a last check the node's operations must come back to what they were before.
 * Prints {@code message=} before each message goes, {@code streamed=}, {@code sent=}, {@code
 * leaks=}, {@code mostHeld=}, {@code checks=}, how the node's receives of the hostile peer's
 * messages ended ({@code receives=}) and {@code survived=true}.
 */
public final class TagFuzzer {
    private static final long[] BAIT_TAGS = {1, 2, 3, 4};
    private static final long[] BAIT_BYTES = {64, 4096, 64 << 10, 1 << 20};
    private static final long CHECK_TAG = 0x7e_0000L;
    private static final long STREAM_TAG = 0x7f_0000L;
    private static final long MAX_UNEXPECTED = 4L << 20;
    private static final Duration TIMEOUT = Duration.ofSeconds(3);
    private static final int CHECK_EVERY = 100;
    /** memreg's control types ({@link Tags}), and the words each one's payload has: a hello's has more, and varies. */
    private static final int[] CONTROL_TYPES = {0x81, 0x02, 0x83, 0x84, 0x05, 0x86, 0x87, 0x88, 0x08, 0x89};
    private static final int[] CONTROL_WORDS = {4, 2, 2, 5, 2, 2, 5, 2, 4, 1};

    private final SplittableRandom random;
    private final Node victim;
    private final Node friend;
    private final RawUcxPeer hostile;
    private final Endpoint toVictim;
    private final Endpoint toFriend;
    private final Window window;
    private final RemoteWindow remote;
    private final Arena arena;
    /** Random bytes the hostile peer sends slices of; rendezvous message ids its headers and chunks name. */
    private final MemorySegment noise;
    private final long[] ids = new long[4];
    /** The hostile peer's node id, and the token the node gave it in reply to its hello: it signs control messages. */
    private final long hostileId;
    private final long token;
    private final List<CompletableFuture<Long>> baits = new ArrayList<>();
    private final MemorySegment[] baitBuffers = new MemorySegment[BAIT_TAGS.length];
    /** How the receives the hostile peer's messages met ended: "ok", or the start of their error. */
    private final Map<String, Integer> outcomes = new TreeMap<>();
    private int checks;

    private TagFuzzer(SplittableRandom random, Node victim, Node friend, RawUcxPeer hostile, Arena arena) {
        this.random = random;
        this.victim = victim;
        this.friend = friend;
        this.hostile = hostile;
        this.arena = arena;
        this.toVictim = friend.connect("127.0.0.1", victim.port());
        this.toFriend = GoodPeer.accepted(victim);
        this.window = victim.allocateWindow(1 << 20, Access.ALL);
        this.remote = toVictim.attach(window.key());
        this.noise = arena.allocate(2 << 20, 8);
        for (long i = 0; i < noise.byteSize(); i += 8) {
            noise.set(JAVA_LONG, i, random.nextLong());
        }
        for (int i = 0; i < ids.length; i++) {
            ids[i] = random.nextLong() & Tags.ID_MASK;
        }
        this.hostileId = random.nextLong();
        long nonce = random.nextLong() & Tags.LOW48;
        MemorySegment reply = hostile.greet(victim, hostileId, nonce);
        require(reply != null && reply.byteSize() == 16, "the node replies to the hostile peer's hello");
        this.token = reply.get(JAVA_LONG, 8);
    }

    public static void main(String[] args) throws Exception {
        long seed = Long.parseLong(args[0]);
        int messages = Integer.parseInt(args[1]);
        try (Node victim = GoodPeer.loopback("victim").listen(new InetSocketAddress("127.0.0.1", 0)).timeout(TIMEOUT)
                .maxUnexpectedBytes(MAX_UNEXPECTED).build();
             Node friend = GoodPeer.loopback("friend").timeout(TIMEOUT).build();
             Arena arena = Arena.ofShared()) {
            TagFuzzer fuzzer = new TagFuzzer(new SplittableRandom(seed), victim, friend, new RawUcxPeer(), arena);
            fuzzer.run(messages);
        }
        System.out.println("survived=true");
    }

    private void run(int messages) throws Exception {
        check();
        int before = victim.operations();
        for (int i = 0; i < BAIT_TAGS.length; i++) {
            baitBuffers[i] = arena.allocate(BAIT_BYTES[i], 8);
            baits.add(null);
            rebait(i);
        }
        Stream stream = new Stream(random.split());
        Thread streaming = Thread.ofPlatform().name("friend-stream").start(stream);
        long mostHeld = 0;
        for (int i = 0; i < messages; i++) {
            forge(i);
            mostHeld = Math.max(mostHeld, victim.heldUnexpectedBytes());
            for (int b = 0; b < baits.size(); b++) {
                if (baits.get(b).isDone()) {
                    outcomes.merge(outcome(baits.get(b)), 1, Integer::sum);
                    rebait(b);
                }
            }
            if ((i + 1) % CHECK_EVERY == 0) {
                hostile.discardArrived(); // the node's answers to hellos, else UCX warns of each at close
                check();
            }
        }
        stream.stop = true;
        streaming.join();
        if (stream.failure != null) {
            throw new AssertionError("the friend's stream failed after " + stream.exchanges + " exchanges",
                    stream.failure);
        }
        System.out.println("streamed=" + stream.exchanges);
        System.out.println("sent=" + messages);
        System.out.println("inflight=" + hostile.inFlight());
        hostile.close(); // and leaves, its rendezvous messages the node holds or drains still in flight
        baits.forEach(bait -> bait.cancel(false));
        check();
        long deadline = System.nanoTime() + 2 * TIMEOUT.toNanos() + TimeUnit.SECONDS.toNanos(5);
        while (victim.operations() > before && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        System.out.println("leaks=" + (victim.operations() - before));
        if (mostHeld > MAX_UNEXPECTED) {
            throw new AssertionError("the node held " + mostHeld + " bytes for receives not yet posted, over its "
                    + MAX_UNEXPECTED);
        }
        System.out.println("mostHeld=" + mostHeld);
        System.out.println("checks=" + checks);
        System.out.println("receives=" + outcomes);
    }

    private static String outcome(CompletableFuture<Long> receive) {
        if (!receive.isCompletedExceptionally()) {
            return "ok";
        }
        String message = String.valueOf(receive.exceptionNow().getMessage());
        return message.replaceAll("[0-9a-f]{6,}|[0-9]+", "#");
    }

    private void rebait(int i) {
        baits.set(i, victim.receive(BAIT_TAGS[i], baitBuffers[i]));
    }

    /** One message from the hostile peer, printed before it goes. */
    private void forge(int i) {
        int kind = random.nextInt(60);
        if (kind == 0) {
            hello(i);
            return;
        }
        long tag;
        MemorySegment payload;
        if (kind < 12) { // a user message, eager data
            tag = userTag();
            payload = noise(random.nextInt(8) == 0 ? random.nextInt(40 << 10) : random.nextInt(600));
        } else if (kind < 28) { // a rendezvous header
            tag = userTag() | Tags.RTS_BIT;
            payload = header();
        } else if (kind < 44) { // a chunk
            tag = Tags.CHUNK | (random.nextInt(8) == 0 ? random.nextLong() & Tags.ID_MASK : pick(ids));
            int size = random.nextInt(4);
            payload = noise(size == 0 ? 4096 : size == 1 ? random.nextInt(4097) : size == 2 ? 64 << 10
                    : random.nextInt(2 << 20));
        } else if (kind < 56) { // a control message
            int known = random.nextInt(CONTROL_TYPES.length);
            int type = random.nextInt(4) == 0 ? random.nextInt(256) : CONTROL_TYPES[known];
            tag = Tags.CTRL | (long) type << 48 | (random.nextBoolean() ? 0 : random.nextLong() & Tags.LOW48);
            boolean wellFormed = type == CONTROL_TYPES[known] && random.nextBoolean();
            payload = words(wellFormed ? CONTROL_WORDS[known] : random.nextInt(9));
        } else { // any tag
            tag = random.nextLong();
            payload = noise(random.nextInt(200));
        }
        System.out.printf("message=%d tag=%016x bytes=%d%n", i, tag, payload.byteSize());
        hostile.sendAndGo(victim, tag, payload); // the node may hold a rendezvous message for good
    }

    private long userTag() {
        return random.nextInt(4) == 0 ? random.nextLong() & Tags.USER_MAX : pick(BAIT_TAGS);
    }

    /** A rendezvous header: mostly 32 bytes with plausible fields, sometimes absurd ones, sometimes another length. */
    private MemorySegment header() {
        MemorySegment header = random.nextInt(6) == 0 ? words(random.nextInt(9)) : words(4);
        if (header.byteSize() != 32) {
            return header;
        }
        long[] totals = {1 + random.nextInt(1 << 20), 1 + random.nextInt(64 << 10), random.nextLong(), 0, -1,
            1L << 40, BAIT_BYTES[random.nextInt(BAIT_BYTES.length)]};
        long[] chunks = {4096, 2 << 20, 64 << 10, 0, 4095, 1L << 30, random.nextLong(), 4096L * random.nextInt(64)};
        long id = pick(ids) | (random.nextInt(8) == 0 ? (long) random.nextInt(256) << 56 : 0);
        long[] senders = {friend.id(), victim.id(), toFriend.peerId(), random.nextLong(), 0};
        header.set(JAVA_LONG, 0, pick(totals));
        header.set(JAVA_LONG, 8, id);
        header.set(JAVA_LONG, 16, pick(senders));
        header.set(JAVA_LONG, 24, pick(chunks));
        return header;
    }

    /**
     * {@code count} words a peer might send: node ids, window ids and generations, message ids,
     * small and random numbers; half the time first the hostile peer's id and token.
     */
    private MemorySegment words(int count) {
        MemorySegment words = arena.allocate(Math.max(1, 8L * count), 8).asSlice(0, 8L * count);
        long[] known = {victim.id(), friend.id(), window.id(), window.generation(), window.generation() + 1,
            pick(ids), random.nextInt(16), random.nextLong(), -1, 0};
        for (int i = 0; i < count; i++) {
            words.set(JAVA_LONG, 8L * i, pick(known));
        }
        if (count >= 2 && random.nextBoolean()) { // signed as the peer the node answered: past the token check
            words.set(JAVA_LONG, 0, hostileId);
            words.set(JAVA_LONG, 8, token);
        }
        return words;
    }

    private MemorySegment noise(long bytes) {
        return noise(bytes, random);
    }

    private MemorySegment noise(long bytes, SplittableRandom random) {
        long at = bytes >= noise.byteSize() ? 0 : random.nextLong(noise.byteSize() - bytes + 1) & ~7L;
        return noise.asSlice(at, Math.min(bytes, noise.byteSize()));
    }

    /** A hello naming the hostile peer's address, a damaged copy of it, random bytes or none. */
    private void hello(int i) {
        byte[] address = hostile.address();
        switch (random.nextInt(4)) {
            case 0 -> { }
            case 1 -> address[random.nextInt(address.length)] ^= (byte) (1 + random.nextInt(255));
            case 2 -> address = Arrays.copyOf(address, random.nextInt(address.length));
            default -> {
                address = new byte[random.nextInt(300)];
                random.nextBytes(address);
            }
        }
        System.out.printf("message=%d hello bytes=%d%n", i, address.length);
        hostile.hello(victim, random.nextLong(), random.nextLong(), address);
    }

    /** The friend and the node exchange eager and rendezvous messages both ways, then put and get; every byte checked. */
    private void check() throws Exception {
        for (long bytes : new long[] {8 + random.nextInt(512), (64 << 10) + random.nextInt(1 << 20)}) {
            exchange(toVictim, victim, bytes, CHECK_TAG + checks, random);
            exchange(toFriend, friend, bytes, CHECK_TAG + checks, random);
        }
        MemorySegment data = noise(4096);
        long offset = random.nextLong((1 << 20) - 4096) & ~7L;
        remote.put(offset, data).get(20, TimeUnit.SECONDS);
        remote.flush().get(20, TimeUnit.SECONDS);
        require(window.segment().asSlice(offset, 4096).mismatch(data) == -1, "a put into the node's window");
        MemorySegment back = arena.allocate(4096, 8);
        remote.get(offset, back).get(20, TimeUnit.SECONDS);
        require(back.mismatch(data) == -1, "a get from the node's window");
        checks++;
        System.out.println("checked=" + checks);
    }

    private void exchange(Endpoint from, Node to, long bytes, long tag, SplittableRandom random) throws Exception {
        MemorySegment message = noise(bytes, random);
        MemorySegment into = Arena.ofAuto().allocate(bytes, 8); // the receive keeps it reachable while it runs
        CompletableFuture<Long> received = to.receive(tag, into);
        from.send(tag, message).get(20, TimeUnit.SECONDS);
        require(received.get(20, TimeUnit.SECONDS) == bytes, bytes + " bytes arrive");
        require(into.mismatch(message) == -1, bytes + " bytes arrive intact");
    }

    /** The friend and the node exchange messages both ways all along, as the hostile peer sends. */
    private final class Stream implements Runnable {
        private final SplittableRandom random;
        volatile boolean stop;
        volatile Throwable failure;
        volatile int exchanges;

        Stream(SplittableRandom random) {
            this.random = random;
        }

        @Override
        public void run() {
            try {
                while (!stop) {
                    long bytes = random.nextBoolean() ? 1 + random.nextInt(600) : (16 << 10) + random.nextInt(1 << 20);
                    long tag = STREAM_TAG + exchanges;
                    exchange(toVictim, victim, bytes, tag, random);
                    exchange(toFriend, friend, bytes, tag, random);
                    exchanges++;
                }
            } catch (Throwable e) {
                failure = e;
            }
        }
    }

    private static void require(boolean holds, String what) {
        if (!holds) {
            throw new AssertionError(what);
        }
    }

    private long pick(long[] values) {
        return values[random.nextInt(values.length)];
    }
}
