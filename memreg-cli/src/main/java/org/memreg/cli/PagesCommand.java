package org.memreg.cli;

import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import org.memreg.numa.NodeSummary;
import org.memreg.numa.PagePlacement;
import org.memreg.numa.ProcessMaps;
import org.memreg.numa.ProcessPages;
import org.memreg.numa.SysfsTopology;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code memreg pages}: which NUMA node the pages of a process sit on, counted per node like
 * {@code numastat -p}, with the pages that are on no node (never touched, or the zero page).
 */
@Command(name = "pages", mixinStandardHelpOptions = true, description = {
        "Count the pages of a process per NUMA node (like numastat -p), with move_pages(2).",
        "Walks every mapping in /proc/PID/maps, or only --range. Another user's process needs root."})
final class PagesCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--pid", required = true, paramLabel = "PID", description = "The process.")
    long pid;

    @Option(names = "--range", paramLabel = "START-END",
            description = "Only [START, END), hexadecimal as in /proc/PID/maps (0x optional).")
    String range;

    @Override
    public Integer call() {
        if (pid <= 0) {
            throw new ParameterException(spec.commandLine(), "--pid must be positive, got " + pid);
        }
        long[] bounds = range == null ? null : parseRange(range);
        SysfsTopology topology = SysfsTopology.read();
        PagePlacement placement = topology.placement(Math.toIntExact(pid));
        PrintWriter out = spec.commandLine().getOut();
        NodeSummary summary;
        if (bounds != null) {
            summary = ProcessPages.census(placement, bounds[0], bounds[1]);
            out.printf("pid %d, 0x%x-0x%x, nodes %s%n", pid, bounds[0], bounds[1], topology.nodeSet());
        } else {
            List<ProcessMaps.Mapping> mappings = ProcessMaps.of(pid).stream().filter(m -> !m.special()).toList();
            summary = ProcessPages.census(placement, mappings);
            out.printf("pid %d, %d mappings, nodes %s%n", pid, mappings.size(), topology.nodeSet());
        }
        NodeTable.print(out, placement.pageSize(), new String[] {"present"}, summary);
        out.flush();
        return 0;
    }

    private long[] parseRange(String text) {
        int dash = text.indexOf('-');
        try {
            if (dash < 0) {
                throw new NumberFormatException("no '-'");
            }
            long start = hex(text.substring(0, dash));
            long end = hex(text.substring(dash + 1));
            if (Long.compareUnsigned(start, end) >= 0) {
                throw new NumberFormatException("END must be above START");
            }
            return new long[] {start, end};
        } catch (NumberFormatException e) {
            throw new ParameterException(spec.commandLine(), "bad --range \"" + text
                    + "\": expected START-END in hexadecimal, such as 7f0000000000-7f0000100000 (" + e.getMessage() + ")");
        }
    }

    private static long hex(String text) {
        String digits = text.strip();
        if (digits.startsWith("0x") || digits.startsWith("0X")) {
            digits = digits.substring(2);
        }
        return Long.parseUnsignedLong(digits, 16);
    }
}
