package org.memreg.testkit;

import org.memreg.device.Access;
import org.memreg.device.Device;
import org.memreg.device.MemoryRegion;

/** A device that passes every call on to another; tests override what they watch or change. */
public abstract class ForwardingDevice implements Device {
    protected final Device device;

    protected ForwardingDevice(Device device) {
        this.device = device;
    }

    @Override
    public String name() {
        return device.name();
    }

    @Override
    public long pageSize() {
        return device.pageSize();
    }

    @Override
    public MemoryRegion register(long address, long length, Access access) {
        return device.register(address, length, access);
    }

    @Override
    public void deregister(MemoryRegion region) {
        device.deregister(region);
    }

    @Override
    public long registeredBytes() {
        return device.registeredBytes();
    }

    @Override
    public void close() {
        device.close();
    }
}
