package org.memreg.jmh.peers;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemorySegment;
import org.memreg.transport.Endpoint;
import org.memreg.transport.Node;
import org.memreg.transport.RemoteWindow;
import org.memreg.transport.Window;

/**
 * A link whose messages of more than 8 bytes go through memory, not through messages
 * ({@link PutLink}, {@link MappedLink}): the client makes each one readable ({@link #write}),
 * and every batch of messages (or before it waits for an answer) tells the server
 * how many to read with a notice; the server reads each where it lies ({@link #read}) and returns
 * credit, without which the client keeps no more than {@code inFlight} messages past it. 8-byte
 * messages (pings, answers, goodbyes) go as notices both ways ({@link Notices}). The side that
 * allocated the window the messages lie in sends its key first, and closes it before its node.
 * Default configuration (progress thread on, the caller blocks in {@code get()}).
 */
abstract class OneSidedLink implements Link {
    static final long KEY = 21, NOTICE = 22, CREDIT = 23, SMALL = 24;
    final Node node;
    final Notices notices;
    private final Bytes out;
    private final boolean client;
    private final int inFlight;
    /** Client: messages per notice. */
    private final int batchSize;
    /** The window this side allocated, or null. */
    private final Window own;
    /** Client: messages written. */
    private long sequence;
    /** Client: messages since the last notice. */
    private int batch;
    /** Client: messages the server has read (its last credit). */
    private long credited;
    /** Client: what message {@link #sequence} is written from: {@link #out}, or the memory claimed for it. */
    private MemorySegment current;

    /**
     * The most a ring of slots takes, unless {@code -Dbench.ringBytes=BYTES} says otherwise: 32 MiB,
     * which the two cores' writes and reads find in the caches here. A ring of 16 slots of 16 MiB
     * (256 MiB) went to memory and back: {@code memreg-mapped} moved 5,800-6,000 MiB/s of fresh
     * 16 MiB messages with it, 13,600 with 2 slots (BENCHMARKS.md, issue 14, run twenty-four).
     */
    static final long RING_BYTES = 32L << 20;

    /**
     * The slots of a ring for messages of {@code bytes}: {@code 2 × DEPTH}, fewer to stay within
     * {@link #RING_BYTES}, at least 2.
     */
    static int ringSlots(long bytes) {
        long ring = Long.getLong("bench.ringBytes", RING_BYTES);
        return (int) Math.max(2, Math.min(2L * PeerBench.DEPTH, ring / Math.max(8, bytes)));
    }

    /**
     * {@code slots} slots of {@code bytes} each, which the peer's window {@code remote} must hold
     * (both sides count them alike: {@link #ringSlots}, one for a buffer never rewritten).
     */
    static int slotsIn(RemoteWindow remote, int slots, long bytes) {
        if (remote.key().length() < slots * bytes) {
            throw new IllegalStateException("the peer's window of " + remote.key().length() + " bytes holds no " + slots
                    + " slots of " + bytes + " bytes: do both sides run with the same -Dbench.ringBytes?");
        }
        return slots;
    }

    /**
     * Messages per notice for a ring of {@code slots}: half of them (at most DEPTH), so that the
     * client writes one half while the server reads the other.
     */
    static int batch(int slots) {
        return Math.max(1, Math.min(PeerBench.DEPTH, slots / 2));
    }

    /**
     * With {@code own}, the window this side allocated (or null), whose key goes to the peer now; a
     * notice per {@code batchSize} messages, no more than {@code inFlight} past the server's credit
     * ({@code batchSize ≤ inFlight}, or the client would wait for credit the server cannot give).
     */
    OneSidedLink(Node node, Endpoint peer, Bytes out, boolean client, int inFlight, int batchSize, Window own)
            throws Exception {
        if (batchSize < 1 || batchSize > inFlight) {
            throw new IllegalArgumentException("a notice per " + batchSize + " messages, " + inFlight + " in flight");
        }
        this.node = node;
        this.notices = new Notices(node, peer);
        this.out = out;
        this.client = client;
        this.inFlight = inFlight;
        this.batchSize = batchSize;
        this.current = out.segment();
        this.own = own;
        if (own != null) {
            notices.sendKey(KEY, own.key());
        }
    }

    /** Client: makes message {@code n}, which lies in {@code message}, readable by the server. */
    abstract void write(long n, MemorySegment message) throws Exception;

    /**
     * Client: where the sender writes message {@code n} anew ({@link #claim}); no more than
     * {@code inFlight} messages after the last one the server read.
     */
    abstract MemorySegment slot(long n, int length);

    /** Client: what must be done before a notice announces the messages written since the last one. */
    void beforeNotice() throws Exception {
    }

    /** Server: reads message {@code n} where it lies; its checksum. */
    abstract long read(long n);

    @Override
    public Bytes out() {
        return out;
    }

    @Override
    public void send(int length) throws Exception {
        if (length <= 8) {
            notices.send(client ? NOTICE : SMALL, 0, out.segment().get(JAVA_LONG, 0));
            return;
        }
        if (!client) {
            throw new IllegalStateException("the server sends only 8-byte answers");
        }
        awaitCredit();
        write(sequence++, current.asSlice(0, length));
        current = out().segment();
        if (++batch == batchSize) {
            notice();
        }
    }

    /** Client: the memory of message {@link #sequence}, once the message that last lay there is read. */
    @Override
    public MemorySegment claim(int length) throws Exception {
        awaitCredit();
        return current = slot(sequence, length);
    }

    private void awaitCredit() throws Exception {
        while (sequence - credited >= inFlight) { // the server reads them until it credits them
            credited = notices.credit(CREDIT);
        }
    }

    private void notice() throws Exception {
        if (batch > 0) {
            beforeNotice();
            notices.send(NOTICE, batch, 0);
            batch = 0;
        }
    }

    @Override
    public void drain() throws Exception {
        if (client) {
            notice();
        }
    }

    @Override
    public long receive() throws Exception {
        if (client) { // the client waits for an 8-byte answer; its messages must be announced first
            notice();
            return notices.answer(SMALL);
        }
        return notices.receive(NOTICE, CREDIT, this::read);
    }

    @Override
    public void close() {
        if (own != null) {
            own.close();
        }
        node.close();
        notices.close();
    }
}
