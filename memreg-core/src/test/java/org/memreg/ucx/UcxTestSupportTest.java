package org.memreg.ucx;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

/** A missing UCX fails the tests that need it, unless MEMREG_ALLOW_SKIP=1 makes it a skip. */
class UcxTestSupportTest {
    @Test
    void shouldFailWithoutUcxUnlessSkippingIsAllowed() {
        AssertionFailedError failed = assertThrows(AssertionFailedError.class,
                () -> UcxTestSupport.requireUcx(false, "libucp.so.0 not found", false));
        assertTrue(failed.getMessage().contains("libucp.so.0 not found"), failed.getMessage());
        assertTrue(failed.getMessage().contains("MEMREG_ALLOW_SKIP=1"), failed.getMessage());
        assertThrows(TestAbortedException.class, () -> UcxTestSupport.requireUcx(false, "absent", true));
        assertDoesNotThrow(() -> UcxTestSupport.requireUcx(true, "unused", false));
    }
}
