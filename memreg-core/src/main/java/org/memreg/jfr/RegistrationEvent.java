package org.memreg.jfr;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.MemoryAddress;
import jdk.jfr.Name;

/**
 * A device registration made by a cache miss; its duration is the device call. Emit through
 * {@link MemregEvents#registrationBegin()} and {@link MemregEvents#registrationEnd}.
 */
@Name(RegistrationEvent.NAME)
@Label("Registration")
@Category("memreg")
@Description("A cache miss registered memory with the device; the duration is the device call")
public final class RegistrationEvent extends Event {
    /** The event type's name. */
    public static final String NAME = "org.memreg.Registration";

    @Label("Address")
    @Description("Start of the registered (page-rounded) range")
    @MemoryAddress
    long address;

    @Label("Length")
    @Description("Bytes registered")
    @DataAmount
    long length;

    @Label("Access")
    @Description("Rights granted to the device")
    String access;

    @Label("Device")
    String device;

    @Label("Failure")
    @Description("Why the device refused, empty when it succeeded")
    String failure;
}
