package org.memreg.cli.bench;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a sweep wants drawn: one line per series of (x, y) points. The command renders it with
 * XChart; a sweep stays free of drawing code.
 *
 * @param kind   {@link Kind#LINES}: x and y as given; {@link Kind#PERCENTILES}: x is a
 *               percentile (0..100), drawn on a log scale of 1/(1 - x/100) so the tail spreads out
 * @param series lines in legend order
 */
public record Plot(Kind kind, String title, String xTitle, String yTitle, boolean logX, boolean logY,
                   Map<String, List<double[]>> series) {
    /** How x is to be read. */
    public enum Kind { LINES, PERCENTILES }

    public Plot {
        series = new LinkedHashMap<>(series);
    }
}
