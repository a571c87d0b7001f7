package org.memreg.ucx;

import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.Socket;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.LongSupplier;

/**
 * {@link TcpGuardTest}'s probe, in a child JVM because what it guards against aborts the process:
 * a worker that requires a TCP token is sent, each on a fresh plain socket to its UCX TCP port,
 * what aborted UCX 1.13 ({@link #attacks}): by strangers (without the token, with a wrong one, a
 * token cut short) and by a peer that holds the token (frames UCX asserts against); a worker that
 * requires none, the same frames. Then a worker of this process that holds the token sends the
 * first a message. Prints {@code key=value} lines: each
 * attack's name with {@code refused} (the guard counted it, for its token or its frame) or
 * {@code missed}; {@code attacks}, {@code admitted}, {@code received}, and {@code survived=true}.
 * Arguments: the token (hex), the seed, and optionally the names of the attacks to send (comma-separated;
 * by hand, to see which abort UCX without the guard).
 */
public final class TcpGuardProbe {
    static final Map<String, String> TCP = Map.of("NET_DEVICES", "lo", "TLS", "tcp");
    private static final long DEADLINE_NANOS = 20_000_000_000L;
    private static final int PEER_PORT = 9; // the port a forged connection request names: not the victim's
    private static final long UNEXPOSED = 4096; // no process exposes (or maps) the page after NULL

    private TcpGuardProbe() {
    }

    /**
     * One connection's bytes, the fault the guard must end it for (null: not its token), and
     * whether it goes to the worker that requires no token.
     */
    record Attack(String name, byte[] bytes, FrameFault fault, boolean open) {
        Attack(String name, byte[] bytes, FrameFault fault) {
            this(name, bytes, fault, false);
        }
    }

    /**
     * What is sent: each aborted UCX 1.13 (but a wrong magic number) when it came on a connection:
     * a stranger's, a token holder's, and each of the latter without the token to a worker that
     * requires none. Of the holder's, the put to memory nothing exposed killed the process too
     * (UCX wrote page 4096: SIGSEGV), and so did the rendezvous data and the wire-up message that
     * name this process's request or endpoint by a direct id (UCP followed it: SIGSEGV in libucp);
     * the messages not of UCP's form are refused for it, though UCP drops these unread (for their
     * endpoint id 0, or for no address), and only a peer's own ids or address get one further.
     */
    static List<Attack> attacks(byte[] token, long seed) {
        List<Attack> withToken = tokenAttacks(token, seed);
        List<Attack> all = new ArrayList<>(withToken);
        for (Attack attack : withToken) {
            if (attack.name().startsWith("holder-")) {
                all.add(new Attack("open-" + attack.name().substring("holder-".length()),
                        Arrays.copyOfRange(attack.bytes(), token.length, attack.bytes().length), attack.fault(), true));
            }
        }
        return all;
    }

