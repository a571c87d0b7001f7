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
 * memreg/peer (tagged messages) and put/peer (memreg's put into a window) and writes two PNGs to
 * DIR: throughput by message size and 8-byte latency, bars per system, log scale. When the CSV
 * holds several rounds (a system's rows for a case, in order), a figure is the median of its
 * rounds, and a ratio the median of the rounds' ratios (round r against round r, which ran next to
 * each other) with their range.
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
        // system -> "lat p50", "lat p99", "64 KiB" ... -> the rounds' values, in order
        Map<String, Map<String, List<Double>>> rounds = new LinkedHashMap<>();
        for (String[] r : rows) {
            Map<String, List<Double>> v = rounds.computeIfAbsent(r[0], k -> new LinkedHashMap<>());
            if (r[1].equals("lat")) {
                add(v, "8 B p50 (us)", r[5]);
                add(v, "8 B p99 (us)", r[6]); // ucx_perftest reports none
            } else {
                add(v, size(Integer.parseInt(r[2])) + (r[1].equals("fresh") ? " fresh" : "") + " (MiB/s)", r[8]);
            }
        }
        Map<String, Map<String, Double>> values = new LinkedHashMap<>();
        rounds.forEach((system, v) -> {
            Map<String, Double> medians = values.computeIfAbsent(system, k -> new LinkedHashMap<>());
            v.forEach((column, xs) -> medians.put(column, median(xs)));
        });
        List<String> columns = values.values().stream().flatMap(m -> m.keySet().stream()).distinct().toList();
        Map<String, List<Double>> memreg = rounds.getOrDefault("memreg", Map.of());
        Map<String, List<Double>> put = rounds.getOrDefault("memreg-put", Map.of());
        Map<String, List<Double>> mapped = rounds.getOrDefault("memreg-mapped", Map.of());
        System.out.println("| system | " + String.join(" | ", columns) + " |");
        System.out.println("|---|" + "---:|".repeat(columns.size()));
        for (Map.Entry<String, Map<String, Double>> e : values.entrySet()) {
            StringBuilder line = new StringBuilder("| " + e.getKey() + " |");
            for (String c : columns) {
                Double x = e.getValue().get(c);
                line.append(' ').append(x == null ? "" : String.format(Locale.ROOT, "%.3g", x));
                if (x != null && !e.getKey().startsWith("memreg")) {
                    List<Double> peer = rounds.get(e.getKey()).get(c);
                    line.append(ratio("memreg", memreg.get(c), peer)).append(ratio("put", put.get(c), peer))
                            .append(ratio("mapped", mapped.get(c), peer));
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
        List<String> labels = categories.stream().map(c -> c.substring(0, c.lastIndexOf(" ("))).toList(); // the axis has the unit
        for (Map.Entry<String, Map<String, Double>> e : values.entrySet()) {
            List<Double> ys = categories.stream().map(c -> e.getValue().getOrDefault(c, Double.NaN)).toList();
            if (ys.stream().anyMatch(y -> !y.isNaN())) {
                chart.addSeries(e.getKey(), labels, ys.stream().map(y -> y.isNaN() ? 1e-3 : y).toList());
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

    /**
     * " (NAME/peer R)" for memreg's rounds {@code m} against the peer's {@code x}, round by round:
     * the median ratio, and with several rounds their range; "" without memreg's figures.
     */
    static String ratio(String name, List<Double> m, List<Double> x) {
        if (m == null || m.isEmpty()) {
            return "";
        }
        int n = Math.min(m.size(), x.size());
        List<Double> ratios = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            ratios.add(m.get(i) / x.get(i));
        }
        String range = n < 2 ? "" : String.format(Locale.ROOT, ", %.3g-%.3g", ratios.stream().min(Double::compare).get(),
                ratios.stream().max(Double::compare).get());
        return String.format(Locale.ROOT, " (%s/peer %.3g%s)", name, median(ratios), range);
    }

    /** The median of {@code xs} (the mean of the middle two for an even count). */
    static double median(List<Double> xs) {
        List<Double> sorted = xs.stream().sorted().toList();
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    private static void add(Map<String, List<Double>> values, String column, String value) {
        if (!value.isEmpty()) {
            values.computeIfAbsent(column, k -> new ArrayList<>()).add(Double.parseDouble(value));
        }
    }

    private static String size(int bytes) {
        return bytes >= 1 << 20 ? (bytes >> 20) + " MiB" : bytes >= 1 << 10 ? (bytes >> 10) + " KiB" : bytes + " B";
    }
}
