package org.memreg.ucx;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;
import org.memreg.util.NativeResource;

/**
 * The memory a peer may reach over UCX's TCP transport ({@code src/main/native/memreg_exposed.c},
 * in {@link GuardLibrary}): the TCP guard refuses a put or get anywhere else ({@link
 * FrameFault#UNEXPOSED_WRITE}, {@link FrameFault#UNEXPOSED_READ}). Over TCP, UCX's put and UCP's
 * software put and get carry a raw address and no key the receiver checks; without this a peer
 * wrote and read wherever it named.
 *
 * <p>Memory is exposed once its remote key is packed ({@link UcxContext}: handing a key out is
 * what makes memory reachable), with the remote rights it was mapped with, and withdrawn before it
 * is unmapped. Nothing else needs to be: with UCT's put over TCP off ({@link UcxContext}), UCP
 * 1.13 moves a rendezvous over TCP in active messages addressed to a request, not by a put into
 * the receiver's buffer. A process is one trust domain: what one context exposes, a peer of any of
 * its workers may reach.
 */
final class ExposedMemory {
    private static final int READ = 0x1;
    private static final int WRITE = 0x2;
    private static final NativeResource LIBRARY = GuardLibrary.LIBRARY;
    private static final MethodHandle EXPOSE = LIBRARY.downcall("memreg_expose",
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT));
    private static final MethodHandle WITHDRAW = LIBRARY.downcall("memreg_withdraw",
            FunctionDescriptor.ofVoid(JAVA_LONG));

    private ExposedMemory() {
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
        try {
            WITHDRAW.invokeExact(memory.memh());
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
