package io.sgdpo.cli;

import io.sgdpo.report.RunReport;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;

/** {@code sgdpo report}: runs {@link RunReport}; no Spark session, the metric files are small. */
final class ReportCommand implements Sgdpo.Command {

    @Override
    public String summary() {
        return "run folders of sgdpo train -> Markdown report comparing them, with PNG plots";
    }

    private static void help(PrintStream s) {
        s.println("Usage: sgdpo report RUN... --output DIR");
        s.println();
        s.println("  RUN           a run folder of sgdpo train (metrics/train.jsonl, _manifest.json; and");
        s.println("                " + RunReport.EVAL_JSON + " when sgdpo eval wrote one there); any Hadoop URI");
        s.println("  --output DIR  report folder: " + RunReport.MARKDOWN + ", " + RunReport.LOSS_PNG + ", "
                + RunReport.ACCURACY_PNG + ", " + RunReport.REWARDS_PNG + ";");
        s.println("                written aside and renamed into place; an existing DIR must be empty or a report");
        s.println();
        s.println("Runs are labelled by their loss name (plus the folder name when two share a loss).");
        s.println("Exit status: 0 ok, 1 a run or the output could not be read or written, 2 usage error.");
    }

    @Override
    public int run(String[] args, PrintStream out, PrintStream err) {
        List<String> runs = new ArrayList<>();
        String output = null;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--help") || a.equals("-h")) {
                help(out);
                return 0;
            } else if (a.equals("--output")) {
                if (i + 1 >= args.length || args[i + 1].startsWith("--")) {
                    return usage(err, "--output needs a value");
                }
                output = args[++i];
            } else if (a.startsWith("-")) {
                return usage(err, "unknown argument '" + a + "'");
            } else {
                runs.add(a);
            }
        }
        if (runs.isEmpty()) {
            return usage(err, "at least one RUN folder is required");
        }
        if (output == null) {
            return usage(err, "--output is required");
        }
        try {
            RunReport.write(new Configuration(), runs, output, out);
            return 0;
        } catch (Exception e) {
            err.println("sgdpo report: FAILED: " + e.getMessage());
            return Sgdpo.EXIT_FAILED;
        }
    }

    private static int usage(PrintStream err, String problem) {
        err.println("sgdpo report: " + problem);
        help(err);
        return Sgdpo.EXIT_USAGE;
    }
}
