package io.sgdpo.bench;

import io.sgdpo.cli.Sgdpo;
import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Entry point of the benchmarks, {@code ./sgdpo bench-<name> [options]} (the launcher runs this
 * class for every {@code bench-*} command). They live in a module of their own so that the job jar
 * that goes to clusters holds the product only.
 */
public final class Bench {

    static final Map<String, Sgdpo.Command> COMMANDS = new LinkedHashMap<>();

    static {
        COMMANDS.put("bench-prep", new BenchPrepCommand());
        COMMANDS.put("bench-ref-logps", new BenchRefLogpsCommand());
        COMMANDS.put("bench-train", new BenchTrainCommand());
        COMMANDS.put("bench-peer", new BenchPeerCommand());
        COMMANDS.put("bench-wire", new BenchWireCommand());
        COMMANDS.put("bench-checkpoint", new BenchCheckpointCommand());
        COMMANDS.put("bench-report", new BenchReportCommand());
    }

    private Bench() {
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /** Dispatches to a benchmark; never calls System.exit, so tests can call it. */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        return Sgdpo.dispatch(COMMANDS, "The product's commands: ./sgdpo --help", args, out, err);
    }
}
