package org.memreg.cli;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.TreeSet;
import org.memreg.numa.NodeSummary;

/** Prints {@link NodeSummary}s as a numastat-style table: one column per node, then the total. */
final class NodeTable {
    private NodeTable() {
    }

    /** Rows {@code names[i]} of {@code summaries[i]}'s present pages per node, then their not-present and zero pages. */
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
        for (int i = 0; i < summaries.length; i++) {
            String prefix = summaries.length > 1 ? names[i] + " " : "";
            NodeSummary s = summaries[i];
            out.printf("%-22s%s%d%n", prefix + "not present", " ".repeat(12 * nodes.size() + 14 - width(s.notPresent())), s.notPresent());
            out.printf("%-22s%s%d%n", prefix + "zero page", " ".repeat(12 * nodes.size() + 14 - width(s.zeroPage())), s.zeroPage());
            s.other().forEach((name, n) -> out.printf("%-22s%s%d%n", prefix + name,
                    " ".repeat(Math.max(1, 12 * nodes.size() + 14 - width(n))), n));
        }
    }

    private static int width(long n) {
        return Long.toString(n).length();
    }
}
