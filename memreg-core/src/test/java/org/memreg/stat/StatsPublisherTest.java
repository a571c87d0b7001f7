package org.memreg.stat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.memreg.testkit.Unprivileged;

@Unprivileged
class StatsPublisherTest {
    @TempDir
    Path dir;

    @Test
    void shouldPublishPeriodicallyAndDeleteTheFileOnClose() throws Exception {
        AtomicLong hits = new AtomicLong();
        Path path;
        try (StatsPublisher publisher = StatsPublisher.start(CountersFile.create(dir, "periodic"),
                file -> file.set(CounterId.HITS, hits.get()), 5)) {
            path = publisher.file().path();
            assertTrue(publisher.isActive());
            hits.set(42);
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (CountersReader.read(path).value(CounterId.HITS).orElseThrow() != 42) {
                assertTrue(System.nanoTime() < deadline, "published within 10 s");
                Thread.sleep(5);
            }
            hits.set(43);
            publisher.publishNow();
            assertEquals(43L, CountersReader.read(path).value(CounterId.HITS).orElseThrow());
        }
        assertFalse(Files.exists(path));
    }

    @Test
    void shouldSurviveASourceThatThrows() throws Exception {
        AtomicLong calls = new AtomicLong();
        try (StatsPublisher publisher = StatsPublisher.start(CountersFile.create(dir, "failing"), file -> {
            calls.incrementAndGet();
            throw new IllegalStateException("cache closed");
        }, 1)) {
            publisher.publishNow();
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (calls.get() < 5) {
                assertTrue(System.nanoTime() < deadline, "kept publishing");
                Thread.sleep(1);
            }
            assertTrue(publisher.failures() >= 5);
        }
    }

    @Test
    void shouldHoldOnlyTheCountersItWasStartedWith() throws Exception {
        String old = System.getProperty(CountersFile.DIR_PROP_NAME);
        System.setProperty(CountersFile.DIR_PROP_NAME, dir.toString());
        try (StatsPublisher publisher = StatsPublisher.start("odp only", CounterId.odpCounters(),
                file -> file.set(CounterId.ODP_FAULTS, 7))) {
            assertEquals(dir, publisher.file().path().getParent());
            assertEquals(CounterId.odpCounters().stream().map(CounterId::id).toList(),
                    CountersReader.read(publisher.file().path()).counters().stream().map(CountersReader.Counter::id).toList());
            assertEquals(7L, CountersReader.read(publisher.file().path()).value(CounterId.ODP_FAULTS).orElseThrow());
        } finally {
            if (old == null) {
                System.clearProperty(CountersFile.DIR_PROP_NAME);
            } else {
                System.setProperty(CountersFile.DIR_PROP_NAME, old);
            }
        }
    }

    @Test
    void shouldBeInactiveWhenTheFileCannotBeMade() throws Exception {
        Path notADirectory = Files.writeString(dir.resolve("file"), "x");
        String old = System.getProperty(CountersFile.DIR_PROP_NAME);
        System.setProperty(CountersFile.DIR_PROP_NAME, notADirectory.toString());
        try (StatsPublisher publisher = StatsPublisher.start("nowhere", file -> { })) {
            assertFalse(publisher.isActive());
            publisher.publishNow();
        } finally {
            if (old == null) {
                System.clearProperty(CountersFile.DIR_PROP_NAME);
            } else {
                System.setProperty(CountersFile.DIR_PROP_NAME, old);
            }
        }
    }
}
