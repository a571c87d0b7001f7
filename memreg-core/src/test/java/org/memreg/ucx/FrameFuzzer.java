package org.memreg.ucx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Random;

/**
 * {@link FrameFuzzTest}'s stranger, in a child JVM because what it finds ends the process: a worker
 * over TCP without a token (anyone may connect) and a friend with endpoints both ways are sent
 * {@code args[1]} random connections from seed {@code args[0]}, each UCX's magic number, a connection
 * request and four UCP frames: mostly of the kinds memreg's nodes exchange, of random lengths and
 * bytes, with small type fields, small offsets and sizes, small odd ids and the two workers' own
 * endpoint ids (a peer knows the id of the endpoint made for it) where ids go. Then the two exchange
 * a message both ways. Prints {@code sent=}, {@code received=} both messages and {@code
 * survived=true}; the last connection sent is printed before it goes, as {@code frames=} (hex).
 */
public final class FrameFuzzer {
    /** UCP's message kinds memreg's nodes exchange, the ones with most to judge twice. */
    private static final int[] KINDS = {1, 2, 3, 4, 9, 10, 11, 12, 16, 17, 18, 19, 22, 9, 9, 2, 3, 4, 12, 19, 22};
    private static final int RTS = 9;
    private static final int RTS_BYTES = 41;
    private static final long SETTLE_NANOS = 2_000_000L;

    private FrameFuzzer() {
    }

    public static void main(String[] args) throws Exception {
        Random random = new Random(Long.parseLong(args[0]));
        int connections = Integer.parseInt(args[1]);
        try (ForgeryTarget target = new ForgeryTarget()) {
            List<Long> known = target.endpointIds();
            for (int i = 0; i < connections; i++) {
                TcpFrames frames = new TcpFrames().magic().request(random.nextLong() >>> 1, 0, 9);
                for (int f = 0; f < 4; f++) {
                    frame(frames, random, known);
                }
                byte[] bytes = frames.toArray();
                System.out.println("frames=" + java.util.HexFormat.of().formatHex(bytes));
                target.forge(bytes, () -> false, SETTLE_NANOS);
            }
            System.out.println("sent=" + connections);
            System.out.println("received=" + target.exchange());
        }
        System.out.println("survived=true");
    }

    /** One UCP frame: a kind (now and then any id up to 35), a length, bytes, and fields made plausible. */
    private static void frame(TcpFrames frames, Random random, List<Long> known) {
        int kind = random.nextInt(8) == 0 ? random.nextInt(36) : KINDS[random.nextInt(KINDS.length)];
        int length = random.nextInt(4) == 0 ? random.nextInt(9) : random.nextInt(120);
        if (kind == RTS && random.nextBoolean()) {
            length = RTS_BYTES + random.nextInt(80);
        }
        byte[] body = new byte[length];
        random.nextBytes(body);
        ByteBuffer fields = ByteBuffer.wrap(body).order(ByteOrder.LITTLE_ENDIAN);
        for (int at = 0; at + 8 <= length && at < 24; at += 8) {
            int pick = random.nextInt(4);
            if (pick == 0 && !known.isEmpty()) {
                fields.putLong(at, known.get(random.nextInt(known.size())));
            } else if (pick == 1) {
                fields.putLong(at, 1 + 2L * random.nextInt(32));
            }
        }
        if (length > 0 && random.nextBoolean()) {
            body[0] = (byte) random.nextInt(8); // a type field
        }
        if (kind == RTS && length >= RTS_BYTES && random.nextBoolean()) {
            body[RTS_BYTES - 1] = 0; // a tag RTS
            fields.putLong(24, random.nextBoolean() ? 0 : fields.getLong(24)); // no address: data by messages
            fields.putLong(32, random.nextInt(1 << 20)); // a size a receive could take
        }
        if (length >= 16 && random.nextInt(3) == 0) {
            fields.putLong(8, random.nextInt(3) == 0 ? 0 : random.nextInt(1 << 16)); // a small offset or size
        }
        frames.header(kind, length).bytes(body);
    }
}
