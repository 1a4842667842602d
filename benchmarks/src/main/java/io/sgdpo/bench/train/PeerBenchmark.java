package io.sgdpo.bench.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sgdpo.loss.LossSpec;
import io.sgdpo.loss.Losses;
import io.sgdpo.report.Machine;
import io.sgdpo.bench.prep.MatmulRate;
import io.sgdpo.bench.prep.RepeatFigures;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * {@code sgdpo bench-peer}: the project against PyTorch on the same machine, in the same run. For
 * every shape ({@link PeerShape}) and figure (training step, reference pass, greedy generation) it
 * runs the project in a fresh JVM ({@link PeerWorker}) and the PyTorch peer in a fresh Python
 * process ({@code bench/peer/torch_peer.py}) on the same batch file, taking turns: rounds outside,
 * then shapes, then figures, the side that goes first alternating from round to round. Every
 * process warms up, then times its repeats; each reports its own peak resident memory (VmHWM /
 * ru_maxrss, off-heap included), so that every figure has the memory it took beside it.
 *
 * <p>Writes {@code peer.json} (the {@link RepeatFigures} layout that {@code bench-report} reads, with
 * the project/PyTorch ratios of medians as ratio definitions, and {@link PeerComparison}'s table
 * and goals) and {@code peer.md}.
 */
public final class PeerBenchmark {

    /** The figures in the order they run. */
    public static final List<String> FIGURES = List.of("train", "ref", "gen");
    /** The project's side. */
    public static final String PROJECT = "project";
    /** PyTorch eager (generation with a key/value cache). */
    public static final String PYTORCH = "pytorch";
    /** PyTorch generation without a cache (every token reruns the prefix). */
    public static final String PYTORCH_NO_CACHE = "pytorch no cache";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final long CHILD_TIMEOUT_MINUTES = 45;

    /**
     * @param shapes   the shapes to run, in order
     * @param figures  the figures to run (of {@link #FIGURES})
     * @param rounds   fresh processes per variant (the variants take turns round by round)
     * @param repeats  timed repeats in each process
     * @param warmups  untimed repeats before them
     * @param threads  threads of both sides (OMP_NUM_THREADS, torch.set_num_threads)
     * @param python   the Python with PyTorch (Debian's /usr/bin/python3)
     * @param script   bench/peer/torch_peer.py
     * @param outDir   where peer.json and peer.md go
     * @param workDir  batch files and every process's log and result
     * @param command  the command line, for the report
     * @param check    first check that the peer computes what the project computes (same logits and
     *                 loss on the tiny shape's batch; the Llama peer against stories260K)
     */
    public record Options(List<PeerShape> shapes, List<String> figures, int rounds, int repeats, int warmups,
                          int threads, String python, Path script, File outDir, Path workDir, String command,
                          boolean check) {

        public Options {
            for (String f : figures) {
                if (!FIGURES.contains(f)) {
                    throw new IllegalArgumentException("unknown figure '" + f + "'; known: " + FIGURES);
                }
            }
        }
    }

    /** The per-process results of one variant, in the order they ran. */
    private static final class Collected {
        final String shape;
        final String figure;
        final String side;
        String unit;
        final List<Double> seconds = new ArrayList<>();
        final List<Double> rates = new ArrayList<>();
        final List<Double> peakMiB = new ArrayList<>();
        JsonNode last;

        Collected(String shape, String figure, String side) {
            this.shape = shape;
            this.figure = figure;
            this.side = side;
        }
    }

    private PeerBenchmark() {
    }

    /** The variant name of a shape, figure and side, e.g. "mid train pytorch". */
    public static String variant(String shape, String figure, String side) {
        return shape + " " + figure + " " + side;
    }

