package org.memreg.cli.bench;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The rows a sweep measured, one per point, written as CSV: a header row, then plain numbers
 * (no thousands separators, '.' as decimal point) and short lower-case labels. A cell that does
 * not apply (a stale-transfer count on a device that cannot detect them) is {@code null}: an
 * empty CSV cell and "n/a" on the console.
 */
public final class Table {
    private final List<String> columns;
    private final List<Object[]> rows = new ArrayList<>();

    /** A table with these column names (lower_snake_case, units in the name: {@code ns_per_op}). */
    public Table(String... columns) {
        this.columns = List.of(columns);
    }

    /** Appends a row of Long, Integer, Double, String or null cells, one per column. */
    public void add(Object... cells) {
        if (cells.length != columns.size()) {
            throw new IllegalArgumentException(cells.length + " cells for " + columns.size() + " columns");
        }
        rows.add(cells.clone());
    }

    public List<String> columns() {
        return columns;
    }

    public int size() {
        return rows.size();
    }

    /** The cell of {@code column} in row {@code row}. */
    public Object cell(int row, String column) {
        int index = columns.indexOf(column);
        if (index < 0) {
            throw new IllegalArgumentException("no column " + column);
        }
        return rows.get(row)[index];
    }

    /** Writes the table as CSV. */
    public void writeCsv(Path file) throws IOException {
        List<String> lines = new ArrayList<>();
        lines.add(String.join(",", columns));
        for (Object[] row : rows) {
            lines.add(Arrays.stream(row).map(Table::csv).collect(Collectors.joining(",")));
        }
        Files.write(file, lines);
    }

    /** Prints the table with right-aligned columns. */
    public void print(PrintWriter out) {
        List<String[]> text = new ArrayList<>();
        text.add(columns.toArray(String[]::new));
        for (Object[] row : rows) {
            text.add(Arrays.stream(row).map(Table::console).toArray(String[]::new));
        }
        int[] widths = new int[columns.size()];
        for (String[] line : text) {
            for (int i = 0; i < line.length; i++) {
                widths[i] = Math.max(widths[i], line[i].length());
            }
        }
        for (String[] line : text) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < line.length; i++) {
                sb.append(i == 0 ? "" : "  ").append(" ".repeat(widths[i] - line[i].length())).append(line[i]);
            }
            out.println(sb);
        }
    }

    private static String csv(Object cell) {
        return switch (cell) {
            case null -> "";
            case Double d -> String.format(Locale.ROOT, "%.3f", d);
            case String s when s.contains(",") -> throw new IllegalArgumentException("comma in label " + s);
            default -> cell.toString();
        };
    }

    private static String console(Object cell) {
        return switch (cell) {
            case null -> "n/a";
            case Double d when Math.abs(d) >= 100 -> String.format(Locale.ROOT, "%.0f", d);
            case Double d -> String.format(Locale.ROOT, "%.3f", d);
            default -> cell.toString();
        };
    }
}
