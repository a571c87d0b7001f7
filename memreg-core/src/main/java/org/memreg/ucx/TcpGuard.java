package org.memreg.ucx;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import org.memreg.util.NativeResource;

/**
 * memreg's guard over UCX's TCP transport ({@code src/main/native/memreg_tcp_guard.c}, in {@link
 * GuardLibrary}): a connection to the TCP listener of a worker that requires a token must open
 * with that token, or it is reset before UCX reads a byte of it; and on the connections of
 * memreg's workers no frame UCX would abort on gets through.
 *
 * <p>UCX 1.13's TCP interface believes whoever connects to its port: a plain socket that sent
 * UCX's magic number and a frame of an unexpected kind aborted the process, and a UCX put over
 * TCP wrote into memory the receiver never registered. The library defines the libucs socket
 * calls libuct makes through its PLT ({@link #install} hands it libucs's own): it shows a
 * listener's token on connections to it and checks the token on connections accepted. On every
 * connection accepted at a listener it knows (a worker's own), and on every connection UCX makes
 * (to a peer's listener or wherever a peer's message says), it reads UCX's frames, both ways,
 * before UCX parses them ({@code memreg_tcp_frames.c}), after the token if there is one: a frame
 * UCX would abort on ends the connection ({@link #framesRefused}), whoever sent it, and so does a
 * put or get of memory not exposed to peers ({@link ExposedMemory}) and a UCP message naming an
 * endpoint or request of this process's by a direct id ({@link FrameFault#DIRECT_ID}). The token
 * keeps strangers out; a peer that holds it is still trusted with what UCP's other messages say.
 * The guard also reports a send to a peer that left as sent ({@link #sendsToDeparted}).
 */
final class TcpGuard {
    /** Bytes of a token. */
    static final int TOKEN_BYTES = 16;
    private static final String[] SOCKET_CALLS = {"ucs_socket_accept", "ucs_socket_connect", "ucs_socket_send",
        "ucs_socket_send_nb", "ucs_socket_sendv_nb", "ucs_socket_recv_nb"};

    private static final NativeResource LIBRARY = GuardLibrary.LIBRARY;
    private static final MethodHandle REQUIRE = LIBRARY.downcall("memreg_tcp_require",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT));
    private static final MethodHandle FORGET = LIBRARY.downcall("memreg_tcp_forget",
            FunctionDescriptor.ofVoid(JAVA_LONG, JAVA_LONG));
    private static final MethodHandle GUARDED = LIBRARY.downcall("memreg_tcp_guarded",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle INSTALL = LIBRARY.downcall("memreg_tcp_install",
            FunctionDescriptor.ofVoid(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle ADMITTED = LIBRARY.downcall("memreg_tcp_admitted",
            FunctionDescriptor.of(JAVA_LONG));
    private static final MethodHandle REFUSED = LIBRARY.downcall("memreg_tcp_refused",
            FunctionDescriptor.of(JAVA_LONG));
    private static final MethodHandle SHOWN = LIBRARY.downcall("memreg_tcp_shown",
            FunctionDescriptor.of(JAVA_LONG));
    private static final MethodHandle SENDS_TO_DEPARTED = LIBRARY.downcall("memreg_tcp_sends_to_departed",
            FunctionDescriptor.of(JAVA_LONG));
    private static final MethodHandle PUTS_ADMITTED = LIBRARY.downcall("memreg_tcp_puts_admitted",
            FunctionDescriptor.of(JAVA_LONG));
    private static final MethodHandle FRAMES_REFUSED = LIBRARY.downcall("memreg_tcp_frames_refused",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT));

    private TcpGuard() {
    }

    /** Hands the guard libucs's own socket calls, found in {@code libucs}. */
    static void install(SymbolLookup libucs) {
        long[] real = new long[SOCKET_CALLS.length];
        for (int i = 0; i < real.length; i++) {
            real[i] = GuardLibrary.ucxFunction(libucs, SOCKET_CALLS[i]);
        }
        try {
            INSTALL.invokeExact(real[0], real[1], real[2], real[3], real[4], real[5]);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * The TCP listeners named in {@code workerAddress} are guarded: UCX's frames on their
     * connections are checked, and with a {@code token} (else null) it is required: with {@code
     * own}, the listeners of a worker of this process, which then refuse connections without it
     * (and which the process's workers show it); else a peer's, shown it when UCX connects there
     * (a peer's listener known with a token keeps it).
     *
     * @return how many TCP listeners the address names
     * @throws IllegalArgumentException when the address is not one UCX can be given, or the token not 16 bytes
     */
    static int require(MemorySegment workerAddress, byte[] token, boolean own) {
        if (token != null && token.length != TOKEN_BYTES) {
            throw new IllegalArgumentException("a TCP token is " + TOKEN_BYTES + " bytes, not " + token.length);
        }
        try (Arena arena = Arena.ofConfined()) {
            long bytes = token == null ? 0 : arena.allocateFrom(JAVA_BYTE, token).address();
            int count = (int) REQUIRE.invokeExact(workerAddress.address(), workerAddress.byteSize(), bytes, own ? 1 : 0);
            if (count < 0) {
                throw new IllegalArgumentException("not a UCX worker address: " + AddressGuard.check(workerAddress));
            }
            return count;
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** The worker of this process at {@code workerAddress} is gone: its listeners are guarded no more. */
    static void forget(MemorySegment workerAddress) {
        try {
            FORGET.invokeExact(workerAddress.address(), workerAddress.byteSize());
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** How many of the TCP listeners of {@code workerAddress}, a worker's of this process, require a token now. */
    static int guarded(byte[] workerAddress) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment bytes = arena.allocateFrom(JAVA_BYTE, workerAddress);
            return (int) GUARDED.invokeExact(bytes.address(), bytes.byteSize());
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Connections to this process's listeners admitted with the right token. */
    static long admitted() {
        return GuardLibrary.counter(ADMITTED);
    }

    /** Connections to this process's listeners refused: a wrong token, or none. */
    static long refused() {
        return GuardLibrary.counter(REFUSED);
    }

    /** Tokens this process showed on connections it made. */
    static long shown() {
        return GuardLibrary.counter(SHOWN);
    }

    /** Guarded connections ended for a frame UCX would have aborted on, of one {@link FrameFault}. */
    static long framesRefused(FrameFault fault) {
        return GuardLibrary.counter(FRAMES_REFUSED, fault.ordinal());
    }

    /** UCT put requests over TCP let through, into memory exposed to peers. */
    static long putsAdmitted() {
        return GuardLibrary.counter(PUTS_ADMITTED);
    }

    /** Guarded connections ended for any frame. */
    static long framesRefused() {
        return framesRefused(FrameFault.ANY);
    }

    /**
     * Sends to a peer that had closed or reset the connection, reported to UCX as sent: UCX made
     * such a failure fatal when it answered that peer (a software put's completion), and learns
     * of the loss on its next read of the connection instead.
     */
    static long sendsToDeparted() {
        return GuardLibrary.counter(SENDS_TO_DEPARTED);
    }
}