    public static void run(Options o, PrintStream out) throws IOException, InterruptedException {
        Files.createDirectories(o.workDir().resolve("logs"));
        Files.createDirectories(o.workDir().resolve("results"));
        if (!Files.isRegularFile(o.script())) {
            throw new IOException("the PyTorch peer " + o.script() + " is missing (run from the repository root, or"
                    + " give --peer-script)");
        }
        LossSpec spec = new LossSpec();
        double loadBefore = ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();

        out.println("bench-peer: checking the PyTorch peer (" + o.python() + " " + o.script() + ")");
        JsonNode torchMatmulBefore = python(o, List.of("matmul", "--threads", String.valueOf(o.threads())),
                o.workDir().resolve("results/matmul-pytorch-before.json"), "matmul-pytorch-before");
        List<String> blas = new ArrayList<>();
        torchMatmulBefore.path("environment").path("blas").forEach(b -> blas.add(b.asText()));
        if (blas.stream().noneMatch(b -> b.contains("openblas"))) {
            out.println("bench-peer: WARNING: PyTorch does not use OpenBLAS (" + blas + "): install"
                    + " libopenblas0-pthread, or its figures are those of the reference BLAS");
        }
        if (o.check()) {
            check(o, out);
        }
        double nd4jMatmulBefore = MatmulRate.flopsPerSecond(1024, 1024, 1024, 7);
        out.printf(Locale.ROOT, "bench-peer: float32 1024^3 matmul: ND4J %.1f GFLOP/s, PyTorch %.1f GFLOP/s (%s)%n",
                nd4jMatmulBefore / 1e9, torchMatmulBefore.path("gflops").asDouble(), blas);

        Map<String, Path> batches = new LinkedHashMap<>();
        for (PeerShape shape : o.shapes()) {
            Path batch = o.workDir().resolve("batch-" + shape.name() + ".json");
            PeerBatch.write(shape, Losses.create(spec), batch);
            batches.put(shape.name(), batch);
        }

        Map<String, Collected> collected = new LinkedHashMap<>();
        long started = System.nanoTime();
        for (int round = 0; round < o.rounds(); round++) {
            for (PeerShape shape : o.shapes()) {
                for (String figure : o.figures()) {
                    List<String> sides = new ArrayList<>(List.of(PROJECT, PYTORCH));
                    if (figure.equals("gen")) {
                        sides.add(PYTORCH_NO_CACHE);
                    }
                    if (round % 2 == 1) {
                        java.util.Collections.reverse(sides);
                    }
                    for (String side : sides) {
                        String name = variant(shape.name(), figure, side);
                        String tag = (name + " round" + round).replace(' ', '-');
                        Path result = o.workDir().resolve("results/" + tag + ".json");
                        JsonNode r = side.equals(PROJECT)
                                ? java(o, shape, figure, batches.get(shape.name()), result, tag)
                                : python(o, pythonRun(o, shape, figure, side, batches.get(shape.name())), result, tag);
                        Collected c = collected.computeIfAbsent(name, k -> new Collected(shape.name(), figure, side));
                        add(c, r);
                        double[] rates = c.rates.stream().mapToDouble(Double::doubleValue).toArray();
                        out.printf(Locale.ROOT, "  round %d/%d  %-30s %10.1f %s/s (median so far %.1f), peak %.0f MiB;"
                                        + " %.0f s elapsed%n", round + 1, o.rounds(), name,
                                c.rates.get(c.rates.size() - 1), c.unit, RepeatFigures.median(rates),
                                c.peakMiB.get(c.peakMiB.size() - 1), (System.nanoTime() - started) / 1e9);
                    }
                }
            }
        }

        JsonNode torchMatmulAfter = python(o, List.of("matmul", "--threads", String.valueOf(o.threads())),
                o.workDir().resolve("results/matmul-pytorch-after.json"), "matmul-pytorch-after");
        double nd4jMatmulAfter = MatmulRate.flopsPerSecond(1024, 1024, 1024, 7);
        double loadAfter = ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();

        ObjectNode report = JSON.createObjectNode();
        report.put("benchmark", "peer");
        report.put("date", Instant.now().toString());
        report.put("command", o.command());
        report.put("threads", o.threads());
        report.put("rounds", o.rounds());
        report.put("repeatsPerProcess", o.repeats());
        report.put("warmups", o.warmups());
        report.put("python", o.python());
        report.put("torch", torchMatmulBefore.path("environment").path("torch").asText());
        report.put("loss", spec.toString());
        report.put("learningRate", PeerWorker.LEARNING_RATE);
        ObjectNode matmul = report.putObject("matmul");
        matmul.put("size", 1024);
        matmul.put("nd4jGflops", Math.max(nd4jMatmulBefore, nd4jMatmulAfter) / 1e9);
        matmul.put("pytorchGflops", Math.max(torchMatmulBefore.path("gflops").asDouble(),
                torchMatmulAfter.path("gflops").asDouble()));
        matmul.put("nd4jGflopsBefore", nd4jMatmulBefore / 1e9);
        matmul.put("nd4jGflopsAfter", nd4jMatmulAfter / 1e9);
        matmul.put("pytorchGflopsBefore", torchMatmulBefore.path("gflops").asDouble());
        matmul.put("pytorchGflopsAfter", torchMatmulAfter.path("gflops").asDouble());
        matmul.put("pytorchBlas", String.join(", ", blas));
        ObjectNode machine = Machine.describe();
        machine.put("loadAverage1mBefore", Math.round(loadBefore * 1000) / 1000.0);
        machine.put("loadAverage1mAfter", Math.round(loadAfter * 1000) / 1000.0);
        machine.put("OPENBLAS_CORETYPE", String.valueOf(System.getenv("OPENBLAS_CORETYPE")));
        machine.put("OMP_WAIT_POLICY", String.valueOf(System.getenv("OMP_WAIT_POLICY")));
        machine.put("OPENBLAS_THREAD_TIMEOUT", String.valueOf(System.getenv("OPENBLAS_THREAD_TIMEOUT")));
        report.set("machine", machine);
        ObjectNode shapes = report.putObject("shapes");
        for (PeerShape s : o.shapes()) {
            ObjectNode n = shapes.putObject(s.name());
            n.put("description", s.describe());
            n.put("architecture", s.architecture());
            n.put("dModel", s.dModel());
            n.put("layers", s.layers());
            n.put("heads", s.heads());
            n.put("kvHeads", s.kvHeads());
            n.put("ffnHidden", s.ffnHidden());
            n.put("vocab", s.vocab());
            n.put("length", s.length());
            n.put("pairs", s.pairs());
            n.put("positions", s.positions());
            n.put("genTokens", s.genTokens());
            n.put("promptLength", s.promptLength());
            n.put("forwardFlopsPerToken", s.forwardFlopsPerToken());
            for (Collected c : collected.values()) {
                if (c.shape.equals(s.name()) && c.last != null && c.last.has("parameters")) {
                    n.put(c.side.equals(PROJECT) ? "parametersProject" : "parametersPytorch",
                            c.last.path("parameters").asLong());
                }
            }
        }
        Map<String, String> figures = new LinkedHashMap<>();
        figures.put("seconds", "wall-clock seconds of one timed repeat (train: steps x ComputationGraph.fit or optimizer"
                + " step; ref: steps x reference passes; gen: one greedy generation of B prompts)");
        figures.put("perSecond", "work / seconds: positions (2B x T, padding included) per second for train and ref,"
                + " generated tokens per second for gen");
        figures.put("peakRssMiB", "peak resident memory (VmHWM / ru_maxrss, off-heap and native included) of the"
                + " process that ran the repeat");
        List<RepeatFigures.Ratio> ratios = new ArrayList<>();
        for (PeerShape s : o.shapes()) {
            for (String figure : o.figures()) {
                ratios.add(new RepeatFigures.Ratio(s.name() + " " + figure + " project/pytorch",
                        variant(s.name(), figure, PROJECT), variant(s.name(), figure, PYTORCH)));
                if (figure.equals("gen")) {
                    ratios.add(new RepeatFigures.Ratio(s.name() + " gen project/pytorch no cache",
                            variant(s.name(), figure, PROJECT), variant(s.name(), figure, PYTORCH_NO_CACHE)));
                }
            }
        }
        RepeatFigures.describe(report, figures, "perSecond", ratios);
        ArrayNode results = report.putArray(RepeatFigures.RESULTS);
        for (Collected c : collected.values()) {
            ObjectNode v = results.addObject();
            v.put(RepeatFigures.VARIANT, variant(c.shape, c.figure, c.side));
            v.put("shape", c.shape);
            v.put("figure", c.figure);
            v.put("side", c.side);
            v.put("unit", c.unit);
            if (c.last.has("kvCache")) {
                v.put("kvCache", c.last.path("kvCache").asBoolean());
            }
            v.set("environment", c.last.path("environment"));
            new RepeatFigures().add("seconds", toArray(c.seconds)).add("perSecond", toArray(c.rates))
                    .add("peakRssMiB", toArray(c.peakMiB)).writeTo(v);
        }
        report.put("note", "Project: DL4J " + "1.0.0-M2.1 / ND4J CPU, ComputationGraph.fit, SequenceLogProbs.of,"
                + " Generator.greedy (key/value cache, io.sgdpo.nn.IncrementalDecoder: the B prompts in one pass,"
                + " then one token per prompt per step)."
                + " PyTorch " + report.path("torch").asText() + " eager, the same models, loss, batch and Adam"
                + " (bench/peer/torch_peer.py); generation with a key/value cache, and without one as a second"
                + " variant. Both sides " + o.threads() + " threads, float32.");
        report.set("comparison", PeerComparison.compare(report));

        File dir = o.outDir();
        dir.mkdirs();
        Files.writeString(new File(dir, "peer.json").toPath(), JSON.writeValueAsString(report) + "\n",
                StandardCharsets.UTF_8);
        String md = "# Project against PyTorch\n\nCommand: `" + o.command() + "`  \n" + Machine.line()
                + String.format(Locale.ROOT, "; 1-minute load average %.1f before, %.1f after.%n%n", loadBefore,
                loadAfter) + PeerComparison.markdown(report.path("comparison"));
        Files.writeString(new File(dir, "peer.md").toPath(), md, StandardCharsets.UTF_8);
        out.print(md);
    }

