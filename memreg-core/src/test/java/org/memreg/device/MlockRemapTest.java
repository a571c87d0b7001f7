package org.memreg.device;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.memreg.testkit.ChildJvm;

/**
 * A page count belongs to the mapping it counted: after the memory under a held registration is
 * unmapped, a new mapping at the same address that the cache registers is locked (smaps
 * {@code Locked:} equals the registration's length), as root and as an unprivileged user.
 */
class MlockRemapTest {
    @Test
    void shouldLockTheNewMappingAsRoot() throws Exception {
        long[] result = RemappedLockProbe.run();
        assertEquals(result[1], result[0], "Locked: of the new mapping");
        assertEquals(0, result[2], "the held registration of the old memory is invalid");
    }

    @Test
    void shouldLockTheNewMappingAsAnUnprivilegedUser() throws Exception {
        ChildJvm child = ChildJvm.asNobody(RemappedLockProbe.class);
        assertEquals(child.value("length"), child.value("locked"), "Locked: of the new mapping, as " + child.text("user"));
        assertEquals(0, child.value("oldValid"));
    }
}
