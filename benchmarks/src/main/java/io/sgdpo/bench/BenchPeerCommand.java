package io.sgdpo.bench;

import io.sgdpo.cli.Sgdpo;
import io.sgdpo.bench.train.PeerBenchmark;
import io.sgdpo.bench.train.PeerShape;
import java.io.File;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** {@code sgdpo bench-peer}: runs {@link PeerBenchmark}. */
final class BenchPeerCommand implements Sgdpo.Command {

    @Override
    public String summary() {
        return "benchmark: training step, reference pass and generation against PyTorch, same machine -> bench/";
    }

    private static void help(PrintStream s) {
        s.println("Usage: sgdpo bench-peer [--quick] [--shapes a,b,...] [--figures train,ref,gen] [--rounds N]");
        s.println("                        [--repeats R] [--warmups W] [--no-check] [--profile]");
        s.println("                        [--threads T] [--python PATH] [--peer-script FILE] [--out DIR] [--work DIR]");
        s.println();
        s.println("  The project (a fresh JVM per figure) against its PyTorch peer (bench/peer/torch_peer.py, a fresh");
        s.println("  Python per figure) on the same batch: training step, reference pass, greedy generation; peak");
        s.println("  resident memory beside every figure. Writes DIR/peer.json and DIR/peer.md (default DIR: bench).");
        s.println();
        List<String> names = new ArrayList<>();
        for (PeerShape shape : PeerShape.STANDARD) {
            names.add(shape.name());
            s.printf("  %-12s %s%n", shape.name(), shape.describe());
        }
        s.println();
        s.println("  --shapes      default " + String.join(",", names) + " (--quick: " + String.join(",", PeerShape.QUICK)
                + ")");
        s.println("  --figures     default train,ref,gen (training step, reference pass, greedy generation)");
        s.println("  --rounds      fresh processes per variant, variants taking turns (default 3; --quick 1)");
        s.println("  --repeats     timed repeats in each process (default 2)");
        s.println("  --warmups     untimed repeats before them (default 10; --quick 1): a JVM reaches its steady");
        s.println("                speed only after tens of steps, once JIT compilation has reached its code");
        s.println("  --threads     threads of both sides (default: the cores, " + Runtime.getRuntime()
                .availableProcessors() + ")");
        s.println("  --python      Python with PyTorch (default /usr/bin/python3: Debian's python3-torch)");
        s.println("  --peer-script the PyTorch peer (default bench/peer/torch_peer.py)");
        s.println("  --work DIR    batch files, logs and every process's result (default: a temporary folder)");
        s.println("  --no-check    skip the first check that the peer computes the project's logits and loss");
        s.println("  --profile     the project's side only, with where its time goes (phases of a training step,");
        s.println("                stack samples): DIR/peer-profile.json and DIR/peer-profile.md");
    }

    @Override
    public int run(String[] args, PrintStream out, PrintStream err) {
        boolean quick = false;
        boolean check = true;
        boolean profile = false;
        String shapes = null;
        List<String> figures = PeerBenchmark.FIGURES;
        Integer rounds = null;
        int repeats = 2;
        Integer warmups = null;
        int threads = Runtime.getRuntime().availableProcessors();
        String python = "/usr/bin/python3";
        Path script = Path.of("bench", "peer", "torch_peer.py");
        File outDir = new File("bench");
        Path work = null;
        StringBuilder command = new StringBuilder("./sgdpo bench-peer");
        try {
            for (int i = 0; i < args.length; i++) {
                command.append(' ').append(args[i]);
                switch (args[i]) {
                    case "--help", "-h" -> {
                        help(out);
                        return 0;
                    }
                    case "--quick" -> quick = true;
                    case "--no-check" -> check = false;
                    case "--profile" -> profile = true;
                    case "--shapes" -> shapes = value(args, ++i, command);
                    case "--figures" -> figures = List.of(value(args, ++i, command).split(","));
                    case "--rounds" -> rounds = Integer.parseInt(value(args, ++i, command));
                    case "--repeats" -> repeats = Integer.parseInt(value(args, ++i, command));
                    case "--warmups" -> warmups = Integer.parseInt(value(args, ++i, command));
                    case "--threads" -> threads = Integer.parseInt(value(args, ++i, command));
                    case "--python" -> python = value(args, ++i, command);
                    case "--peer-script" -> script = Path.of(value(args, ++i, command));
                    case "--out" -> outDir = new File(value(args, ++i, command));
                    case "--work" -> work = Path.of(value(args, ++i, command));
                    default -> throw new IllegalArgumentException("unknown argument '" + args[i] + "'");
                }
            }
            List<PeerShape> selected = new ArrayList<>();
            if (shapes == null) {
                if (quick) {
                    PeerShape.QUICK.forEach(n -> selected.add(PeerShape.named(n)));
                } else {
                    selected.addAll(PeerShape.STANDARD);
                }
            } else {
                for (String n : shapes.split(",")) {
                    selected.add(PeerShape.named(n.trim()));
                }
            }
            int r = rounds != null ? rounds : quick ? 1 : 3;
            int w = warmups != null ? warmups : quick ? 1 : 10;
            if (r < 1 || repeats < 1 || w < 0 || threads < 1) {
                throw new IllegalArgumentException("--rounds, --repeats and --threads must be >= 1, --warmups >= 0");
            }
            Path workDir = work != null ? work : Files.createTempDirectory("sgdpo-bench-peer");
            PeerBenchmark.Options options = new PeerBenchmark.Options(selected, figures, r, repeats, w, threads, python,
                    script, outDir, workDir, command.toString(), check);
            if (profile) {
                PeerBenchmark.profile(options, out);
            } else {
                PeerBenchmark.run(options, out);
            }
            return 0;
        } catch (IllegalArgumentException e) {
            err.println("sgdpo bench-peer: " + e.getMessage());
            return Sgdpo.EXIT_USAGE;
        } catch (Exception e) {
            err.println("sgdpo bench-peer: FAILED: " + e.getMessage());
            return Sgdpo.EXIT_FAILED;
        }
    }

    private static String value(String[] args, int i, StringBuilder command) {
        if (i >= args.length) {
            throw new IllegalArgumentException(args[i - 1] + " needs a value");
        }
        command.append(' ').append(args[i]);
        return args[i];
    }
}
