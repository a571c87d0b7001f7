package org.memreg.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.memreg.linux.ProcessMaps;
import org.memreg.linux.SysConf;
import org.memreg.numa.NodeSummary;
import org.memreg.numa.PagePlacement;
import org.memreg.numa.ProcessPages;
import org.memreg.numa.SysfsTopology;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code memreg pages}: which NUMA node the pages of a process sit on, counted per node like
 * {@code numastat -p}, with the pages that are on no node (never touched, the zero page, or with
 * {@code --range}, not mapped at all).
 */
@Command(name = "pages", description = {
        "Count the pages of a process per NUMA node (like numastat -p), with move_pages(2).",
        "Walks every mapping in /proc/PID/maps, or only --range. Another user's process needs root."})
final class PagesCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    HelpOption help;

    @Option(names = "--pid", required = true, paramLabel = "PID", converter = PidConverter.class,
            description = "The process.")
    long pid;

    @Option(names = "--range", paramLabel = "START-END",
            description = "Only [START, END), hexadecimal as in /proc/PID/maps (0x optional); pages no mapping"
                    + " covers are counted as unmapped.")
    String range;

    @Override
    public Integer call() {
        long[] bounds = range == null ? null : parseRange(range);
        SysfsTopology topology = SysfsTopology.read();
        PagePlacement placement = topology.placement(Math.toIntExact(pid));
        PrintWriter out = spec.commandLine().getOut();
        NodeSummary summary;
        String heading;
        if (bounds != null) {
            summary = ProcessPages.census(placement, bounds[0], bounds[1]);
            heading = String.format("pid %d, 0x%x-0x%x, nodes %s", pid, bounds[0], bounds[1], topology.nodeSet());
        } else {
            long mappings = ProcessMaps.of(pid).stream().filter(m -> !m.special()).count();
            summary = ProcessPages.census(placement);
            heading = String.format("pid %d, %d mappings, nodes %s", pid, mappings, topology.nodeSet());
        }
        out.println(heading);
        NodeTable.print(out, placement.pageSize(), new String[] {"present"}, summary);
        out.flush();
        return Main.OK;
    }

    private long[] parseRange(String text) {
        int dash = text.indexOf('-');
        long top = userAddressTop();
        try {
            if (dash < 0) {
                throw new NumberFormatException("no '-'");
            }
            long start = hex(text.substring(0, dash));
            long end = hex(text.substring(dash + 1));
            if (Long.compareUnsigned(start, end) >= 0) {
                throw new NumberFormatException("END must be above START");
            }
            if (Long.compareUnsigned(end, top) > 0) {
                throw new NumberFormatException(String.format("END must be at most 0x%x, the top of a process's"
                        + " address space here", top));
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

    /**
     * The end of user space on x86-64 (TASK_SIZE): 2^47 less a page with 4-level page tables,
     * 2^56 less a page when the CPU has 5-level paging (la57).
     */
    static long userAddressTop() {
        boolean la57;
        try (var lines = Files.lines(Path.of("/proc/cpuinfo"))) {
            la57 = lines.filter(l -> l.startsWith("flags")).findFirst().map(l -> l.contains(" la57")).orElse(false);
        } catch (IOException | java.io.UncheckedIOException e) {
            la57 = false;
        }
        return (1L << (la57 ? 56 : 47)) - SysConf.pageSize();
    }
}
