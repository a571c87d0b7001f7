package org.memreg.jfr;

import java.util.Objects;
import jdk.jfr.Event;

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
 */
public final class MemregEvents {
    // Never committed: asked isEnabled(), which reads the event class's static state only.
    private static final RegistrationEvent REGISTRATION = new RegistrationEvent();
    private static final DeregistrationEvent DEREGISTRATION = new DeregistrationEvent();
    private static final EvictionEvent EVICTION = new EvictionEvent();
    private static final InvalidationEvent INVALIDATION = new InvalidationEvent();

    private MemregEvents() {
    }

    private static <E extends Event> E started(E event) {
        event.begin();
        return event;
    }

    /** Ends {@code event}; true when it is to be filled and committed (not null, over its threshold). */
    private static boolean ending(Event event) {
        if (event == null) {
            return false;
        }
        event.end();
        return event.shouldCommit();
    }

    /** A started registration event, or {@code null} when no recording enables it. */
    public static RegistrationEvent registrationBegin() {
        return REGISTRATION.isEnabled() ? started(new RegistrationEvent()) : null;
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
        return DEREGISTRATION.isEnabled() ? started(new DeregistrationEvent()) : null;
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
        return EVICTION.isEnabled() ? started(new EvictionEvent()) : null;
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
        return INVALIDATION.isEnabled() ? started(new InvalidationEvent()) : null;
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
