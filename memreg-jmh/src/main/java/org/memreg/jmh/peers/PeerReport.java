package org.memreg.jmh.peers;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.style.Styler;

/**
 * {@code PeerReport CSV DIR}: from {@link PeerBench}'s CSV, prints a Markdown table with the ratios
 * memreg/peer (tagged messages) and put/peer (memreg's put into a window) and writes two PNGs to DIR: throughput by message size and 8-byte latency, bars per
 * system, log scale.
 */
public final class PeerReport {
    private PeerReport() {
    }

    public static void main(String[] args) throws IOException {
        System.setProperty("java.awt.headless", "true");
        List<String[]> rows = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of(args[0]))) {
            if (!line.startsWith("system,")) {
                rows.add(line.split(",", -1));
            }
        }
        Path dir = Path.of(args[1]);
        // system -> "lat p50", "lat p99", "64 KiB" ... -> value
        Map<String, Map<String, Double>> values = new LinkedHashMap<>();
        for (String[] r : rows) {
            Map<String, Double> v = values.computeIfAbsent(r[0], k -> new LinkedHashMap<>());
            if (r[1].equals("lat")) {
                put(v, "8 B p50 (us)", r[5]);
                put(v, "8 B p99 (us)", r[6]); // ucx_perftest reports none
            } else {
                put(v, size(Integer.parseInt(r[2])) + " (MiB/s)", r[8]);
            }
        }
        List<String> columns = values.values().stream().flatMap(m -> m.keySet().stream()).distinct().toList();
        Map<String, Double> memreg = values.getOrDefault("memreg", Map.of());
        Map<String, Double> put = values.getOrDefault("memreg-put", Map.of());
        System.out.println("| system | " + String.join(" | ", columns) + " |");
        System.out.println("|---|" + "---:|".repeat(columns.size()));
        for (Map.Entry<String, Map<String, Double>> e : values.entrySet()) {
            StringBuilder line = new StringBuilder("| " + e.getKey() + " |");
            for (String c : columns) {
                Double x = e.getValue().get(c);
                line.append(' ').append(x == null ? "" : String.format(Locale.ROOT, "%.3g", x));
                if (x != null && !e.getKey().startsWith("memreg")) {
                    line.append(ratio("memreg", memreg.get(c), x)).append(ratio("put", put.get(c), x));
                }
                line.append(" |");
            }
            System.out.println(line);
        }
        chart(dir.resolve("peers-throughput.png"), "Throughput between two JVMs (MiB/s, log)", "MiB/s", values,
                columns.stream().filter(c -> c.endsWith("(MiB/s)")).toList());
        chart(dir.resolve("peers-latency.png"), "8-byte half round trip between two JVMs (us, log)", "us", values,
                columns.stream().filter(c -> c.endsWith("(us)")).toList());
    }

    private static void chart(Path file, String title, String yTitle, Map<String, Map<String, Double>> values,
            List<String> categories) throws IOException {
        if (categories.isEmpty()) {
            return;
        }
        CategoryChart chart = new CategoryChartBuilder().width(1000).height(520).title(title).yAxisTitle(yTitle).build();
        chart.getStyler().setYAxisLogarithmic(true);
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        for (Map.Entry<String, Map<String, Double>> e : values.entrySet()) {
            List<Double> ys = categories.stream().map(c -> e.getValue().getOrDefault(c, Double.NaN)).toList();
            if (ys.stream().anyMatch(y -> !y.isNaN())) {
                chart.addSeries(e.getKey(), categories, ys.stream().map(y -> y.isNaN() ? 1e-3 : y).toList());
            }
        }
        try {
            BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
        } catch (IllegalArgumentException e) { // XChart refused the log axis for these bars: draw it linear
            chart.getStyler().setYAxisLogarithmic(false);
            chart.setTitle(title.replace(", log)", ")"));
            BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
        }
    }

    /** " (NAME/peer R)" for a memreg figure {@code m} against the peer's {@code x}, or "" without one. */
    private static String ratio(String name, Double m, double x) {
        return m == null ? "" : String.format(Locale.ROOT, " (%s/peer %.3g)", name, m / x);
    }

    private static void put(Map<String, Double> values, String column, String value) {
        if (!value.isEmpty()) {
            values.put(column, Double.parseDouble(value));
        }
    }

    private static String size(int bytes) {
        return bytes >= 1 << 20 ? (bytes >> 20) + " MiB" : bytes >= 1 << 10 ? (bytes >> 10) + " KiB" : bytes + " B";
    }
}
