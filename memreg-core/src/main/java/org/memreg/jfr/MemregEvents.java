package org.memreg.jfr;

import java.util.Objects;
import jdk.jfr.Event;
import jdk.jfr.FlightRecorder;

/**
 * Emits memreg's JFR events at almost no cost when JFR is off. Each kind has a pair:
 * {@code xxxBegin()} returns a started event when a recording has that event enabled, else
 * {@code null} after one static check; {@code xxxEnd(event, ...)} does nothing for {@code null},
 * else fills the fields (only when the event passes its threshold) and commits. The event's
 * duration is the time between the two calls.
 * <pre>{@code
 * RegistrationEvent jfr = MemregEvents.registrationBegin();
 * MemoryRegion region = device.register(start, length, access);   // may throw
 * MemregEvents.registrationEnd(jfr, start, length, access, device.name(), null);
 * }</pre>
 * Arguments that cost something to compute (strings) are taken as objects and turned into text
 * only when the event is committed. Thread-safe: every event object belongs to its caller.
 *
 * <p>Until JFR is initialized (a recording started, on the command line or later) no event class
 * is loaded: the first JFR event class a JVM loads sets up JFR's Java side, 85-105 ms here, which
 * a process that records nothing paid at its first registration. Hence the helpers below take
 * {@code Object}, so that verifying this class loads no event class either.
 */
public final class MemregEvents {
    private MemregEvents() {
    }

    /** Never committed: asked isEnabled(), which reads the event class's static state only. */
    private static final class Probes {
        static final RegistrationEvent REGISTRATION = new RegistrationEvent();
        static final DeregistrationEvent DEREGISTRATION = new DeregistrationEvent();
        static final EvictionEvent EVICTION = new EvictionEvent();
        static final InvalidationEvent INVALIDATION = new InvalidationEvent();
    }

    /** Whether JFR is set up (a recording started): before that no event can be enabled, nor is any loaded. */
    private static boolean jfrSetUp() {
        return FlightRecorder.isInitialized();
    }

    private static <E> E started(E event) {
        ((Event) event).begin();
        return event;
    }

    /** Ends {@code event}; true when it is to be filled and committed (not null, over its threshold). */
    private static boolean ending(Object event) {
        if (event == null) {
            return false;
        }
        Event jfr = (Event) event;
        jfr.end();
        return jfr.shouldCommit();
    }

    /** A started registration event, or {@code null} when no recording enables it. */
    public static RegistrationEvent registrationBegin() {
        return jfrSetUp() && Probes.REGISTRATION.isEnabled() ? started(new RegistrationEvent()) : null;
    }

    /**
     * Ends and commits {@code event} (nothing for {@code null}).
     *
     * @param access  the rights asked for (its {@code toString} is recorded)
     * @param failure why the device refused, {@code null} when it registered
     */
    public static void registrationEnd(RegistrationEvent event, long address, long length, Object access,
            String device, Throwable failure) {
        if (ending(event)) {
            event.address = address;
            event.length = length;
            event.access = String.valueOf(access);
            event.device = device;
            event.failure = failure == null ? "" : failure.getClass().getSimpleName() + ": " + failure.getMessage();
            event.commit();
        }
    }

    /** A started deregistration event, or {@code null} when no recording enables it. */
    public static DeregistrationEvent deregistrationBegin() {
        return jfrSetUp() && Probes.DEREGISTRATION.isEnabled() ? started(new DeregistrationEvent()) : null;
    }

    /** Ends and commits {@code event} (nothing for {@code null}). */
    public static void deregistrationEnd(DeregistrationEvent event, long address, long length, String device,
            DeregistrationCause cause) {
        if (ending(event)) {
            event.address = address;
            event.length = length;
            event.device = device;
            event.cause = cause.label();
            event.commit();
        }
    }

    /** A started eviction-pass event, or {@code null} when no recording enables it. */
    public static EvictionEvent evictionBegin() {
        return jfrSetUp() && Probes.EVICTION.isEnabled() ? started(new EvictionEvent()) : null;
    }

    /**
     * Ends and commits {@code event} (nothing for {@code null}).
     *
     * @param cause one of the eviction causes ({@link DeregistrationCause#isEviction()})
     */
    public static void evictionEnd(EvictionEvent event, DeregistrationCause cause, long entriesEvicted,
            long bytesEvicted, long requestedLength) {
        if (ending(event)) {
            event.cause = cause.label();
            event.entriesEvicted = entriesEvicted;
            event.bytesEvicted = bytesEvicted;
            event.requestedLength = requestedLength;
            event.commit();
        }
    }

    /** A started invalidation event, or {@code null} when no recording enables it. */
    public static InvalidationEvent invalidationBegin() {
        return jfrSetUp() && Probes.INVALIDATION.isEnabled() ? started(new InvalidationEvent()) : null;
    }

    /**
     * Ends and commits {@code event} (nothing for {@code null}).
     *
     * @param cause what changed the memory: {@code explicit} for a call to {@code invalidate}, or
     *     the monitor's cause ({@code unmap}, {@code remove}, {@code remap}, {@code owned-memory})
     */
    public static void invalidationEnd(InvalidationEvent event, long address, long length, String cause,
            long entriesInvalidated) {
        if (ending(event)) {
            event.address = address;
            event.length = length;
            event.cause = Objects.requireNonNullElse(cause, "");
            event.entriesInvalidated = entriesInvalidated;
            event.commit();
        }
    }
}
