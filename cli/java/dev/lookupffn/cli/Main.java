package dev.lookupffn.cli;

import dev.lookupffn.LookupFfnException;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code lookupffn} command line. Exit codes: 0 success; 1 a runtime failure (a bad or missing file, a missing
 * output folder, a file that shrank while read, memory that cannot be had: one line on stderr naming what is
 * wrong, {@code --verbose} adds the stack trace); 2 bad arguments, a number outside its range included (with
 * usage, before any work).
 */
@Command(name = "lookupffn", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "LookupFFN for the JVM: compute-lite transformer feed-forward layers on CPUs.",
        footer = {"", "The ./lookupffn launcher also runs: test (the whole test suite), build [install], jmh [JMH options],",
                "fuzz [SECONDS], spark-embed (the Spark job; see spark/README.md)."},
        subcommands = {BenchCommand.class, EmbedCommand.class, InfoCommand.class, LayerCommand.class, TokenizeCommand.class, ForwardCommand.class, ConvertCommand.class, FillMaskCommand.class, CommandLine.HelpCommand.class})
public final class Main {
    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the CLI with the given streams; returns the exit code (used by tests). */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        boolean verbose = java.util.Arrays.asList(args).contains("--verbose");
        CommandLine cli = new CommandLine(new Main());
        cli.setOut(out);
        cli.setErr(err);
        cli.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            if (verbose) ex.printStackTrace(err);
            err.println("lookupffn " + commandLine.getCommandName() + ": " + oneLine(ex));
            err.flush();
            return 1;
        });
        try {
            return cli.execute(args);
        } catch (VirtualMachineError e) {
            // picocli hands Exceptions to the handler above; Errors (out of memory, a fault reading a mapped file
            // that shrank) come out here: still one line and exit 1, never a stack trace unless --verbose
            if (verbose) e.printStackTrace(err);
            String command = cli.getParseResult() == null || !cli.getParseResult().hasSubcommand() ? "lookupffn"
                    : "lookupffn " + cli.getParseResult().subcommand().commandSpec().name();
            err.println(command + ": " + oneLine(e));
            err.flush();
            return 1;
        }
    }

    static String oneLine(Throwable ex) {
        if (ex instanceof OutOfMemoryError)
            return "out of memory: " + ex.getMessage() + " (try smaller sizes or batches, or a larger -Xmx)";
        if (ex instanceof InternalError && ex.getMessage() != null && ex.getMessage().contains("unsafe memory access"))
            return "a memory-mapped file shrank while it was read (was it rewritten in place?): " + ex.getMessage();
        if (ex instanceof LookupFfnException || ex instanceof java.io.IOException || ex instanceof java.io.UncheckedIOException
                || ex instanceof IllegalArgumentException || ex instanceof IllegalStateException) {
            String m = ex.getMessage();
            return m == null ? ex.getClass().getSimpleName() : m.replace('\n', ' ');
        }
        return ex.toString().replace('\n', ' ');
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"lookupffn " + dev.lookupffn.ffi.Kernels.version()};
        }
    }
}