    /**
     * {@code bench-peer --profile}: the project's side only, one process per shape and figure with
     * {@link StepProfile} on; writes peer-profile.json and peer-profile.md.
     */
    public static void profile(Options o, PrintStream out) throws IOException, InterruptedException {
        Files.createDirectories(o.workDir().resolve("logs"));
        Files.createDirectories(o.workDir().resolve("results"));
        LossSpec spec = new LossSpec();
        ObjectNode report = JSON.createObjectNode();
        report.put("benchmark", "peer-profile");
        report.put("date", Instant.now().toString());
        report.put("command", o.command());
        ObjectNode machine = Machine.describe();
        machine.put("loadAverage1mBefore", ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
        report.set("machine", machine);
        ObjectNode profiles = report.putObject("profiles");
        StringBuilder md = new StringBuilder("# Where the project's time goes\n\nCommand: `" + o.command() + "`  \n"
                + Machine.line() + String.format(Locale.ROOT, "; 1-minute load average %.1f before.%n",
                ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage()));
        for (PeerShape shape : o.shapes()) {
            Path batch = o.workDir().resolve("batch-" + shape.name() + ".json");
            PeerBatch.write(shape, Losses.create(spec), batch);
            for (String figure : o.figures()) {
                String tag = "profile-" + shape.name() + "-" + figure;
                Path result = o.workDir().resolve("results/" + tag + ".json");
                JsonNode r = child(o, workerCommand(List.of("--shape", shape.name(), "--figure", figure, "--batch",
                        batch.toString(), "--warmups", String.valueOf(o.warmups()), "--repeats",
                        String.valueOf(o.repeats()), "--out", result.toString(), "--profile")), result, tag);
                profiles.set(shape.name() + " " + figure, r);
                md.append(profileMarkdown(shape, figure, r));
                out.println("bench-peer: profiled " + shape.name() + " " + figure);
            }
        }
        File dir = o.outDir();
        dir.mkdirs();
        Files.writeString(new File(dir, "peer-profile.json").toPath(), JSON.writeValueAsString(report) + "\n",
                StandardCharsets.UTF_8);
        Files.writeString(new File(dir, "peer-profile.md").toPath(), md.toString(), StandardCharsets.UTF_8);
        out.print(md);
    }

    private static String profileMarkdown(PeerShape shape, String figure, JsonNode r) {
        StringBuilder md = new StringBuilder();
        double seconds = 0;
        for (JsonNode s : r.path("seconds")) {
            seconds += s.asDouble();
        }
        int units = r.path("seconds").size() * r.path("steps").asInt(1);
        md.append(String.format(Locale.ROOT, "%n## %s %s (%s)%n%n%.3f s per %s, %.1f %s/s, peak %.0f MiB%n%n",
                shape.name(), figure, shape.describe(), seconds / units, figure.equals("gen") ? "generation"
                        : figure.equals("train") ? "step" : "pass", r.path("workPerRepeat").asDouble()
                        * r.path("seconds").size() / seconds, r.path("unit").asText(),
                r.path("peakRssBytes").asDouble() / (1 << 20)));
        JsonNode p = r.path("profile");
        if (p.has("phaseSecondsPerStep")) {
            md.append("| phase | s per step |\n|---|---|\n");
            p.path("phaseSecondsPerStep").fields().forEachRemaining(e -> md.append(String.format(Locale.ROOT,
                    "| %s | %.4f |%n", e.getKey(), e.getValue().asDouble())));
            md.append(String.format(Locale.ROOT, "%nLoss calls per step: %.1f.%n%n",
                    p.path("lossCallsPerStep").asDouble()));
        }
        if (p.has("sameDiffOpsPerUnit")) {
            md.append(String.format(Locale.ROOT, "SameDiff layers' ops: %.4f s per %s in all; the 12 slowest:%n%n",
                    p.path("sameDiffOpSecondsPerUnit").asDouble(), figure.equals("train") ? "step" : "unit"));
            md.append("| op | s | calls |\n|---|---|---|\n");
            int[] shown = {0};
            p.path("sameDiffOpsPerUnit").fields().forEachRemaining(e -> {
                if (shown[0]++ < 12) {
                    md.append(String.format(Locale.ROOT, "| %s | %.4f | %.0f |%n", e.getKey(),
                            e.getValue().path("seconds").asDouble(), e.getValue().path("calls").asDouble()));
                }
            });
            md.append("\n");
        }
        md.append("| stack samples: phase / layer / top frame | share |\n|---|---|\n");
        p.path("sampleShare").fields().forEachRemaining(e -> {
            if (e.getValue().asDouble() >= 0.005) {
                md.append(String.format(Locale.ROOT, "| %s | %.3f |%n", e.getKey(), e.getValue().asDouble()));
            }
        });
        md.append("\n| hottest frames | share |\n|---|---|\n");
        p.path("hottestFrames").fields().forEachRemaining(e -> md.append(String.format(Locale.ROOT, "| %s | %.3f |%n",
                e.getKey(), e.getValue().asDouble())));
        return md.toString();
    }

    /**
     * The tiny shape's batch through the project's decoder (parameters, logits and loss dumped by
     * {@link PeerWorker}), then through the peer with those parameters: both must agree.
     */
    private static void check(Options o, PrintStream out) throws IOException, InterruptedException {
        PeerShape tiny = PeerShape.named("tiny");
        Path batch = o.workDir().resolve("check-batch.json");
        PeerBatch.write(tiny, Losses.create(new LossSpec()), batch);
        Path dump = o.workDir().resolve("check-dump");
        Path result = o.workDir().resolve("results/check-project.json");
        List<String> command = workerCommand(List.of("--shape", "tiny", "--figure", "ref", "--batch", batch.toString(),
                "--warmups", "0", "--repeats", "1", "--out", result.toString(), "--dump", dump.toString()));
        child(o, command, result, "check-project");
        Path log = o.workDir().resolve("logs/check-pytorch.log");
        Process p = new ProcessBuilder(o.python(), o.script().toString(), "selfcheck", "--dump", dump.toString())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(CHILD_TIMEOUT_MINUTES, TimeUnit.MINUTES) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IOException("the PyTorch peer does not compute what the project computes:\n" + tail(log, 10));
        }
        for (String line : tail(log, 10).split("\n")) {
            if (!line.isBlank()) {
                out.println("bench-peer: check: " + line);
            }
        }
    }

