package io.sgdpo.bench;

import io.sgdpo.cli.Sgdpo;
import io.sgdpo.bench.prep.RefLogpsBenchmark;

import java.io.IOException;
import java.io.PrintStream;

/** {@code sgdpo bench-ref-logps}: runs {@link RefLogpsBenchmark} (not part of the test suite). */
final class BenchRefLogpsCommand implements Sgdpo.Command {

    @Override
    public String summary() {
        return "benchmark: ref-logps tokens/s on local[1], local[2] and as a fraction of the mmul bound";
    }

    @Override
    public int run(String[] args, PrintStream out, PrintStream err) {
        try {
            return RefLogpsBenchmark.run(args, out);
        } catch (IOException | RuntimeException e) {
            err.println("sgdpo bench-ref-logps: FAILED: " + e);
            return Sgdpo.EXIT_FAILED;
        }
    }
}
