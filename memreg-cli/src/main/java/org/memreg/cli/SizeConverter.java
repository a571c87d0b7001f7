package org.memreg.cli;

import org.memreg.config.Settings;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** Parses sizes such as {@code 4k}, {@code 64KiB}, {@code 1m} for command-line options. */
final class SizeConverter implements ITypeConverter<Long> {
    @Override
    public Long convert(String value) {
        try {
            long bytes = Settings.parseBytes("size", value);
            if (bytes <= 0) {
                throw new TypeConversionException("size must be positive: " + value);
            }
            return bytes;
        } catch (IllegalArgumentException e) {
            throw new TypeConversionException(e.getMessage());
        }
    }
}
