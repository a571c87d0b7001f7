package org.memreg.cli;

import java.io.PrintWriter;
import java.util.Arrays;
import java.util.Locale;
import java.util.TreeSet;
import org.memreg.numa.NodeSummary;

/** Prints {@link NodeSummary}s as a numastat-style table: one column per node, then the total. */
final class NodeTable {
    private NodeTable() {
    }

    /**
     * Rows {@code names[i]} of {@code summaries[i]}'s present pages per node, then their
     * not-present and zero pages, and their unmapped pages when any summary has some.
     */
    static void print(PrintWriter out, long pageSize, String[] names, NodeSummary... summaries) {
        TreeSet<Integer> nodes = new TreeSet<>();
        for (NodeSummary s : summaries) {
            nodes.addAll(s.perNode().keySet());
        }
        StringBuilder header = new StringBuilder(String.format("%-22s", "pages (" + pageSize + " B)"));
        nodes.forEach(n -> header.append(String.format("%12s", "Node " + n)));
        out.println(header.append(String.format("%14s", "Total")));
        for (int i = 0; i < summaries.length; i++) {
            NodeSummary s = summaries[i];
            StringBuilder row = new StringBuilder(String.format("%-22s", names[i]));
            nodes.forEach(n -> row.append(String.format("%12d", s.onNode(n))));
            out.println(row.append(String.format("%14d", s.present())));
            StringBuilder mib = new StringBuilder(String.format("%-22s", names[i] + " MiB"));
            nodes.forEach(n -> mib.append(String.format(Locale.ROOT, "%12.2f", s.onNode(n) * (double) pageSize / (1 << 20))));
            out.println(mib.append(String.format(Locale.ROOT, "%14.2f", s.present() * (double) pageSize / (1 << 20))));
        }
        boolean unmapped = Arrays.stream(summaries).anyMatch(s -> s.unmapped() > 0);
        int width = 12 * nodes.size() + 14;
        for (int i = 0; i < summaries.length; i++) {
            String prefix = summaries.length > 1 ? names[i] + " " : "";
            NodeSummary s = summaries[i];
            out.printf("%-22s%" + width + "d%n", prefix + "not present", s.notPresent());
            out.printf("%-22s%" + width + "d%n", prefix + "zero page", s.zeroPage());
            if (unmapped) {
                out.printf("%-22s%" + width + "d%n", prefix + "unmapped", s.unmapped());
            }
            s.other().forEach((name, n) -> out.printf("%-22s %" + (width - 1) + "d%n", prefix + name, n));
        }
    }
}
