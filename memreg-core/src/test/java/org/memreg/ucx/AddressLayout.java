package org.memreg.ucx;

import java.util.ArrayList;
import java.util.List;

/**
 * Where the fields of a well-formed UCX 1.13 worker address are (default mode, as
 * {@code ucp_ep_create} unpacks it): written from UCX's address.c independently of the guard,
 * so that tests can damage one field at a time. Only for addresses UCX itself packed.
 *
 * @param v2 address version 2 (else 1)
 * @param interfaces every interface entry, in order
 */
record AddressLayout(boolean v2, List<Interface> interfaces) {
    /**
     * One interface entry.
     *
     * @param sum the transport's name checksum ({@link #nameSum})
     * @param mdByte offset of its device's memory-domain byte
     * @param device offset of its device address
     * @param deviceLength its length
     * @param attributes offset of the packed performance attributes
     * @param lengthByte offset of the interface-address length byte (with the last/has-ep flags)
     * @param iface offset of the interface address
     * @param ifaceLength its length
     */
    record Interface(int sum, int mdByte, int device, int deviceLength, int attributes, int lengthByte, int iface,
            int ifaceLength) {
    }

    static AddressLayout of(byte[] a) {
        boolean v2 = (a[0] & 0x0f) == 1;
        int header = v2 ? a[1] & 0xff : (a[0] & 0xff) >> 4;
        int p = v2 ? 2 : 1;
        if (!v2 || (header & 0x2) != 0) {
            p += 8; // worker uuid
        }
        if ((header & 0x4) != 0) {
            p += 8; // client id
        }
        if ((header & 0x1) != 0) {
            p += 1 + (a[p] & 0xff); // worker name
        }
        List<Interface> interfaces = new ArrayList<>();
        for (boolean lastDevice = false; !lastDevice;) {
            int mdByte = p;
            boolean empty = (a[p] & 0x80) != 0;
            p += extended(a, p, v2 ? 0x7f : 0x1f, v2);
            int flags = a[p] & 0xe0;
            lastDevice = (flags & 0x80) != 0;
            int deviceLength = value(a, p, 0x1f, v2);
            p += extended(a, p, 0x1f, v2);
            p += ((flags & 0x40) != 0 ? 1 : 0) + ((flags & 0x20) != 0 ? 1 : 0);
            int device = p;
            p += deviceLength;
            for (boolean last = empty; !last;) {
                int sum = (a[p] & 0xff) | (a[p + 1] & 0xff) << 8;
                int attributes = p + 2;
                int lengthByte = attributes + (v2 ? 8 : 16);
                last = (a[lengthByte] & 0x80) != 0;
                boolean hasEp = (a[lengthByte] & 0x40) != 0;
                int ifaceLength = value(a, lengthByte, 0x3f, v2);
                int iface = lengthByte + extended(a, lengthByte, 0x3f, v2);
                p = iface + ifaceLength;
                for (boolean more = hasEp; more;) {
                    p += 1 + (a[p] & 0xff);
                    more = (a[p] & 0x80) == 0;
                    p++;
                }
                interfaces.add(new Interface(sum, mdByte, device, deviceLength, attributes, lengthByte, iface,
                        ifaceLength));
            }
        }
        if (p != a.length) {
            throw new IllegalArgumentException("layout ends at " + p + " of " + a.length);
        }
        return new AddressLayout(v2, interfaces);
    }

    /** The entry of transport {@code name}, if the address has one. */
    Interface find(String name) {
        int sum = nameSum(name);
        return interfaces.stream().filter(i -> i.sum == sum).findFirst().orElse(null);
    }

    /** The port of the address's first TCP listener (its interface address: the port, network order). */
    static int tcpPort(byte[] address) {
        Interface tcp = of(address).find("tcp");
        return (address[tcp.iface()] & 0xff) << 8 | address[tcp.iface() + 1] & 0xff;
    }

    /** UCX's checksum of a transport name (CRC-16, reflected polynomial 0x8408). */
    static int nameSum(String name) {
        int crc = 0xffff;
        for (byte b : name.getBytes()) {
            crc ^= b & 0xff;
            for (int bit = 0; bit < 8; bit++) {
                crc = (crc >>> 1) ^ ((crc & 1) != 0 ? 0x8408 : 0);
            }
        }
        return ~crc & 0xffff;
    }

    private static int value(byte[] a, int p, int mask, boolean v2) {
        int v = a[p] & mask;
        return v2 && v == mask ? a[p + 1] & 0xff : v;
    }

    private static int extended(byte[] a, int p, int mask, boolean v2) {
        return v2 && (a[p] & mask) == mask ? 2 : 1;
    }
}
