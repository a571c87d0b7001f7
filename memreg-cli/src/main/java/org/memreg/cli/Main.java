package org.memreg.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code memreg} command: subcommands for the demo, benchmarks and inspection. */
@Command(name = "memreg", mixinStandardHelpOptions = true, version = "memreg 0.1.0",
        description = "Registered (pinned) memory for zero-copy messaging: cache, devices, tools.",
        subcommands = {BenchCommand.class, DemoCommand.class, InfoCommand.class, MigrateCommand.class, PagesCommand.class, StatCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Runs the command line and returns its exit status (usage errors: 2, failures: 1). */
    public static int run(String... args) {
        CommandLine commandLine = new CommandLine(new Main());
        commandLine.setExecutionExceptionHandler((e, cmd, parseResult) -> {
            cmd.getErr().println("memreg: " + e.getMessage());
            return 1;
        });
        return commandLine.execute(args);
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }
}
