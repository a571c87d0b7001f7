package org.memreg.device;

import java.util.Locale;

/** Reads the {@code memreg.*} system properties of the devices; sizes may end in k, m or g. */
final class DeviceSettings {
    private DeviceSettings() {
    }

    /** The property as a long (with an optional k/m/g binary suffix), or the default when unset. */
    static long longValue(String name, long defaultValue) {
        String value = System.getProperty(name);
        if (value == null || value.isBlank()) {
            return defaultValue;
        }
        String text = value.strip().toLowerCase(Locale.ROOT).replace("_", "");
        int shift = switch (text.charAt(text.length() - 1)) {
            case 'k' -> 10;
            case 'm' -> 20;
            case 'g' -> 30;
            default -> 0;
        };
        try {
            long number = Long.parseLong(shift == 0 ? text : text.substring(0, text.length() - 1));
            if (number > Long.MAX_VALUE >> shift) {
                throw new IllegalArgumentException(name + "=" + value + " is too large");
            }
            return number << shift;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + "=" + value + " is not a number", e);
        }
    }

    /** The property as a boolean, or the default when unset. */
    static boolean booleanValue(String name, boolean defaultValue) {
        String value = System.getProperty(name);
        if (value == null || value.isBlank()) {
            return defaultValue;
        }
        return switch (value.strip().toLowerCase(Locale.ROOT)) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new IllegalArgumentException(name + "=" + value + " is not true or false");
        };
    }

    /** Checks a register() range: page aligned, non-empty, no overflow. */
    static void checkRange(long address, long length, long pageSize) {
        if (length <= 0 || Long.remainderUnsigned(address, pageSize) != 0 || length % pageSize != 0
                || Long.compareUnsigned(address + length, address) < 0) {
            throw new IllegalArgumentException(String.format(
                    "range 0x%x + %d must be non-empty, page aligned and not wrap", address, length));
        }
    }
}
