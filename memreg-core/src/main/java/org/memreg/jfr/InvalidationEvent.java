package org.memreg.jfr;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.MemoryAddress;
import jdk.jfr.Name;

/**
 * Registrations invalidated because their memory changed. Emit through
 * {@link MemregEvents#invalidationBegin()} and {@link MemregEvents#invalidationEnd}.
 */
@Name(InvalidationEvent.NAME)
@Label("Invalidation")
@Category("memreg")
@Description("The cache invalidated the registrations overlapping a range whose memory changed")
public final class InvalidationEvent extends Event {
    /** The event type's name. */
    public static final String NAME = "org.memreg.Invalidation";

    @Label("Address")
    @MemoryAddress
    long address;

    @Label("Length")
    @DataAmount
    long length;

    @Label("Cause")
    @Description("What changed the memory, e.g. explicit, unmap, remove, remap, owned-memory")
    String cause;

    @Label("Entries Invalidated")
    long entriesInvalidated;
}
