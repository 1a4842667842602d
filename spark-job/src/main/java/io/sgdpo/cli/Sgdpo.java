package io.sgdpo.cli;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Entry point of the {@code sgdpo} command line: {@code sgdpo <command> [options]}.
 *
 * <p>Each command is a {@link Command}; add new ones to {@link #COMMANDS}. Exit codes: 0 success,
 * 1 the job failed (bad input, too many rejects), 2 usage or configuration error.
 */
public final class Sgdpo {

    /** Exit code of a command that ran and failed for a reason about the data or the file system. */
    public static final int EXIT_FAILED = 1;
    /** Exit code of a wrong command line or configuration. */
    public static final int EXIT_USAGE = 2;

    /** One subcommand. */
    public interface Command {
        /** One line for the command list. */
        String summary();

        /** Runs with the arguments after the command name; returns the exit code. */
        int run(String[] args, PrintStream out, PrintStream err);
    }

    static final Map<String, Command> COMMANDS = new LinkedHashMap<>();

    static {
        COMMANDS.put("prep", new PrepCommand());
        COMMANDS.put("sft", new SftCommand());
        COMMANDS.put("ref-logps", new RefLogpsCommand());
        COMMANDS.put("train", new TrainCommand());
        COMMANDS.put("eval", new EvalCommand());
        COMMANDS.put("export", new ExportCommand());
        COMMANDS.put("generate", new GenerateCommand());
        COMMANDS.put("report", new ReportCommand());
        COMMANDS.put("demo", new DemoCommand());
        COMMANDS.put("study", new StudyCommand());
        COMMANDS.put("sample-pairs", new SamplePairsCommand());
        COMMANDS.put("frontier", new FrontierCommand());
    }

    private Sgdpo() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Dispatches to a command; never calls System.exit, so tests can call it. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        return dispatch(COMMANDS, BENCHMARKS_NOTE, args, out, err);
    }

    /** Where the bench-* commands are, for the command list: they are not part of the product. */
    private static final String BENCHMARKS_NOTE = "Benchmarks (module benchmarks/, not in the job jar): ./sgdpo "
            + "bench-prep | bench-ref-logps | bench-train | bench-peer | bench-wire | bench-checkpoint | bench-report";

    /**
     * Runs the command named by {@code args[0]} among {@code commands}: the dispatcher of this
     * command line and of the benchmarks' ({@code io.sgdpo.bench.Bench}).
     *
     * @param note a line after the command list, or null
     */
    public static int dispatch(Map<String, Command> commands, String note, String[] args, PrintStream out,
                               PrintStream err) {
        if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h") || args[0].equals("help")) {
            usage(commands, note, args.length == 0 ? err : out);
            return args.length == 0 ? EXIT_USAGE : 0;
        }
        Command c = commands.get(args[0]);
        if (c == null) {
            err.println("sgdpo: unknown command '" + args[0] + "'");
            usage(commands, note, err);
            return EXIT_USAGE;
        }
        return c.run(Arrays.copyOfRange(args, 1, args.length), out, err);
    }

    private static void usage(Map<String, Command> commands, String note, PrintStream s) {
        s.println("Usage: sgdpo <command> [options]   (sgdpo <command> --help for its options)");
        s.println();
        s.println("Commands:");
        commands.forEach((name, c) -> s.printf("  %-15s %s%n", name, c.summary()));
        if (note != null) {
            s.println();
            s.println(note);
        }
    }
}
