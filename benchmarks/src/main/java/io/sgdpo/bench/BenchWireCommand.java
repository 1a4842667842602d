package io.sgdpo.bench;

import io.sgdpo.bench.train.WireBenchmark;
import io.sgdpo.cli.Sgdpo;
import java.io.File;
import java.io.PrintStream;

/** {@code sgdpo bench-wire}: runs {@link WireBenchmark}. */
final class BenchWireCommand implements Sgdpo.Command {

    @Override
    public String summary() {
        return "what a ParameterAveraging round costs to ship the model: results and broadcast, ND4J's serialization"
                + " vs packed vs in-process -> bench/";
    }

    @Override
    public int run(String[] args, PrintStream out, PrintStream err) {
        int repeats = 10;
        File outDir = new File("bench");
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--help", "-h" -> {
                        out.println("Usage: sgdpo bench-wire [--repeats R] [--out DIR]");
                        out.println("  Writes DIR/wire.json and DIR/wire.md (default DIR: bench).");
                        return 0;
                    }
                    case "--repeats" -> repeats = Integer.parseInt(args[++i]);
                    case "--out" -> outDir = new File(args[++i]);
                    default -> throw new IllegalArgumentException("unknown argument '" + args[i] + "'");
                }
            }
            if (repeats < 1) {
                throw new IllegalArgumentException("--repeats must be >= 1, got " + repeats);
            }
        } catch (RuntimeException e) {
            err.println("sgdpo bench-wire: " + e.getMessage());
            return Sgdpo.EXIT_USAGE;
        }
        try {
            WireBenchmark.run(repeats, outDir, out);
            return 0;
        } catch (Exception e) {
            err.println("sgdpo bench-wire: FAILED: " + e);
            return Sgdpo.EXIT_FAILED;
        }
    }
}
