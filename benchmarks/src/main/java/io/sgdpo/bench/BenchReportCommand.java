package io.sgdpo.bench;

import io.sgdpo.cli.Sgdpo;
import io.sgdpo.bench.BenchReport;
import java.io.PrintStream;
import java.nio.file.Path;

/** {@code sgdpo bench-report}: runs {@link BenchReport} over the outputs of the three benchmarks. */
final class BenchReportCommand implements Sgdpo.Command {

    @Override
    public String summary() {
        return "benchmark outputs (prep, ref-logps, train, peer JSON) -> RESULTS.md and results.json (bench/run calls it)";
    }

    private static void help(PrintStream s) {
        s.println("Usage: sgdpo bench-report --in DIR --out DIR [--command TEXT] [--commit SHA] [--dirty true|false]");
        s.println("                          [--started ISO-8601] [--load-before X]");
        s.println();
        s.println("  --in DIR          folder holding " + String.join(".json, ", BenchReport.BENCHMARKS)
                + ".json (the --out of each bench-* command), and " + String.join(".json, ", BenchReport.OPTIONAL)
                + ".json when it is there");
        s.println("  --out DIR         where " + BenchReport.MARKDOWN + ", " + BenchReport.JSON + " and "
                + BenchReport.RAW_DIR + "/*.json go");
        s.println("  --command TEXT    the command line the results come from, quoted in the report");
        s.println("  --commit SHA      the code version; --dirty true when the tree had uncommitted changes");
        s.println("  --started TIME    when the run started (UTC, e.g. 2026-11-24T03:04:41Z), for its duration");
        s.println("  --load-before X   the 1-minute load average before the first benchmark");
        s.println();
        s.println("Every figure is reported as median, min and max over the repeats, with the ratios of medians");
        s.println("each benchmark declares. Exit status: 0 ok, 1 an input is missing or malformed, 2 usage error.");
    }

    @Override
    public int run(String[] args, PrintStream out, PrintStream err) {
        Path in = null;
        Path outDir = null;
        String command = null;
        String commit = null;
        Boolean dirty = null;
        String started = null;
        Double loadBefore = null;
        try {
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                if (a.equals("--help") || a.equals("-h")) {
                    help(out);
                    return 0;
                }
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(a.startsWith("--") ? a + " needs a value"
                            : "unknown argument '" + a + "'");
                }
                String value = args[++i];
                switch (a) {
                    case "--in" -> in = Path.of(value);
                    case "--out" -> outDir = Path.of(value);
                    case "--command" -> command = value;
                    case "--commit" -> commit = value;
                    case "--dirty" -> {
                        if (!value.equals("true") && !value.equals("false")) {
                            throw new IllegalArgumentException("--dirty must be true or false, not '" + value + "'");
                        }
                        dirty = Boolean.valueOf(value);
                    }
                    case "--started" -> started = value;
                    case "--load-before" -> {
                        try {
                            loadBefore = Double.valueOf(value);
                        } catch (NumberFormatException e) {
                            throw new IllegalArgumentException("--load-before must be a number, not '" + value + "'");
                        }
                    }
                    default -> throw new IllegalArgumentException("unknown argument '" + a + "'");
                }
            }
            if (in == null || outDir == null) {
                throw new IllegalArgumentException("--in and --out are required");
            }
        } catch (IllegalArgumentException e) {
            err.println("sgdpo bench-report: " + e.getMessage());
            help(err);
            return Sgdpo.EXIT_USAGE;
        }
        try {
            BenchReport.write(in, outDir, new BenchReport.RunInfo(command, commit, dirty, started, loadBefore), out);
            return 0;
        } catch (Exception e) {
            err.println("sgdpo bench-report: FAILED: " + e.getMessage());
            return Sgdpo.EXIT_FAILED;
        }
    }
}
