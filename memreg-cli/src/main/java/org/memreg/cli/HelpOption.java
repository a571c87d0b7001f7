package org.memreg.cli;

import picocli.CommandLine.Option;

/** {@code -h/--help} for every subcommand, as a picocli mixin ({@code -V/--version} is the top command's). */
final class HelpOption {
    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
    boolean help;
}
