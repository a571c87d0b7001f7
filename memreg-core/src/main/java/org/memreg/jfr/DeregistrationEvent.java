package org.memreg.jfr;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.MemoryAddress;
import jdk.jfr.Name;

/**
 * A device deregistration and its cause; its duration is the device call. Emit through
 * {@link MemregEvents#deregistrationBegin()} and {@link MemregEvents#deregistrationEnd}.
 */
@Name(DeregistrationEvent.NAME)
@Label("Deregistration")
@Category("memreg")
@Description("The cache deregistered memory from the device; the duration is the device call")
public final class DeregistrationEvent extends Event {
    /** The event type's name. */
    public static final String NAME = "org.memreg.Deregistration";

    @Label("Address")
    @MemoryAddress
    long address;

    @Label("Length")
    @DataAmount
    long length;

    @Label("Device")
    String device;

    @Label("Cause")
    @Description("evicted-device-limit, evicted-max-bytes, evicted-max-entries, trimmed, replaced, invalidated,"
            + " deferred or closed")
    String cause;
}