    private static void add(Collected c, JsonNode r) {
        c.unit = r.path("unit").asText();
        c.last = r;
        double work = r.path("workPerRepeat").asDouble();
        double peak = r.path("peakRssBytes").asDouble() / (1024.0 * 1024.0);
        for (JsonNode s : r.path("seconds")) {
            c.seconds.add(s.asDouble());
            c.rates.add(work / s.asDouble());
            c.peakMiB.add(peak);
        }
    }

    private static double[] toArray(List<Double> values) {
        return values.stream().mapToDouble(Double::doubleValue).toArray();
    }

    private static List<String> pythonRun(Options o, PeerShape shape, String figure, String side, Path batch) {
        List<String> args = new ArrayList<>(List.of("run"));
        args.addAll(shape.pythonArguments());
        String f = side.equals(PYTORCH_NO_CACHE) ? "gen-nocache" : figure;
        int steps = figure.equals("train") ? shape.trainSteps() : figure.equals("ref") ? shape.refSteps() : 1;
        LossSpec spec = new LossSpec();
        args.addAll(List.of("--figure", f, "--batch", batch.toString(), "--warmups", String.valueOf(o.warmups()),
                "--repeats", String.valueOf(o.repeats()), "--steps", String.valueOf(steps), "--threads",
                String.valueOf(o.threads()), "--lr", String.valueOf(PeerWorker.LEARNING_RATE), "--beta",
                String.valueOf(spec.getBeta()), "--label-smoothing", String.valueOf(spec.getLabelSmoothing())));
        return args;
    }

