package org.memreg.jmh.peers;

import io.aeron.Aeron;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import io.aeron.logbuffer.ControlledFragmentHandler;
import io.aeron.logbuffer.FrameDescriptor;
import java.util.function.Consumer;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Aeron 1.51 between two JVMs through one media driver (the server's, embedded, as a host runs
 * one): {@code aeron:ipc} (the publisher copies into a shared log, the subscriber reads it there)
 * or {@code aeron:udp} on loopback, one publication and subscription each way, 64 KiB MTU, the
 * term length that measured fastest here ({@link #termLength}). The application threads busy-spin
 * ({@link BusySpinIdleStrategy}, Aeron's lowest-latency idle strategy); the driver's one shared
 * thread backs off (a third spinning thread on two cores would take a core from a peer; a driver
 * that yields, or backs off to 1 µs, moved IPC no faster here). The receiver reads each fragment
 * in place (no reassembly copy), Aeron's fastest way to consume a large message.
 */
final class AeronLink implements Link {
    private static final int TO_SERVER = 1001, TO_CLIENT = 1002;
    private final MediaDriver driver;
    private final Aeron aeron;
    private final Publication publication;
    private final Subscription subscription;
    private final Bytes out;
    private final UnsafeBuffer outBuffer;
    private final IdleStrategy idle = new BusySpinIdleStrategy();
    private final ControlledFragmentHandler handler = this::onFragment;
    private long sum, position;
    private boolean complete;

    private AeronLink(MediaDriver driver, Aeron aeron, String[] channels, boolean server, int sendBytes) {
        this.driver = driver;
        this.aeron = aeron;
        this.out = Bytes.allocate(sendBytes);
        this.outBuffer = new UnsafeBuffer(out.buffer());
        this.publication = aeron.addExclusivePublication(server ? channels[1] : channels[0], server ? TO_CLIENT : TO_SERVER);
        this.subscription = aeron.addSubscription(server ? channels[0] : channels[1], server ? TO_SERVER : TO_CLIENT);
        while (!publication.isConnected() || !subscription.isConnected()) {
            Thread.onSpinWait();
        }
    }

    /**
     * The term length for messages of up to {@code maxBytes}: 512 KiB for 8-byte messages (a term
     * that stays in cache), else 256 MiB or 16 messages, whichever is more. Aeron IPC's throughput
     * rose with the term on this host (2026-12-04; 64 KiB and 1 MiB messages, 20,000 and 5,000 after
     * as many): 64 KiB messages 103 MiB/s with a 512 KiB term, 2,400 with 16 MiB, 4,640-5,930 with 64
     * MiB, 8,580 with 256 MiB; 1 MiB messages 1,720 with 8 MiB, 3,590 with 16 MiB, 8,510 with 256
     * MiB. {@code -Dbench.aeronTerm=BYTES} sets it.
     */
    static int termLength(int maxBytes) {
        int messages = Integer.highestOneBit(Math.max(1, maxBytes - 1)) << 5; // 16 messages, a power of two
        int fastest = maxBytes <= 8 ? 512 << 10 : Math.max(256 << 20, messages);
        return Integer.getInteger("bench.aeronTerm", fastest);
    }

    /** The two channels, to the server and to the client; UDP uses {@code port} and {@code port + 1}. */
    private static String[] channels(boolean udp, int port, int maxBytes) {
        String params = "mtu=65504|term-length=" + termLength(maxBytes);
        return udp
                ? new String[] {"aeron:udp?endpoint=127.0.0.1:" + port + "|" + params,
                        "aeron:udp?endpoint=127.0.0.1:" + (port + 1) + "|" + params}
                : new String[] {"aeron:ipc?" + params, "aeron:ipc?" + params};
    }

    /** Launches the media driver, announces "aeron=DIR,PORT", waits for the client. */
    static AeronLink server(boolean udp, int port, int sendBytes, int maxBytes, Consumer<String> announce) {
        String dir = "/dev/shm/memreg-peers-" + ProcessHandle.current().pid() + "-" + port; // Aeron's place on Linux
        MediaDriver driver = MediaDriver.launch(new MediaDriver.Context().aeronDirectoryName(dir)
                .threadingMode(ThreadingMode.SHARED).sharedIdleStrategy(new BackoffIdleStrategy())
                .dirDeleteOnStart(true).dirDeleteOnShutdown(true));
        Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(dir));
        announce.accept("aeron=" + dir + "," + port);
        return new AeronLink(driver, aeron, channels(udp, port, maxBytes), true, sendBytes);
    }

    static AeronLink client(boolean udp, String info, int sendBytes, int maxBytes) {
        String[] parts = info.substring(info.indexOf('=') + 1).split(",");
        Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(parts[0]));
        return new AeronLink(null, aeron, channels(udp, Integer.parseInt(parts[1]), maxBytes), false, sendBytes);
    }

    @Override
    public Bytes out() {
        return out;
    }

    @Override
    public void send(int length) {
        long result;
        while ((result = publication.offer(outBuffer, 0, length)) < 0) {
            if (result == Publication.CLOSED || result == Publication.MAX_POSITION_EXCEEDED) {
                throw new IllegalStateException("Aeron offer failed: " + result);
            }
            idle.idle();
        }
    }

    @Override
    public void drain() {
        // offer copied the message into the log: nothing in flight refers to the send buffer
    }

    @Override
    public long receive() {
        sum = 0;
        position = 0;
        complete = false;
        while (!complete) {
            if (subscription.controlledPoll(handler, 64) == 0) {
                idle.idle();
            }
        }
        return sum;
    }

    private ControlledFragmentHandler.Action onFragment(org.agrona.DirectBuffer buffer, int offset, int length,
            io.aeron.logbuffer.Header header) {
        sum = Checksum.of(buffer, offset, length, position, sum);
        position += length;
        if ((header.flags() & FrameDescriptor.END_FRAG_FLAG) != 0) {
            complete = true;
            return ControlledFragmentHandler.Action.BREAK; // the next message is the next receive's
        }
        return ControlledFragmentHandler.Action.CONTINUE;
    }

    @Override
    public void close() {
        publication.close();
        subscription.close();
        aeron.close();
        if (driver != null) {
            driver.close();
        }
    }
}
