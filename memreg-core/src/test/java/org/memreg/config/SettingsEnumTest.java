package org.memreg.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** An enum property: any case, the default when unset, and a refusal that lists what is accepted. */
class SettingsEnumTest {
    private static final String NAME = "memreg.test.settingsEnum";

    @AfterEach
    void clear() {
        System.clearProperty(NAME);
    }

    @Test
    void shouldReadAConstantInAnyCaseOrTheDefault() {
        assertEquals(TimeUnit.SECONDS, Settings.enumValue(NAME, TimeUnit.SECONDS));
        System.setProperty(NAME, " milliSECONDS ");
        assertEquals(TimeUnit.MILLISECONDS, Settings.enumValue(NAME, TimeUnit.SECONDS));
    }

    @Test
    void shouldRefuseAnythingElseNamingThePropertyTheValueAndTheConstants() {
        System.setProperty(NAME, "fortnights");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Settings.enumValue(NAME, TimeUnit.SECONDS));
        assertEquals(NAME + "=fortnights is not nanoseconds, microseconds, milliseconds, seconds, minutes, hours"
                + " or days", e.getMessage());
    }

    enum Two { NONE, PEER }

    @Test
    void shouldSayATwoConstantChoiceAsOneOrTheOther() {
        System.setProperty(NAME, "lots");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Settings.enumValue(NAME, Two.NONE));
        assertEquals(NAME + "=lots is not none or peer", e.getMessage());
    }
}
