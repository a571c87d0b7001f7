package org.memreg.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.memreg.linux.MemoryLock;
import org.memreg.linux.Pagemap;
import org.memreg.linux.ProcStatus;
import org.memreg.linux.Userfaultfd;
import org.memreg.monitor.MemoryMonitors;
import org.memreg.monitor.MonitorMode;
import org.memreg.testkit.Unprivileged;
import org.memreg.ucx.Ucp;

/**
 * {@code memreg info} through the real entry point: a row per capability, each saying whether it
 * works here and why not, and nothing misleading for root or for anyone else. The unprivileged run
 * repeats this as user 65534, where the other branch of each check applies.
 */
@Unprivileged
class InfoCommandTest {
    private static final boolean IPC_LOCK = (ProcStatus.effectiveCapabilities() & (1L << 14)) != 0;

    /** A row of the table: works column and details. */
    record Row(String works, String details) {}

    static Map<String, Row> rows(String out) {
        Map<String, Row> rows = new LinkedHashMap<>();
        List<String> lines = out.lines().toList();
        int header = lines.indexOf(lines.stream().filter(l -> l.startsWith("capability ")).findFirst().orElseThrow());
        int works = lines.get(header).indexOf("works");
        int details = lines.get(header).indexOf("details");
        for (String line : lines.subList(header + 1, lines.size())) {
            if (line.isBlank()) {
                break; // the table ends; the monitor modes follow
            }
            rows.put(line.substring(0, works).strip(), new Row(line.substring(works, details).strip(), line.substring(details)));
        }
        return rows;
    }

    @Test
    void shouldShowEveryCapabilityWithWhetherItWorks() throws Exception {
        MainTest.Result result = MemregProcess.run("info");
        assertEquals(0, result.status(), result.err());
        System.out.print(result.out());
        assertTrue(result.out().startsWith("memreg info: what this process may use, as uid " + ProcStatus.effectiveUid()),
                result.out());
        Map<String, Row> rows = rows(result.out());
        assertEquals(InfoCommand.ROWS.stream().map(InfoCommand.Row::name).toList(), List.copyOf(rows.keySet()));
        rows.forEach((name, row) -> {
            assertTrue(List.of("yes", "no", "-").contains(row.works()), name + ": " + row);
            assertTrue(!row.details().isBlank() && !row.details().startsWith("could not tell"), name + ": " + row);
        });
        assertEquals(Userfaultfd.probeMode(true).available() ? "yes" : "no", rows.get("userfaultfd (user mode only)").works());
        assertEquals(Userfaultfd.probeMode(false).available() ? "yes" : "no", rows.get("userfaultfd (all faults)").works());
        boolean monitored = MemoryMonitors.support().stream().anyMatch(m -> m.available()
                && (m.mode() == MonitorMode.HOOKS || m.mode() == MonitorMode.USERFAULTFD));
        assertEquals(monitored ? "yes" : "no", rows.get("memory monitor").works());
        assertTrue(rows.get("memory monitor").details().contains(monitored
                ? "caches see munmap" : "only through invalidate()"), rows.get("memory monitor").toString());
        assertEquals(Pagemap.pfnsVisible() ? "yes" : "no", rows.get("physical frames").works());
        assertEquals(Ucp.isAvailable() ? "yes" : "no", rows.get("UCX").works());
        if (Ucp.isAvailable()) {
            assertTrue(rows.get("UCX").details().startsWith("OpenUCX " + Ucp.version()), rows.get("UCX").toString());
        }
        assertTrue(rows.get("NUMA nodes").details().matches("(one node|\\d+ nodes) \\(.*"), rows.get("NUMA nodes").toString());
        assertTrue(rows.get("huge pages").details().contains("transparent huge pages"), rows.get("huge pages").toString());
    }

    @Test
    void shouldNotCallRlimitMemlockTheBoundWhereItDoesNotApply() throws Exception {
        Map<String, Row> rows = rows(MemregProcess.run("info").out());
        String rlimit = rows.get("RLIMIT_MEMLOCK").details();
        String bound = rows.get("pin bound").details();
        long soft = MemoryLock.memlockLimit().soft();
        if (IPC_LOCK) { // root: a cache without maxBytes locked far past the 8 MiB the old info showed
            assertTrue(rlimit.endsWith("does not apply here, CAP_IPC_LOCK lets this process lock past it"), rlimit);
            assertTrue(bound.contains("a quarter of memory"), bound);
        } else if (soft != MemoryLock.RLIM_INFINITY) {
            assertTrue(rlimit.endsWith("the most this process may lock (it lacks CAP_IPC_LOCK)"), rlimit);
            assertTrue(bound.contains("RLIMIT_MEMLOCK, enforced by the kernel"), bound);
            assertTrue(bound.contains("ulimit -l"), "how to raise it: " + bound);
        }
        assertTrue(bound.contains("raise"), bound);
    }

    @Test
    void shouldSayWhyTheFullUserfaultfdIsRefused() throws Exception {
        Map<String, Row> rows = rows(MemregProcess.run("info").out());
        Row full = rows.get("userfaultfd (all faults)");
        if (full.works().equals("no")) {
            assertTrue(full.details().contains("CAP_SYS_PTRACE") && full.details().contains("vm.unprivileged_userfaultfd"),
                    full.toString());
        }
        Row counters = rows.get("counters directory");
        assertTrue(counters.details().contains(counters.works().equals("yes") ? "is writable" : "-Dmemreg.stat.dir=DIR"),
                counters.toString());
    }
}
