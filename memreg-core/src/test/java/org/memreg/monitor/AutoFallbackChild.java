package org.memreg.monitor;

import org.memreg.cache.RegistrationCache;
import org.memreg.device.SimulatedNic;

/** Opens a cache on the default monitor ({@code auto}) and prints which it got (child of {@link MonitorModesTest}). */
final class AutoFallbackChild {
    private AutoFallbackChild() {
    }

    public static void main(String[] args) {
        try (SimulatedNic nic = SimulatedNic.builder().free().build();
             RegistrationCache cache = RegistrationCache.builder(nic).statsName(null).build()) {
            System.out.println("monitor=" + cache.monitor().name());
            System.out.println("hookFailures=" + cache.monitor().stats().hookFailures());
        }
        for (MonitorSupport mode : MemoryMonitors.support()) {
            System.out.println("support." + mode.mode().label() + "=" + mode.available() + " " + mode.detail());
        }
    }
}
