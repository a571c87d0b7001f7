package org.memreg.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code memreg} command: subcommands for the demo, benchmarks and inspection.
 *
 * <p>Exit status: {@value #OK} success, {@value #FAILED} the command ran and failed (the system
 * refused, a process is gone, pages could not be moved), {@value #USAGE} a usage error (unknown
 * command or option, a missing or unacceptable value, no command at all): nothing was run.
 */
@Command(name = "memreg", mixinStandardHelpOptions = true, version = "memreg 0.1.0",
        description = "Registered (pinned) memory for zero-copy messaging: cache, devices, tools.",
        subcommands = {BenchCommand.class, DemoCommand.class, InfoCommand.class, MigrateCommand.class,
            PagesCommand.class, StatCommand.class, CommandLine.HelpCommand.class},
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {
            "0:success",
            "1:the command ran and failed (the system refused, a process is gone, pages could not be moved)",
            "2:usage error: unknown command or option, missing or unacceptable value, no command (nothing ran)"})
public final class Main implements Callable<Integer> {
    /** Exit status: success. */
    public static final int OK = 0;
    /** Exit status: the command ran and failed. */
    public static final int FAILED = 1;
    /** Exit status: a usage error; nothing ran. */
    public static final int USAGE = 2;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** {@code memreg} alone: a usage error, with the usage on stderr. */
    @Override
    public Integer call() {
        CommandLine commandLine = spec.commandLine();
        commandLine.getErr().println("memreg: no command given");
        commandLine.usage(commandLine.getErr());
        return USAGE;
    }

    /** Runs the command line and returns its exit status ({@link #OK}, {@link #FAILED}, {@link #USAGE}). */
    public static int run(String... args) {
        CommandLine commandLine = new CommandLine(new Main());
        // A usage error: the message, picocli's suggestions for a misspelt name, then the usage of
        // the command at fault (picocli prints either suggestions or usage, not both).
        commandLine.setParameterExceptionHandler((e, ignoredArgs) -> {
            PrintWriter err = e.getCommandLine().getErr();
            err.println("memreg: " + e.getMessage());
            CommandLine.UnmatchedArgumentException.printSuggestions(e, err);
            e.getCommandLine().usage(err);
            return USAGE;
        });
        commandLine.setExecutionExceptionHandler((e, cmd, parseResult) -> {
            cmd.getErr().println("memreg: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
            return FAILED;
        });
        return commandLine.execute(args);
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }
}
