package org.memreg.monitor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.memreg.testkit.ChildJvm;

/**
 * {@code memreg.cache.monitor}: every mode by name, {@code auto} choosing hooks and userfaultfd
 * where both work, and falling back to userfaultfd alone, with a log line and a counter, where
 * the hooks do not (here: UCM's events turned off in the environment, in a child JVM).
 */
class MonitorModesTest {
    @Test
    void shouldOpenEveryModeByNameAndRefuseOthers() {
        for (MonitorMode mode : MonitorMode.values()) {
            try (MemoryMonitor monitor = MemoryMonitors.named(" " + mode.label().toUpperCase() + " ", "m")) {
                String expected = mode == MonitorMode.AUTO ? "hooks+userfaultfd" : mode.label();
                assertEquals(expected, monitor.name(), mode.toString());
                assertEquals(mode == MonitorMode.STRICT, monitor.confirmsHits());
            }
        }
        assertEquals(MonitorMode.USERFAULTFD, MonitorMode.parse("uffd", "m"));
        assertEquals(MonitorMode.HOOKS_AND_USERFAULTFD, MonitorMode.parse("hooks+uffd", "m"));
        assertEquals(MonitorMode.NONE, MonitorMode.parse("off", "m"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> MemoryMonitors.named("kdreg2", "memreg.cache.monitor"));
        assertTrue(e.getMessage().contains("memreg.cache.monitor=kdreg2 is not auto, hooks"), e.getMessage());
    }

    @Test
    void shouldSayWhichModesWorkHereAndWhy() {
        List<MonitorSupport> support = MemoryMonitors.support();
        assertEquals(List.of(MonitorMode.values()), support.stream().map(MonitorSupport::mode).toList());
        assertTrue(support.stream().allMatch(MonitorSupport::available), support.toString());
        assertTrue(support.getFirst().detail().startsWith("uses hooks+userfaultfd"), support.getFirst().detail());
    }

    @Test
    void autoShouldFallBackToUserfaultfdAndSaySoWhenTheHooksAreOff() throws Exception {
        ChildJvm child = ChildJvm.run(Map.of("UCX_MEM_EVENTS", "no"), List.of(), AutoFallbackChild.class);
        assertEquals("userfaultfd", child.text("monitor"));
        assertEquals(1, child.value("hookFailures"), "counted");
        assertTrue(child.lines().stream().anyMatch(l -> l.contains("memory hooks unavailable: UCM's memory events are off")),
                "a log line says why");
        assertTrue(child.text("support.hooks").startsWith("false UCM's memory events are off"), child.text("support.hooks"));
        assertTrue(child.text("support.hooks+userfaultfd").startsWith("false "));
        assertTrue(child.text("support.strict").startsWith("true"), child.text("support.strict"));
    }
}
