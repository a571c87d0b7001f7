package org.memreg.ucx;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@link IdGuardTest}'s child: threads make and destroy workers ({@code args[0]} threads of
 * {@code args[1]} workers each) while another has a worker's request ids drawn afresh without
 * pause, so that the id guard's lock is contended as workers go. Prints {@code workers=} and
 * {@code survived=true}; a guard that loses an argument on the way to UCP's own map destroy ends
 * the process (SIGSEGV in libucs).
 */
public final class WorkerChurnProbe {
    public static void main(String[] args) throws Exception {
        int threads = Integer.parseInt(args[0]);
        int workers = Integer.parseInt(args[1]);
        AtomicBoolean done = new AtomicBoolean();
        try (UcxContext context = UcxContext.create(Map.of("NET_DEVICES", "lo"));
             UcxWorker steady = UcxWorker.create(context)) {
            Thread shuffler = Thread.ofPlatform().start(() -> {
                while (!done.get()) {
                    IdGuard.shuffle(steady.handle());
                }
            });
            List<Thread> churn = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                churn.add(Thread.ofPlatform().start(() -> {
                    for (int i = 0; i < workers; i++) {
                        UcxWorker.create(context).close();
                    }
                }));
            }
            for (Thread thread : churn) {
                thread.join();
            }
            done.set(true);
            shuffler.join();
        }
        System.out.println("workers=" + threads * workers);
        System.out.println("survived=true");
    }
}
