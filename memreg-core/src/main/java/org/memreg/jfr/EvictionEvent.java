package org.memreg.jfr;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;

/**
 * One eviction pass: unused registrations deregistered, least recently used first, to make room
 * for a new one. Each deregistration also has its own {@link DeregistrationEvent}. Emit through
 * {@link MemregEvents#evictionBegin()} and {@link MemregEvents#evictionEnd}.
 */
@Name(EvictionEvent.NAME)
@Label("Eviction")
@Category("memreg")
@Description("The cache evicted unused registrations to make room; the duration is the whole pass")
public final class EvictionEvent extends Event {
    /** The event type's name. */
    public static final String NAME = "org.memreg.Eviction";

    @Label("Cause")
    @Description("evicted-device-limit, evicted-max-bytes or evicted-max-entries")
    String cause;

    @Label("Entries Evicted")
    long entriesEvicted;

    @Label("Bytes Evicted")
    @DataAmount
    long bytesEvicted;

    @Label("Requested Length")
    @Description("Bytes of the registration that needed the room")
    @DataAmount
    long requestedLength;
}
