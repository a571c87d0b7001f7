package org.memreg.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;
import org.memreg.cli.bench.Plot;

/**
 * Draws {@link Plot}s (of a sweep, or of the demo) as an XChart PNG, side by side, each with its
 * legend to the right: the sweeps have up to nine lines that reach every corner. Points a log
 * axis cannot show (zero or less) are left out rather than failing the drawing.
 *
 * <p>A percentile plot puts the percentile p on a linear axis of "nines", log10(1/(1 - p)),
 * labelled p0, p90, p99, p99.9, ... as HdrHistogram's plotter does, so the tail gets room.
 */
final class BenchCharts {
    static {
        System.setProperty("java.awt.headless", "true");
    }

    private BenchCharts() {
    }

    /** Writes {@code plot} to {@code file} (which should end in .png). */
    static void write(Path file, Plot plot) throws IOException {
        write(file, List.of(plot));
    }

    /** Writes {@code plots} side by side into one image {@code file} (which should end in .png). */
    static void write(Path file, List<Plot> plots) throws IOException {
        int width = plots.size() == 1 ? 1100 : 900;
        List<XYChart> charts = plots.stream().map(plot -> chart(plot, width)).toList();
        BitmapEncoder.saveBitmap(charts, 1, charts.size(), file.toString(), BitmapEncoder.BitmapFormat.PNG);
    }

    private static XYChart chart(Plot plot, int width) {
        boolean percentiles = plot.kind() == Plot.Kind.PERCENTILES;
        XYChart chart = new XYChartBuilder().width(width).height(560).title(plot.title())
                .xAxisTitle(plot.xTitle()).yAxisTitle(plot.yTitle()).build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        chart.getStyler().setXAxisLogarithmic(plot.logX() && !percentiles);
        chart.getStyler().setYAxisLogarithmic(plot.logY());
        chart.getStyler().setMarkerSize(percentiles ? 4 : 8);
        if (percentiles) {
            chart.setCustomXAxisTickLabelsFormatter(BenchCharts::percentileLabel);
        }
        boolean logX = plot.logX() && !percentiles;
        for (Map.Entry<String, List<double[]>> line : plot.series().entrySet()) {
            // A log axis cannot show zero or less (XChart throws): such points are left out.
            List<double[]> points = line.getValue().stream().filter(p -> !percentiles || p[0] < 100)
                    .filter(p -> (!logX || p[0] > 0) && (!plot.logY() || p[1] > 0)).toList();
            if (!points.isEmpty()) {
                double[] x = points.stream().mapToDouble(p -> percentiles ? nines(p[0]) : p[0]).toArray();
                chart.addSeries(line.getKey(), x, points.stream().mapToDouble(p -> p[1]).toArray());
            }
        }
        return chart;
    }

    /** p90 as 1, p99 as 2, p99.9 as 3. */
    private static double nines(double percentile) {
        return Math.log10(1 / (1 - percentile / 100));
    }

    /** Whole numbers of nines as percentiles (1 as p90, 3 as p99.9); other ticks unlabelled. */
    private static String percentileLabel(double nines) {
        long whole = Math.round(nines);
        if (Math.abs(nines - whole) > 1e-9 || whole < 0) {
            return " ";
        }
        String text = String.format(Locale.ROOT, "%.10f", 100 * (1 - Math.pow(10, -whole)));
        return "p" + text.replaceAll("0+$", "").replaceAll("\\.$", "");
    }
}
