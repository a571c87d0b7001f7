package org.memreg.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.knowm.xchart.XYChart;
import org.memreg.cache.RegistrationCache;
import picocli.CommandLine;

/**
 * memreg on the module path, as a modular application would run it: {@code org.memreg.cli}
 * reading {@code org.memreg.core} through its module descriptor alone, with native access
 * granted to {@code org.memreg.core} only and illegal native access denied. The suite itself
 * runs on the class path; this is where the descriptors (exports, requires, the qualified exports
 * to the tools, JFR's events in an internal package) meet a real run.
 */
class ModulePathRunTest {
    @TempDir
    Path dir;

    @Test
    void shouldRunInfoAndDemoAsModules() throws Exception {
        Result info = run(List.of(), "info");
        assertEquals(0, info.status(), info.err());
        assertTrue(info.out().startsWith("memreg info: what this process may use"), info.out());

        Path recording = dir.resolve("demo.jfr");
        Result demo = run(List.of("-XX:StartFlightRecording:filename=" + recording), "demo", "--seconds", "0.3",
                "--sizes", "4k", "--plot", dir.resolve("demo.png").toString());
        assertEquals(0, demo.status(), demo.err());
        assertTrue(demo.out().contains("== memreg (cache + "), demo.out());
        assertTrue(Files.size(dir.resolve("demo.png")) > 0, "the chart was drawn");
        Map<String, Long> events = new TreeMap<>();
        for (RecordedEvent event : RecordingFile.readAllEvents(recording)) {
            if (event.getEventType().getName().startsWith("org.memreg.")) {
                events.merge(event.getEventType().getName(), 1L, Long::sum);
            }
        }
        System.out.println("memreg's JFR events from the module-path demo: " + events);
        assertTrue(events.getOrDefault("org.memreg.Registration", 0L) > 0, "JFR recorded the cache's events: " + events);
    }

    /** The modules, and nothing else: memreg's two and the libraries the CLI requires. */
    private static String modulePath() {
        return Stream.of(RegistrationCache.class, Main.class, CommandLine.class, Histogram.class, XYChart.class)
                .map(ModulePathRunTest::location).distinct().collect(Collectors.joining(":"));
    }

    private static String location(Class<?> type) {
        try {
            return Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        } catch (URISyntaxException e) {
            throw new AssertionError(e);
        }
    }

    private record Result(int status, String out, String err) {}

    private Result run(List<String> jvmOptions, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--illegal-native-access=deny", "--enable-native-access=org.memreg.core", "-XX:TieredStopAtLevel=1"));
        command.addAll(jvmOptions);
        command.addAll(List.of("--module-path", modulePath(), "--module", "org.memreg.cli/" + Main.class.getName()));
        command.addAll(List.of(args));
        Path out = dir.resolve("out.txt");
        Path err = dir.resolve("err.txt");
        Process process = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!process.waitFor(120, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
            throw new AssertionError(String.join(" ", command) + " did not finish in 120 s");
        }
        String stderr = Files.readString(err, StandardCharsets.UTF_8);
        assertFalse(stderr.contains("restricted method"), "native access was not granted to the module: " + stderr);
        return new Result(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8), stderr);
    }
}
