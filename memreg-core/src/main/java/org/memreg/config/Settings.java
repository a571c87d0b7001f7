package org.memreg.config;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * Reads {@code memreg.*} system properties: every setting of every component has a property
 * name, a documented default, and is parsed and validated here so that all of them accept the
 * same forms. Sizes take an optional binary suffix: {@code 4096}, {@code 64k}, {@code 8m},
 * {@code 1g}, {@code 2t} (also {@code KiB}, {@code MiB}, ...).
 */
public final class Settings {
    private Settings() {
    }

    /**
     * A builder's setting at {@code build()}: {@code set} when a setter gave it (non-null), else
     * what {@code fromProperty} reads. Builders read properties only here, so a bad one fails
     * {@code build()}, and a property whose setting was given is never parsed.
     */
    public static <T> T orElse(T set, Supplier<T> fromProperty) {
        return set != null ? set : fromProperty.get();
    }

    /** The property as a size in bytes, or {@code defaultValue} when unset. */
    public static long bytes(String name, long defaultValue) {
        String value = System.getProperty(name);
        return value == null ? defaultValue : parseBytes(name, value);
    }

    /** The property as a long, or {@code defaultValue} when unset. */
    public static long longValue(String name, long defaultValue) {
        String value = System.getProperty(name);
        if (value == null) {
            return defaultValue;
        }
        try {
            return Long.parseLong(value.strip().replace("_", ""));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + "=" + value + " is not a whole number", e);
        }
    }

    /** The property as a boolean ({@code true}/{@code false}), or {@code defaultValue} when unset. */
    public static boolean bool(String name, boolean defaultValue) {
        String value = System.getProperty(name);
        if (value == null) {
            return defaultValue;
        }
        return switch (value.strip().toLowerCase(Locale.ROOT)) {
            case "true", "yes", "on", "1" -> true;
            case "false", "no", "off", "0" -> false;
            default -> throw new IllegalArgumentException(name + "=" + value + " is not true or false");
        };
    }

    /**
     * The property as a constant of {@code defaultValue}'s enum, by name in any case (for
     * {@code PEER}: {@code peer}), or {@code defaultValue} when unset.
     */
    public static <E extends Enum<E>> E enumValue(String name, E defaultValue) {
        String value = System.getProperty(name);
        if (value == null) {
            return defaultValue;
        }
        Class<E> type = defaultValue.getDeclaringClass();
        try {
            return Enum.valueOf(type, value.strip().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            List<String> names = Arrays.stream(type.getEnumConstants())
                    .map(constant -> constant.name().toLowerCase(Locale.ROOT)).toList();
            String accepted = names.size() == 1 ? names.getFirst()
                    : String.join(", ", names.subList(0, names.size() - 1)) + " or " + names.getLast();
            throw new IllegalArgumentException(name + "=" + value + " is not " + accepted, e);
        }
    }

    /** Parses a size such as {@code 64k} or {@code 2MiB}; {@code what} names it in errors. */
    public static long parseBytes(String what, String text) {
        String value = text.strip().toLowerCase(Locale.ROOT).replace("_", "");
        int shift = 0;
        String digits = value;
        String[][] suffixes = {{"kib", "k", "10"}, {"mib", "m", "20"}, {"gib", "g", "30"}, {"tib", "t", "40"}};
        for (String[] suffix : suffixes) {
            for (int i = 0; i < 2; i++) {
                if (value.endsWith(suffix[i])) {
                    digits = value.substring(0, value.length() - suffix[i].length()).strip();
                    shift = Integer.parseInt(suffix[2]);
                }
            }
        }
        if (value.endsWith("b") && shift == 0) {
            digits = value.substring(0, value.length() - 1).strip();
        }
        try {
            long number = Long.parseLong(digits);
            if (number < 0 || (shift > 0 && number > (Long.MAX_VALUE >> shift))) {
                throw new IllegalArgumentException(what + "=" + text + " is out of range");
            }
            return number << shift;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(what + "=" + text + " is not a size (examples: 4096, 64k, 8m, 1g)", e);
        }
    }

    /** Formats a byte count for tables: {@code 8388608} as {@code 8 MiB}, {@code 100} as {@code 100 B}. */
    public static String formatBytesShort(long bytes) {
        String full = formatBytes(bytes);
        int paren = full.indexOf(" (");
        return paren < 0 ? full.replace(" bytes", " B") : full.substring(0, paren);
    }

    /** Formats a byte count for messages: {@code 8388608} as {@code 8 MiB (8388608 bytes)}. */
    public static String formatBytes(long bytes) {
        if (bytes == Long.MAX_VALUE) {
            return "unlimited";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double value = bytes;
        String unit = null;
        for (String candidate : units) {
            if (value < 1024) {
                break;
            }
            value /= 1024;
            unit = candidate;
        }
        if (unit == null) {
            return bytes + " bytes";
        }
        String number = String.format(Locale.ROOT, "%.2f", value).replaceAll("\\.?0+$", "");
        return number + " " + unit + " (" + bytes + " bytes)";
    }
}