    private static List<Attack> tokenAttacks(byte[] token, long seed) {
        Random random = new Random(seed);
        byte[] wrong = token.clone();
        wrong[random.nextInt(wrong.length)] ^= 1;
        long sn = random.nextLong();
        byte[] unexpected = new TcpFrames().magic().header(200, 0).toArray(); // above UCT_AM_ID_MAX, none of UCX's own
        byte[] tooLong = new TcpFrames().magic().header(1, 1 << 30).toArray(); // past the 64 KiB receive buffer
        return List.of(
                new Attack("stranger-unexpected-frame", unexpected, null),
                new Attack("stranger-long-frame", tooLong, null),
                new Attack("wrong-token-unexpected-frame", new TcpFrames().bytes(wrong).bytes(unexpected).toArray(), null),
                new Attack("wrong-token-long-frame", new TcpFrames().bytes(wrong).bytes(tooLong).toArray(), null),
                // a cut token ends the connection with nothing after it: any byte after it could be the last one
                new Attack("token-cut-short", Arrays.copyOf(token, 15), null),
                new Attack("holder-unexpected-frame", holder(token, sn).header(200, 0).toArray(), FrameFault.BAD_ID),
                new Attack("holder-long-frame", holder(token, sn).header(1, 1 << 30).toArray(), FrameFault.TOO_LONG),
                new Attack("holder-frame-before-request",
                        new TcpFrames().bytes(token).magic().header(200, 0).toArray(), FrameFault.BEFORE_REQUEST),
                new Attack("holder-short-event", holder(token, sn).header(TcpFrames.CM, 2).put((byte) 2).put((byte) 0)
                        .toArray(), FrameFault.BAD_EVENT),
                new Attack("holder-second-request", holder(token, sn).request(sn + 1, 0, PEER_PORT).toArray(),
                        FrameFault.BAD_REQUEST),
                // to an endpoint, from a peer UCX ranks above itself: UCX asserts it ranks the other way
                new Attack("holder-request-to-endpoint", new TcpFrames().bytes(token).magic()
                        .request(sn, TcpFrames.CONNECT_TO_EP, 65535).toArray(), FrameFault.BAD_REQUEST),
                new Attack("holder-put-to-null", holder(token, sn).header(TcpFrames.PUT_REQ, 20).putLong(0).putLong(5)
                        .putInt(0).toArray(), FrameFault.BAD_PUT),
                // acknowledges the victim's last put (none yet: UCX starts at 2^32 - 1), which awaits none
                new Attack("holder-stray-put-ack", holder(token, sn).header(TcpFrames.PUT_ACK, 4).putInt(-1).toArray(),
                        FrameFault.BAD_PUT),
                new Attack("holder-long-put-ack", holder(token, sn).header(TcpFrames.PUT_ACK, 8).putLong(0).toArray(),
                        FrameFault.BAD_PUT),
                // raw data to an address nothing exposed (the page after NULL): UCX wrote there and died
                new Attack("holder-put-unexposed", holder(token, sn).header(TcpFrames.PUT_REQ, 20).putLong(UNEXPOSED)
                        .putLong(5).putInt(0).bytes(new byte[5]).toArray(), FrameFault.UNEXPOSED_WRITE),
                // a software put shorter than its header, and a get naming another memory type than host
                new Attack("holder-software-put-short", holder(token, sn).header(TcpFrames.SW_PUT, 10).putLong(UNEXPOSED)
                        .putShort((short) 0).toArray(), FrameFault.BAD_RMA),
                new Attack("holder-software-get-device-memory", holder(token, sn).header(TcpFrames.SW_GET, 36)
                        .putLong(UNEXPOSED).putLong(8).putLong(1).putLong(1).putInt(1).toArray(), FrameFault.BAD_RMA),
                // UCP took an id with its lowest bit clear for its request's or endpoint's address: SIGSEGV
                new Attack("holder-direct-id", holder(token, sn).header(TcpFrames.RNDV_DATA, 24).putLong(UNEXPOSED)
                        .putLong(0).putLong(0).toArray(), FrameFault.DIRECT_ID),
                new Attack("holder-short-rendezvous-data", holder(token, sn).header(TcpFrames.RNDV_DATA, 4).putInt(1)
                        .toArray(), FrameFault.DIRECT_ID),
                new Attack("holder-wireup-direct-destination", holder(token, sn).wireup(1, UNEXPOSED).toArray(),
                        FrameFault.DIRECT_ID),
                // a wire-up message of no type UCP knows, and a reply to no endpoint: UCP asserts against
                // both once their address unpacks (these carry none, and UCP drops them for it)
                new Attack("holder-wireup-unknown-type", holder(token, sn).wireup(9, 1).toArray(), FrameFault.BAD_WIREUP),
                new Attack("holder-wireup-reply-to-nobody", holder(token, sn).wireup(2, 0).toArray(),
                        FrameFault.BAD_WIREUP),
                // UCX drops this one too, at debug level
                new Attack("holder-wrong-magic", new TcpFrames().bytes(token).putLong(~TcpFrames.MAGIC).toArray(),
                        FrameFault.BAD_MAGIC));
    }

    /** A token holder's connection: the token, the magic number and a connection request, as UCX's own open. */
    private static TcpFrames holder(byte[] token, long sn) {
        return new TcpFrames().bytes(token).magic().request(sn, 0, PEER_PORT);
    }

    public static void main(String[] args) throws Exception {
        byte[] token = HexFormat.of().parseHex(args[0]);
        long seed = Long.parseLong(args[1]);
        try (UcxContext context = UcxContext.create(TCP); UcxWorker victim = UcxWorker.create(context);
             UcxWorker open = UcxWorker.create(context); UcxWorker friend = UcxWorker.create(context);
             Arena arena = Arena.ofConfined()) {
            System.out.println("listeners=" + victim.requireTcpToken(token));
            byte[] address = victim.address();
            List<String> only = args.length > 2 ? List.of(args[2].split(",")) : List.of();
            List<Attack> attacks = attacks(token, seed).stream()
                    .filter(a -> only.isEmpty() || only.contains(a.name())).toList();
            for (Attack attack : attacks) {
                LongSupplier counter = attack.fault() == null ? TcpGuard::refused
                        : () -> TcpGuard.framesRefused(attack.fault());
                long before = counter.getAsLong();
                UcxWorker target = attack.open() ? open : victim;
                try (Socket socket = new Socket("127.0.0.1", AddressLayout.tcpPort(target.address()))) {
                    OutputStream out = socket.getOutputStream();
                    out.write(attack.bytes());
                    out.flush();
                    socket.shutdownOutput(); // a cut token is then read as ended, not awaited
                    long deadline = System.nanoTime() + DEADLINE_NANOS;
                    while (counter.getAsLong() == before && System.nanoTime() < deadline) {
                        target.progress();
                    }
                }
                System.out.println(attack.name() + "=" + (counter.getAsLong() > before ? "refused" : "missed"));
            }
            System.out.println("attacks=" + attacks.size());
            friend.requireTcpToken(token);
            long ep = friend.connect(address, Ucp.ERR_HANDLING_MODE_PEER);
            MemorySegment message = arena.allocateFrom("served");
            MemorySegment inbox = arena.allocate(message.byteSize());
            UcxTestSupport.sendAndReceive(friend, ep, victim, message, inbox, 9); // a hang is killed by the test
            System.out.println("received=" + inbox.getString(0));
            System.out.println("admitted=" + TcpGuard.admitted());
            UcxTestSupport.complete(friend.closeEndpoint(ep, true), friend, victim);
            System.out.println("survived=true");
        }
    }
}
