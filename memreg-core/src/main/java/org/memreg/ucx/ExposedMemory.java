package org.memreg.ucx;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import org.memreg.util.NativeResource;

/**
 * The memory a peer may reach through a put or get that names a raw address ({@code
 * src/main/native/memreg_exposed.c} and {@code memreg_receive_guard.c}, in {@link GuardLibrary}):
 * over TCP the TCP guard refuses one anywhere else ({@link FrameFault#UNEXPOSED_WRITE}, {@link
 * FrameFault#UNEXPOSED_READ}); over every transport the guard in front of UCP's software put and
 * get handlers drops one ({@code memreg_rma_guard.c}, {@link #softwarePutsRefused}, {@link
 * #softwareGetsRefused}). UCX's put over TCP and UCP's software put and get (shared memory without
 * CMA) carry a raw address and no key the receiver checks; without this a peer wrote and read
 * wherever it named, and a put issued before a window's revocation was written into the window's
 * memory after its owner freed it (SIGSEGV).
 *
 * <p>Two kinds of memory are exposed. Memory whose remote key is packed ({@link UcxContext}:
 * handing a key out is what makes memory reachable), with the remote rights it was mapped with,
 * until it is unmapped. And a receive buffer, for writing, while UCP has a rendezvous put into it:
 * the guard library takes libucp's {@code ucp_request_memory_reg} and {@code _dereg} (called
 * through its PLT), exposes a receive request's buffer as UCP registers it for the put, before the
 * ready-to-receive names it to the sender, and withdraws it as UCP deregisters it (the receive
 * completes, or its endpoint's requests are purged) or the context is cleaned up. A send buffer is
 * never exposed. A process is one trust domain: what one context exposes, a peer of any of its
 * workers may reach, a receive buffer in a rendezvous included (as any peer may send the receive
 * a message).
 */
final class ExposedMemory {
    private static final int READ = 0x1;
    private static final int WRITE = 0x2;
    private static final NativeResource LIBRARY = GuardLibrary.LIBRARY;
    private static final MethodHandle EXPOSE = LIBRARY.downcall("memreg_expose",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT));
    private static final MethodHandle WITHDRAW = LIBRARY.downcall("memreg_withdraw",
            FunctionDescriptor.ofVoid(JAVA_LONG));
    private static final MethodHandle WITHDRAW_OWNER = LIBRARY.downcall("memreg_withdraw_owner",
            FunctionDescriptor.ofVoid(JAVA_LONG));
    private static final MethodHandle INSTALL = LIBRARY.downcall("memreg_receive_install",
            FunctionDescriptor.ofVoid(JAVA_LONG, JAVA_LONG));
    private static final MethodHandle RECEIVES_EXPOSED = LIBRARY.downcall("memreg_receives_exposed",
            FunctionDescriptor.of(JAVA_LONG));
    private static final MethodHandle REACHES = LIBRARY.downcall("memreg_exposed_reaches",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT));
    private static final MethodHandle RMA_INSTALL = LIBRARY.downcall("memreg_rma_install",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
    private static final MethodHandle RMA_REFUSED = LIBRARY.downcall("memreg_rma_refused",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT));

    private ExposedMemory() {
    }

    /**
     * Hands the guard libucp's own {@code ucp_request_memory_reg} and {@code ucp_request_memory_dereg},
     * and puts it in front of the software put and get request entries of libucp's {@code ucp_am_handlers}.
     */
    static void install(SymbolLookup libucp) {
        GuardLibrary.call(INSTALL, GuardLibrary.ucxFunction(libucp, "ucp_request_memory_reg"),
                GuardLibrary.ucxFunction(libucp, "ucp_request_memory_dereg"));
        int taken;
        try {
            taken = (int) RMA_INSTALL.invokeExact(GuardLibrary.ucxFunction(libucp, "ucp_am_handlers"));
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        GuardLibrary.requireTaken(taken, "software put or get handler (with its counting proxy)");
    }

    /** Software puts (UCP's active messages) dropped for memory not exposed to writes. */
    static long softwarePutsRefused() {
        return GuardLibrary.counter(RMA_REFUSED, 0);
    }

    /** Software get requests dropped for memory not exposed to reads. */
    static long softwareGetsRefused() {
        return GuardLibrary.counter(RMA_REFUSED, 1);
    }

    /** Peers may reach {@code memory} as its {@code ucp_mem_map} rights allow (0: UCX's default, all). */
    static void expose(UcxMemory memory) {
        int prot = memory.prot();
        int rights = prot == 0 ? READ | WRITE
                : ((prot & Ucp.PROT_REMOTE_READ) != 0 ? READ : 0) | ((prot & Ucp.PROT_REMOTE_WRITE) != 0 ? WRITE : 0);
        int result;
        try {
            result = (int) EXPOSE.invokeExact(memory.memh(), memory.address(), memory.length(), rights);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
        if (result != 0) {
            throw new OutOfMemoryError("no room to note memory exposed to peers: " + memory);
        }
    }

    /** No peer reaches {@code memory} from now on (it is about to be unmapped). */
    static void withdraw(UcxMemory memory) {
        GuardLibrary.call(WITHDRAW, memory.memh());
    }

    /** No peer reaches a receive buffer of {@code context}'s any more (it is about to be cleaned up). */
    static void withdrawReceives(long context) {
        GuardLibrary.call(WITHDRAW_OWNER, context);
    }

    /** Receive buffers exposed so far in this process, each while UCP had a rendezvous put into it. */
    static long receivesExposed() {
        return GuardLibrary.counter(RECEIVES_EXPOSED);
    }

    /** Whether a peer may now write ({@code write}) or read {@code [address, address + length)}. */
    static boolean reaches(long address, long length, boolean write) {
        try {
            return (int) REACHES.invokeExact(address, length, write ? WRITE : READ) != 0;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
