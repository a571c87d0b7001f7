package org.memreg.jfr;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.memreg.cache.RegistrationCache;
import org.memreg.device.Access;
import org.memreg.device.MlockDevice;
import org.memreg.monitor.MemoryMonitor;

/**
 * Child of {@link MemregEventsTest}: a registration miss, a hit, an invalidation and a close, with
 * no recording; prints {@code jfrInitialized=0|1} and {@code done=1}.
 */
public final class NoRecordingProbe {
    private NoRecordingProbe() {
    }

    public static void main(String[] args) {
        MemorySegment page = Arena.global().allocate(4096, 4096);
        try (RegistrationCache cache = RegistrationCache.builder(MlockDevice.builder().build())
                .monitor(MemoryMonitor.NONE).statsName(null).build()) {
            cache.acquire(page, Access.LOCAL_READ).close();
            cache.acquire(page, Access.LOCAL_READ).close();
            cache.invalidate(page.address(), page.byteSize());
        }
        System.out.println("jfrInitialized=" + (jdk.jfr.FlightRecorder.isInitialized() ? 1 : 0));
        System.out.println("done=1");
    }
}
