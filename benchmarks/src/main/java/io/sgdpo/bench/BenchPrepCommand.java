package io.sgdpo.bench;

import io.sgdpo.cli.Sgdpo;
import io.sgdpo.bench.prep.PrepBenchmark;

import java.io.IOException;
import java.io.PrintStream;

/** {@code sgdpo bench-prep}: runs {@link PrepBenchmark} (not part of the test suite). */
final class BenchPrepCommand implements Sgdpo.Command {

    @Override
    public String summary() {
        return "benchmark: prep job pairs/s on local[1], local[2] vs a single-threaded loop -> bench/prep.json";
    }

    @Override
    public int run(String[] args, PrintStream out, PrintStream err) {
        try {
            return PrepBenchmark.run(args, out);
        } catch (IOException | RuntimeException e) {
            err.println("sgdpo bench-prep: FAILED: " + e);
            return Sgdpo.EXIT_FAILED;
        }
    }
}
