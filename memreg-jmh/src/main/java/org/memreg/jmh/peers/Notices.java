package org.memreg.jmh.peers;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongUnaryOperator;
import org.memreg.transport.Endpoint;
import org.memreg.transport.Node;
import org.memreg.transport.WindowKey;

/**
 * The tagged messages beside a one-sided link's data ({@link PutLink}, {@link MappedLink}): the
 * window key the two sides exchange first, then 16-byte notices, credits and 8-byte messages, each
 * two words. They go by {@link Endpoint#sendCopy}, and the receive for the next one is posted when
 * the link next waits for it, not between a message and the answer to it. The reading side's half
 * of the protocol is here too ({@link #receive}): a notice announces messages to read, or carries an
 * 8-byte message; credit goes back once all a notice announced is read.
 */
final class Notices implements AutoCloseable {
    private final Node node;
    private final Endpoint peer;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment out = arena.allocate(16, 8);
    private final MemorySegment in = arena.allocate(16, 8);
    private final MemorySegment creditIn = arena.allocate(16, 8);
    /** The posted receive of the next message, or null. */
    private CompletableFuture<Long> incoming;
    /** Reading side: messages read so far. */
    private long read;
    /** Reading side: messages the last notice announced and not read yet. */
    private int announced;

    Notices(Node node, Endpoint peer) {
        this.node = node;
        this.peer = peer;
    }

    /** The endpoint the messages go to. */
    Endpoint peer() {
        return peer;
    }

    /** Sends {@code first} and {@code second} as one 16-byte message under {@code tag}. */
    void send(long tag, long first, long second) {
        out.set(JAVA_LONG, 0, first);
        out.set(JAVA_LONG, 8, second);
        peer.sendCopy(tag, out);
    }

    /** Waits for the next message under {@code tag} and returns its first word ({@link #second()}: the other). */
    long next(long tag) throws Exception {
        if (incoming == null) {
            incoming = node.receive(tag, in);
        }
        incoming.get();
        incoming = null;
        return in.get(JAVA_LONG, 0);
    }

    /** The second word of the message {@link #next} returned. */
    long second() {
        return in.get(JAVA_LONG, 8);
    }

    /** The next 8-byte message under {@code tag} (two words: 0, then its value): its value. */
    long answer(long tag) throws Exception {
        next(tag);
        return second();
    }

    /**
     * Reading side: the next message. An 8-byte one comes as a notice of no messages: its value.
     * Otherwise {@code reader} reads the next announced message (given its number, from 0) where it
     * lies and returns its checksum; once all a notice announced is read, credit (the messages read)
     * goes back under {@code creditTag}.
     */
    long receive(long noticeTag, long creditTag, LongUnaryOperator reader) throws Exception {
        while (announced == 0) {
            long count = next(noticeTag);
            if (count == 0) {
                return second(); // an 8-byte message: its checksum is its value
            }
            announced = (int) count;
        }
        long sum = reader.applyAsLong(read++);
        if (--announced == 0) {
            send(creditTag, read, 0);
        }
        return sum;
    }

    /** The next credit under {@code tag} (messages the other side has read); credits come in order. */
    long credit(long tag) throws Exception {
        node.receive(tag, creditIn).get();
        return creditIn.get(JAVA_LONG, 0);
    }

    /** Sends {@code key} under {@code tag}. */
    void sendKey(long tag, WindowKey key) throws Exception {
        byte[] bytes = key.toBytes();
        MemorySegment message = arena.allocate(bytes.length);
        message.copyFrom(MemorySegment.ofArray(bytes));
        peer.send(tag, message).get();
    }

    /** The window key {@code node}'s peer sends under {@code tag}. */
    static WindowKey receiveKey(Node node, long tag) throws Exception {
        MemorySegment key = Arena.ofAuto().allocate(4096);
        long length = node.receive(tag, key).get();
        return WindowKey.fromBytes(key.asSlice(0, length).toArray(JAVA_BYTE), 0, (int) length);
    }

    /** Frees the buffers; after the node closed (no receive of theirs is left with UCX). */
    @Override
    public void close() {
        arena.close();
    }
}
