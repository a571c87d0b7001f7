package org.memreg.testkit;

import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;
import org.memreg.monitor.HookMonitor;

/**
 * Installs UCM's memory hooks before the first test and keeps a monitor on them until the last,
 * so that the whole suite (transport, NUMA, ODP, every cache) runs with libc's munmap, mremap,
 * madvise and mmap(MAP_FIXED) patched, as an application using the default monitor would. Fails
 * the run when the hooks cannot be installed, unless {@code -Dmemreg.test.hooks=false}.
 */
public final class HooksInstalled implements LauncherSessionListener {
    private HookMonitor monitor;

    @Override
    public void launcherSessionOpened(LauncherSession session) {
        if (!Boolean.parseBoolean(System.getProperty("memreg.test.hooks", "true"))) {
            System.out.println("memreg tests: UCM hooks not installed for the suite (-Dmemreg.test.hooks=false)");
            return;
        }
        monitor = HookMonitor.open(); // throws, failing the run, when they cannot be
        String check = HookMonitor.checkHooks();
        if (check != null) {
            throw new IllegalStateException("UCM hooks installed but not working: " + check);
        }
        System.out.println("memreg tests: the suite runs with UCM's memory hooks installed and checked");
    }

    @Override
    public void launcherSessionClosed(LauncherSession session) {
        if (monitor != null) {
            System.out.println("memreg tests: the hooks' handler ran " + monitor.handlerCalls()
                    + " times for this process's unmaps");
            monitor.close();
        }
    }
}
