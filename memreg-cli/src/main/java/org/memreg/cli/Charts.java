package org.memreg.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;

/** PNG charts (XChart) for the demo and the benchmarks. */
final class Charts {
    static {
        System.setProperty("java.awt.headless", "true");
    }

    private Charts() {
    }

    /** One line per series, x and y from the maps' keys and values, written to {@code file} as PNG. */
    static Path lines(Path file, String title, String xTitle, String yTitle, boolean logX, boolean logY,
                      Map<String, List<double[]>> series) throws IOException {
        XYChart chart = new XYChartBuilder().width(900).height(560).title(title)
                .xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNE);
        chart.getStyler().setXAxisLogarithmic(logX);
        chart.getStyler().setYAxisLogarithmic(logY);
        chart.getStyler().setMarkerSize(8);
        for (Map.Entry<String, List<double[]>> line : series.entrySet()) {
            double[] x = line.getValue().stream().mapToDouble(p -> p[0]).toArray();
            double[] y = line.getValue().stream().mapToDouble(p -> p[1]).toArray();
            if (x.length > 0) {
                chart.addSeries(line.getKey(), x, y);
            }
        }
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
        String name = file.toString();
        return Path.of(name.endsWith(".png") ? name : name + ".png");
    }
}
