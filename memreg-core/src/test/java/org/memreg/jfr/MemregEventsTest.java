package org.memreg.jfr;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.memreg.device.Access;
import org.memreg.testkit.ChildJvm;

class MemregEventsTest {
    @TempDir
    Path dir;

    @Test
    void shouldCostNothingWithoutARecording() {
        assertNull(MemregEvents.registrationBegin());
        assertNull(MemregEvents.deregistrationBegin());
        assertNull(MemregEvents.evictionBegin());
        assertNull(MemregEvents.invalidationBegin());
        MemregEvents.registrationEnd(null, 0, 0, Access.ALL, "none", null);
        MemregEvents.deregistrationEnd(null, 0, 0, "none", DeregistrationCause.CLOSED);
        MemregEvents.evictionEnd(null, DeregistrationCause.EVICTED_MAX_BYTES, 0, 0, 0);
        MemregEvents.invalidationEnd(null, 0, 0, "unmap", 0);
    }

    /**
     * A process that records nothing loads no event class, and so does not set up JFR's Java side
     * (85-105 ms at the first event class here), through a registration miss, hit and invalidation.
     */
    @Test
    void shouldLoadNoEventClassWithoutARecording() throws Exception {
        Path log = dir.resolve("classes.log");
        ChildJvm child = ChildJvm.run(List.of("-Xlog:class+load=info:file=" + log), NoRecordingProbe.class);
        assertEquals(1, child.value("done"));
        assertEquals(0, child.value("jfrInitialized"));
        String loaded = Files.readString(log);
        assertTrue(loaded.contains("org.memreg.jfr.MemregEvents "), "the probe went through MemregEvents");
        for (String eventClass : List.of("RegistrationEvent", "DeregistrationEvent", "EvictionEvent",
                "InvalidationEvent")) {
            assertFalse(loaded.contains("org.memreg.jfr." + eventClass + " "), eventClass + " was loaded");
        }
        assertFalse(loaded.contains("jdk.jfr.internal.JVM "), "JFR's Java side was set up");
    }

    @Test
    void shouldRecordEveryEventWithItsFields() throws Exception {
        Path file = dir.resolve("memreg.jfr");
        try (Recording recording = new Recording()) {
            for (String name : List.of(RegistrationEvent.NAME, DeregistrationEvent.NAME, EvictionEvent.NAME,
                    InvalidationEvent.NAME)) {
                recording.enable(name).withoutStackTrace();
            }
            recording.start();
            RegistrationEvent registration = MemregEvents.registrationBegin();
            Thread.sleep(2);
            MemregEvents.registrationEnd(registration, 0x7f00_0000_0000L, 65536, Access.LOCAL_WRITE, "simulated-nic", null);
            MemregEvents.registrationEnd(MemregEvents.registrationBegin(), 0x1000, 4096, Access.ALL, "mlock",
                    new IllegalStateException("pin budget"));
            EvictionEvent eviction = MemregEvents.evictionBegin();
            MemregEvents.deregistrationEnd(MemregEvents.deregistrationBegin(), 0x2000, 8192, "mlock",
                    DeregistrationCause.EVICTED_MAX_BYTES);
            MemregEvents.evictionEnd(eviction, DeregistrationCause.EVICTED_MAX_BYTES, 1, 8192, 65536);
            MemregEvents.invalidationEnd(MemregEvents.invalidationBegin(), 0x3000, 12288, "unmap", 3);
            recording.stop();
            recording.dump(file);
        }
        Map<String, List<RecordedEvent>> events = RecordingFile.readAllEvents(file).stream()
                .collect(Collectors.groupingBy(e -> e.getEventType().getName()));

        List<RecordedEvent> registrations = events.get(RegistrationEvent.NAME);
        assertEquals(2, registrations.size());
        RecordedEvent ok = registrations.stream().filter(e -> e.getLong("length") == 65536).findFirst().orElseThrow();
        assertEquals(0x7f00_0000_0000L, ok.getLong("address"));
        assertEquals(Access.LOCAL_WRITE.toString(), ok.getString("access"));
        assertEquals("simulated-nic", ok.getString("device"));
        assertEquals("", ok.getString("failure"));
        assertTrue(ok.getDuration().toNanos() >= 1_000_000, "the duration covers the device call: " + ok.getDuration());
        RecordedEvent refused = registrations.stream().filter(e -> e.getLong("length") == 4096).findFirst().orElseThrow();
        assertEquals("IllegalStateException: pin budget", refused.getString("failure"));
        assertEquals("memreg", ok.getEventType().getCategoryNames().getFirst());

        RecordedEvent deregistration = single(events, DeregistrationEvent.NAME);
        assertEquals(Map.of("address", 0x2000L, "length", 8192L), longs(deregistration, "address", "length"));
        assertEquals("evicted-max-bytes", deregistration.getString("cause"));
        assertEquals("mlock", deregistration.getString("device"));

        RecordedEvent evictionEvent = single(events, EvictionEvent.NAME);
        assertEquals("evicted-max-bytes", evictionEvent.getString("cause"));
        assertEquals(Map.of("entriesEvicted", 1L, "bytesEvicted", 8192L, "requestedLength", 65536L),
                longs(evictionEvent, "entriesEvicted", "bytesEvicted", "requestedLength"));

        RecordedEvent invalidation = single(events, InvalidationEvent.NAME);
        assertEquals(Map.of("address", 0x3000L, "length", 12288L, "entriesInvalidated", 3L),
                longs(invalidation, "address", "length", "entriesInvalidated"));
        assertEquals("unmap", invalidation.getString("cause"));
    }

    private static RecordedEvent single(Map<String, List<RecordedEvent>> events, String name) {
        List<RecordedEvent> list = events.get(name);
        assertEquals(1, list == null ? 0 : list.size(), name);
        return list.getFirst();
    }

    private static Map<String, Long> longs(RecordedEvent event, String... fields) {
        return List.of(fields).stream().collect(Collectors.toMap(Function.identity(), event::getLong));
    }
}
