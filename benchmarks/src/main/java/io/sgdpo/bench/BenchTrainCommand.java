package io.sgdpo.bench;

import io.sgdpo.cli.Sgdpo;
import io.sgdpo.bench.train.TrainBenchmark;
import java.io.File;
import java.io.PrintStream;

/** {@code sgdpo bench-train}: runs {@link TrainBenchmark}. */
final class BenchTrainCommand implements Sgdpo.Command {

    @Override
    public String summary() {
        return "training throughput and MFU: plain fit vs Spark local[1]/local[2] with each master, and sgdpo train"
                + " end to end vs a plain fit of its minibatches -> bench/";
    }

    @Override
    public int run(String[] args, PrintStream out, PrintStream err) {
        int minibatches = 24;
        int repeats = 3;
        boolean jobOnly = false;
        File confFile = null;
        File outDir = new File("bench");
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--help", "-h" -> {
                        out.println("Usage: sgdpo bench-train [--minibatches N] [--repeats R] [--job-only]"
                                + " [--conf FILE] [--out DIR]");
                        out.println("  N minibatches per variant; the end-to-end sgdpo train variant trains N steps.");
                        out.println("  --job-only: only sgdpo train end to end and the plain fit of its minibatches.");
                        out.println("  --conf FILE: HOCON over the defaults for the end-to-end job's prep, model and"
                                + " train (as sgdpo train --conf).");
                        out.println("  Writes DIR/train.json and DIR/train.md (default DIR: bench).");
                        return 0;
                    }
                    case "--minibatches" -> minibatches = Integer.parseInt(args[++i]);
                    case "--repeats" -> repeats = Integer.parseInt(args[++i]);
                    case "--job-only" -> jobOnly = true;
                    case "--conf" -> confFile = new File(args[++i]);
                    case "--out" -> outDir = new File(args[++i]);
                    default -> throw new IllegalArgumentException("unknown argument '" + args[i] + "'");
                }
            }
        } catch (RuntimeException e) {
            err.println("sgdpo bench-train: " + e.getMessage());
            return Sgdpo.EXIT_USAGE;
        }
        try {
            TrainBenchmark.run(minibatches, repeats, jobOnly, confFile, outDir, out);
            return 0;
        } catch (Exception e) {
            err.println("sgdpo bench-train: FAILED: " + e);
            return Sgdpo.EXIT_FAILED;
        }
    }
}
