package io.sgdpo.bench;

import io.sgdpo.bench.train.CheckpointBenchmark;
import io.sgdpo.cli.Sgdpo;
import java.io.File;
import java.io.PrintStream;
import java.util.List;

/** {@code sgdpo bench-checkpoint}: runs {@link CheckpointBenchmark}. */
final class BenchCheckpointCommand implements Sgdpo.Command {

    @Override
    public String summary() {
        return "what a checkpoint costs: model.zip written and read by DL4J's ModelSerializer vs ModelZip -> bench/";
    }

    @Override
    public int run(String[] args, PrintStream out, PrintStream err) {
        int repeats = 3;
        int warmups = 1;
        List<String> shapes = CheckpointBenchmark.SHAPES;
        File outDir = new File("bench");
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--help", "-h" -> {
                        out.println("Usage: sgdpo bench-checkpoint [--shapes "
                                + String.join(",", CheckpointBenchmark.SHAPES) + "] [--repeats R] [--warmups W]"
                                + " [--out DIR]");
                        out.println("  Writes DIR/checkpoint.json and DIR/checkpoint.md (default DIR: bench).");
                        return 0;
                    }
                    case "--repeats" -> repeats = Integer.parseInt(args[++i]);
                    case "--warmups" -> warmups = Integer.parseInt(args[++i]);
                    case "--shapes" -> shapes = List.of(args[++i].split(","));
                    case "--out" -> outDir = new File(args[++i]);
                    default -> throw new IllegalArgumentException("unknown argument '" + args[i] + "'");
                }
            }
            if (repeats < 1 || warmups < 0) {
                throw new IllegalArgumentException("--repeats must be >= 1 and --warmups >= 0, got " + repeats + " and "
                        + warmups);
            }
            for (String shape : shapes) {
                if (!CheckpointBenchmark.SHAPES.contains(shape)) {
                    throw new IllegalArgumentException("--shapes: unknown shape '" + shape + "' (known: "
                            + String.join(",", CheckpointBenchmark.SHAPES) + ")");
                }
            }
        } catch (RuntimeException e) {
            err.println("sgdpo bench-checkpoint: " + e.getMessage());
            return Sgdpo.EXIT_USAGE;
        }
        try {
            CheckpointBenchmark.run(shapes, repeats, warmups, outDir, out);
            return 0;
        } catch (Exception e) {
            err.println("sgdpo bench-checkpoint: FAILED: " + e);
            return Sgdpo.EXIT_FAILED;
        }
    }
}
