package org.memreg.ucx;

import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.memreg.testkit.ChildJvm;

/**
 * {@link WireupGuardTest}'s victim, in a child JVM because what it guards against aborts the
 * process: a worker over TCP (without a token: anyone may connect) serves up to {@code args[0]}
 * {@link WireupLeaver}s one after another, each of which puts into its window and leaves while
 * this worker's wire-up reply waits on the connection, until {@code args[1]} of them did (one
 * can come too late: it read this worker's request within a progress call). This worker
 * progresses meanwhile, and for 2 s after each. Prints {@code leaver.N=} what each printed,
 * {@code requests=} how many left at that moment, {@code freed=} the wire-up messages the guard
 * freed, and {@code survived=true}.
 */
public final class WireupGuardProbe {
    private WireupGuardProbe() {
    }

    public static void main(String[] args) throws Exception {
        int leavers = Integer.parseInt(args[0]);
        int wanted = Integer.parseInt(args[1]);
        int requests = 0;
        int rw = Ucp.PROT_LOCAL_READ | Ucp.PROT_LOCAL_WRITE | Ucp.PROT_REMOTE_READ | Ucp.PROT_REMOTE_WRITE;
        try (UcxContext context = UcxContext.create(TcpGuardProbe.TCP); UcxWorker victim = UcxWorker.create(context);
             UcxMemory window = context.allocate(4096, rw)) {
            String address = HexFormat.of().formatHex(victim.address());
            String key = HexFormat.of().formatHex(window.packRkey());
            for (int i = 0; i < leavers && requests < wanted; i++) {
                List<String> command = new ArrayList<>(ChildJvm.javaCommand(WireupLeaver.class));
                command.addAll(List.of(address, key, String.valueOf(window.address())));
                ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
                builder.environment().put("UCX_LOG_LEVEL", "fatal");
                Process leaver = builder.start();
                while (leaver.isAlive()) {
                    victim.progress();
                    Thread.sleep(1); // answers at a moment of its own, not within a progress call of the leaver's
                }
                long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
                while (System.nanoTime() < until) {
                    victim.progress(); // UCX connects back to the leaver, which is gone: the endpoint fails
                }
                String said = new String(leaver.getInputStream().readAllBytes()).strip();
                System.out.println("leaver." + i + "=" + said.replace('\n', ' '));
                requests += said.contains("halted=request") ? 1 : 0;
            }
            System.out.println("requests=" + requests);
            System.out.println("freed=" + WireupGuard.freed());
            System.out.println("survived=true");
        }
    }
}
