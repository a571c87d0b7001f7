package org.memreg.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import org.memreg.cache.RegistrationCacheBuilder;
import org.memreg.config.Settings;
import org.memreg.linux.MemoryLock;
import org.memreg.linux.Pagemap;
import org.memreg.linux.ProcStatus;
import org.memreg.linux.SysConf;
import org.memreg.monitor.MemoryMonitors;
import org.memreg.monitor.MonitorSupport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code memreg info}: what this machine gives memreg to work with. */
@Command(name = "info", description = "Show the page size, pin limit, memory monitors and what memreg can use here.")
final class InfoCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        MemoryLock.Limit limit = MemoryLock.memlockLimit();
        out.printf("page size            %d bytes%n", SysConf.pageSize());
        out.printf("RLIMIT_MEMLOCK       soft %s, hard %s%n", format(limit.soft()), format(limit.hard()));
        out.printf("locked now (VmLck)   %s%n", Settings.formatBytes(ProcStatus.vmLockedBytes()));
        out.printf("physical frames      %s%n", Pagemap.pfnsVisible()
                ? "visible in /proc/self/pagemap: the simulated NIC detects stale pages"
                : "hidden (not root): the simulated NIC only sees pages that are gone");
        out.printf("memory monitors      (%s)%n", RegistrationCacheBuilder.MONITOR_PROP_NAME);
        for (MonitorSupport mode : MemoryMonitors.support()) {
            out.printf("  %-18s %s%s%n", mode.mode().label(), mode.available() ? "works" : "unavailable",
                    mode.detail().isEmpty() ? "" : ": " + mode.detail());
        }
        out.flush();
        return 0;
    }

    private static String format(long bytes) {
        return bytes == MemoryLock.RLIM_INFINITY ? "unlimited" : Settings.formatBytes(bytes);
    }
}
