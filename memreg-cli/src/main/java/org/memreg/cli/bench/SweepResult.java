package org.memreg.cli.bench;

import java.util.List;

/**
 * What one sweep produced.
 *
 * @param table the CSV rows
 * @param plot  the chart
 * @param notes lines for the reader: points skipped and why, what a column means
 */
public record SweepResult(Table table, Plot plot, List<String> notes) {
}