    private static JsonNode python(Options o, List<String> args, Path result, String tag)
            throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(o.python(), o.script().toString()));
        command.addAll(args);
        command.addAll(List.of("--out", result.toString()));
        return child(o, command, result, tag);
    }

    private static JsonNode java(Options o, PeerShape shape, String figure, Path batch, Path result, String tag)
            throws IOException, InterruptedException {
        return child(o, workerCommand(List.of("--shape", shape.name(), "--figure", figure, "--batch", batch.toString(),
                "--warmups", String.valueOf(o.warmups()), "--repeats", String.valueOf(o.repeats()), "--out",
                result.toString())), result, tag);
    }

    /** A fresh JVM like this one (same flags and classpath) running {@link PeerWorker}. */
    static List<String> workerCommand(List<String> workerArgs) {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse("java"));
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (!a.startsWith("-agentlib") && !a.startsWith("-javaagent") && !a.startsWith("-XX:StartFlightRecording")) {
                command.add(a);
            }
        }
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), PeerWorker.class.getName()));
        command.addAll(workerArgs);
        return command;
    }

    private static JsonNode child(Options o, List<String> command, Path result, String tag)
            throws IOException, InterruptedException {
        Path log = o.workDir().resolve("logs/" + tag + ".log");
        Files.deleteIfExists(result);
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        String threads = String.valueOf(o.threads());
        pb.environment().put("OMP_NUM_THREADS", threads);
        Process p = pb.start();
        if (!p.waitFor(CHILD_TIMEOUT_MINUTES, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new IOException(tag + ": no result after " + CHILD_TIMEOUT_MINUTES + " min; log: " + log);
        }
        if (p.exitValue() != 0 || !Files.isRegularFile(result)) {
            throw new IOException(tag + " failed (exit " + p.exitValue() + "): " + String.join(" ", command)
                    + "\n--- last lines of " + log + " ---\n" + tail(log, 25));
        }
        return JSON.readTree(result.toFile());
    }

    private static String tail(Path log, int lines) throws IOException {
        List<String> all = List.of(new String(Files.readAllBytes(log), StandardCharsets.UTF_8).split("\n"));
        return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    }
}
