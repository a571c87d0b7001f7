package org.memreg.util;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Every resource is closed, in order, whatever the ones before it threw; no failure is lost. */
class ClosingTest {
    private final List<String> closed = new ArrayList<>();

    private AutoCloseable resource(String name, Exception failure) {
        return () -> {
            closed.add(name);
            if (failure != null) {
                throw failure;
            }
        };
    }

    @Test
    void shouldCloseEveryOneInOrderAndThrowTheFirstFailureWithTheRestSuppressed() {
        IllegalStateException first = new IllegalStateException("first");
        IOException second = new IOException("second");
        IllegalStateException thrown = assertThrows(IllegalStateException.class, () -> Closing.all(
                resource("a", null), null, resource("b", first), resource("c", null), resource("d", second)));
        assertSame(first, thrown);
        assertArrayEquals(new Throwable[] {second}, thrown.getSuppressed());
        assertEquals(List.of("a", "b", "c", "d"), closed);
    }

    @Test
    void shouldWrapACheckedFirstFailure() {
        IOException checked = new IOException("disk");
        IllegalStateException thrown = assertThrows(IllegalStateException.class,
                () -> Closing.all(resource("a", checked), resource("b", null)));
        assertSame(checked, thrown.getCause());
        assertEquals(List.of("a", "b"), closed);
    }

    @Test
    void shouldAddWhatClosingThrowsToTheFailureThatCausedIt() {
        RuntimeException cause = new RuntimeException("build failed");
        IllegalArgumentException late = new IllegalArgumentException("close failed");
        Closing.afterFailure(cause, resource("a", late), resource("b", null));
        assertArrayEquals(new Throwable[] {late}, cause.getSuppressed());
        assertEquals(List.of("a", "b"), closed);
    }
}
