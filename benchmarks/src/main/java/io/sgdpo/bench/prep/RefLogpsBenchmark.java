package io.sgdpo.bench.prep;

import io.sgdpo.cli.SparkSessions;
import io.sgdpo.report.Machine;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import io.sgdpo.checkpoint.Checkpoints;
import io.sgdpo.cli.TaskThreads;
import io.sgdpo.checkpoint.TrainingState;
import io.sgdpo.config.SgdpoConfig;
import io.sgdpo.nn.Decoder;
import io.sgdpo.nn.DecoderConfig;
import io.sgdpo.nn.PairExample;
import io.sgdpo.nn.PairedBatch;
import io.sgdpo.nn.SequenceLogProbs;
import io.sgdpo.nn.SftLoss;
import io.sgdpo.prep.Manifest;
import io.sgdpo.prep.PairSchema;
import io.sgdpo.prep.PrepJob;
import io.sgdpo.prep.ref.RefLogpsJob;
import io.sgdpo.prep.tokenize.Vocabulary;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

/**
 * Throughput of {@code sgdpo ref-logps} on local[1] and local[2], and the same figure as a fraction
 * of the forward-pass bound: model FLOPs per token ({@link DecoderConfig#forwardFlopsPerToken()})
 * times tokens/s, divided by ND4J's matrix-multiply FLOP/s measured in the same run.
 *
 * <p>Input: the first {@code --pairs} records of the HH-RLHF test file, prepped with the default
 * prep config (maxTotalLength 128) into about {@code --shards} shards; the reference is a freshly
 * initialised decoder of the default {@code model.*} sizes (scores do not depend on the weights'
 * values, only the work does). Variants: the whole job on local[1] and local[2], and, for scale,
 * a plain single-JVM loop over the same pairs through {@link SequenceLogProbs} without Spark.
 * {@code --repeats} timed runs after a warm-up round, variants taking turns; every figure is recorded
 * per run with its median, min and max ({@link RepeatFigures}), and the ratios are of medians.
 *
 * <pre>sgdpo bench-ref-logps [--hh FILE] [--pairs 300] [--shards 8] [--repeats 3] [--out bench] [--work bench/out]</pre>
 */
public final class RefLogpsBenchmark {

    private RefLogpsBenchmark() {
    }

    public static void help(PrintStream s) {
        s.println("Usage: sgdpo bench-ref-logps [--hh FILE] [--pairs N] [--shards S] [--repeats R] [--out DIR]"
                + " [--work DIR]");
        s.println("  --hh FILE     HH-RLHF jsonl.gz (default ../shared/data/hh-rlhf/harmless-base-test.jsonl.gz)");
        s.println("  --pairs N     records taken from the start of the file (default 300)");
        s.println("  --shards S    about this many prep shards (default 8)");
        s.println("  --repeats R   timed runs per variant; median, min and max reported (default 3)");
        s.println("  --out DIR     where ref-logps.json and ref-logps.md go (default bench)");
        s.println("  --work DIR    scratch folder (default bench/out)");
    }

    /** Runs the benchmark; returns the exit code. */
    public static int run(String[] args, PrintStream out) throws IOException {
        Path hh = Path.of(System.getProperty("sgdpo.shared.data", "../shared/data"),
                "hh-rlhf/harmless-base-test.jsonl.gz");
        int records = 300;
        int shards = 8;
        int repeats = 3;
        Path outDir = Path.of("bench");
        Path work = Path.of("bench/out");
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--help", "-h" -> {
                    help(out);
                    return 0;
                }
                case "--hh" -> hh = Path.of(args[++i]);
                case "--pairs" -> records = Integer.parseInt(args[++i]);
                case "--shards" -> shards = Integer.parseInt(args[++i]);
                case "--repeats" -> repeats = Integer.parseInt(args[++i]);
                case "--out" -> outDir = Path.of(args[++i]);
                case "--work" -> work = Path.of(args[++i]);
                default -> {
                    out.println("bench-ref-logps: unknown argument " + args[i]);
                    help(out);
                    return 2;
                }
            }
        }
        if (!Files.isRegularFile(hh)) {
            out.println("bench-ref-logps: HH file not found: " + hh + " (pass --hh FILE)");
            return 1;
        }
        work = work.toAbsolutePath();
        deleteRecursively(work.resolve("ref"));
        Files.createDirectories(work);
        Path slice = work.resolve("hh-" + records + ".jsonl");
        slice(hh, records, slice);

        // Prep with the defaults, shards sized so that there are about `shards` of them.
        Config base = SgdpoConfig.load(null, Map.of());
        Path prep = work.resolve("ref/prep");
        Map<String, String> prepOverrides = new HashMap<>();
        long estimate = (long) records * 4 * base.getInt("prep.maxTotalLength") * 3 / 2;
        prepOverrides.put("prep.shardTargetBytes", Long.toString(Math.max(1024, estimate / shards)));
        Config config = SgdpoConfig.load(null, prepOverrides);
        SparkSession s0 = session("local[2]");
        try {
            PrepJob.run(s0, List.of(slice.toString()), prep.toString(), config);
        } finally {
            s0.stop();
        }
        ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        Path manifestFile = prep.resolve(Manifest.FILE);
        Manifest prepManifest = Manifest.parse(Files.readString(manifestFile), manifestFile.toString());
        int vocab = prepManifest.section("vocabulary").path("size").asInt();
        DecoderConfig model = DecoderConfig.fromConfig(config.getConfig("model"), vocab);
        if (config.getInt("prep.maxTotalLength") > model.maxLength() + 1) {
            out.println("bench-ref-logps: prep.maxTotalLength exceeds model.maxLength + 1 in the default config");
            return 1;
        }
        ComputationGraph graph = Decoder.create(model, new SftLoss(), new Adam(1e-3), DataType.FLOAT);
        Path ckpt = Path.of(new Checkpoints(FileSystem.getLocal(new Configuration()),
                new org.apache.hadoop.fs.Path(work.resolve("ref/ckpt").toUri()))
                .save(graph, TrainingState.initial(model.seed())).toUri());

        List<PairExample> pairs = new ArrayList<>();
        long tokens = 0;
        SparkSession s1 = session("local[1]");
        try {
            for (Row r : s1.read().parquet(prep.resolve(PairSchema.PAIRS_DIR).toString()).collectAsList()) {
                PairExample p = PairSchema.example(r);
                pairs.add(p);
                // Both rows of a pair see the prompt: tokens = what the two forward rows hold.
                tokens += 2L * p.prompt().length + p.chosen().length + p.rejected().length;
            }
        } finally {
            s1.stop();
        }
        int batchSize = config.getInt("ref.batchSize");
        long padded = 2L * model.maxLength() * pairs.size();

        double loadBefore = ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
        Matmul square = matmul(1024, 1024, 1024, 10);
        Matmul head = matmul(2 * batchSize * model.maxLength(), model.dModel(), vocab, 10);
        out.printf("bench-ref-logps: %d pairs, %d tokens (%d padded positions), %d shards; ND4J mmul %.1f GFLOP/s"
                        + " (1024^3), %.1f GFLOP/s (output-layer shape)%n", pairs.size(), tokens, padded,
                prepManifest.section("pairs").path("shards").asInt(), square.flops / 1e9, head.flops / 1e9);

        Variant loop = new Variant("in-process loop, no Spark", null);
        List<Variant> variants = List.of(new Variant("spark local[1]", "local[1]"),
                new Variant("spark local[2]", "local[2]"), loop);
        Config refConfig = SgdpoConfig.load(null, Map.of());
        for (int round = 0; round <= repeats; round++) {
            for (Variant v : variants) {
                double sec = v.master == null ? loopOnce(graph, model, pairs, batchSize)
                        : sparkRun(v.master, prep, ckpt, work.resolve("ref/out-" + v.master.replaceAll("\\W", "")),
                        refConfig);
                if (round == 0) {
                    out.printf("  %-28s warm-up: %.2f s%n", v.name, sec);
                } else {
                    v.seconds.add(sec);
                    out.printf("  %-28s run %d: %.2f s%n", v.name, round, sec);
                }
            }
        }
        double loadAfter = ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();

        ObjectNode root = om.createObjectNode();
        root.put("benchmark", "ref-logps");
        root.put("date", Instant.now().toString());
        root.put("command", "./sgdpo bench-ref-logps --pairs " + records + " --shards " + shards + " --repeats "
                + repeats);
        ObjectNode machine = (ObjectNode) root.set("machine", Machine.describe()).get("machine");
        machine.put("nd4jBackend", Nd4j.getBackend().getClass().getSimpleName());
        machine.put("loadAverage1mBefore", round(loadBefore));
        machine.put("loadAverage1mAfter", round(loadAfter));
        ObjectNode in = root.putObject("input");
        in.put("source", hh.getFileName().toString());
        in.put("pairs", pairs.size());
        in.put("shards", prepManifest.section("pairs").path("shards").asInt());
        in.put("tokens", tokens);
        in.put("paddedPositions", padded);
        in.put("maxTotalLength", config.getInt("prep.maxTotalLength"));
        ObjectNode m = root.putObject("model");
        m.put("vocabSize", model.vocabSize());
        m.put("dModel", model.dModel());
        m.put("layers", model.layers());
        m.put("heads", model.heads());
        m.put("maxLength", model.maxLength());
        m.put("dataType", "FLOAT");
        m.put("forwardFlopsPerToken", model.forwardFlopsPerToken());
        m.put("batchSize", batchSize);
        ObjectNode mm = root.putObject("matmul");
        mm.put("square1024GflopsPerSecond", round(square.flops / 1e9));
        mm.put("outputLayerShape", head.shape);
        mm.put("outputLayerShapeGflopsPerSecond", round(head.flops / 1e9));
        mm.put("note", "median of 10 timed FLOAT mmuls after 3 warm-ups, ND4J's default threads (all cores);"
                + " the bound below uses the 1024^3 figure");
        double flopsPerToken = model.forwardFlopsPerToken();
        Map<String, String> figures = new LinkedHashMap<>();
        figures.put("seconds", "wall-clock seconds of one timed run (Spark: the whole job, session start and stop"
                + " excluded)");
        figures.put("pairsPerSecond", "pairs / seconds of that run");
        figures.put("tokensPerSecond", "real tokens (2 x prompt + chosen + rejected per pair) / seconds");
        figures.put("paddedPositionsPerSecond", "positions the decoder computes (2 x maxLength per pair) / seconds");
        figures.put("fractionOfMatmulBound", "forwardFlopsPerToken x tokensPerSecond / ND4J 1024^3 mmul FLOP/s");
        figures.put("fractionOfMatmulBoundPadded", "the same with paddedPositionsPerSecond");
        RepeatFigures.describe(root, figures, "tokensPerSecond", List.of(
                new RepeatFigures.Ratio("local[2]/local[1]", variants.get(1).name, variants.get(0).name),
                new RepeatFigures.Ratio("local[1]/loop", variants.get(0).name, loop.name),
                new RepeatFigures.Ratio("local[2]/loop", variants.get(1).name, loop.name)));
        ArrayNode res = root.putArray(RepeatFigures.RESULTS);
        Map<String, Double> tokensPerSecond = new HashMap<>();
        for (Variant v : variants) {
            double[] seconds = v.seconds.stream().mapToDouble(Double::doubleValue).toArray();
            RepeatFigures f = new RepeatFigures().add("seconds", seconds)
                    .addRate("pairsPerSecond", pairs.size(), seconds)
                    .addRate("tokensPerSecond", tokens, seconds)
                    .addRate("paddedPositionsPerSecond", padded, seconds)
                    .addRate("fractionOfMatmulBound", flopsPerToken * tokens / square.flops, seconds)
                    .addRate("fractionOfMatmulBoundPadded", flopsPerToken * padded / square.flops, seconds);
            ObjectNode n = res.addObject();
            n.put(RepeatFigures.VARIANT, v.name);
            n.put("medianSeconds", round(f.median("seconds")));
            n.put("pairsPerSecond", round(f.median("pairsPerSecond")));
            n.put("tokensPerSecond", Math.round(f.median("tokensPerSecond")));
            n.put("paddedPositionsPerSecond", Math.round(f.median("paddedPositionsPerSecond")));
            n.put("fractionOfMatmulBound", round4(f.median("fractionOfMatmulBound")));
            n.put("fractionOfMatmulBoundPadded", round4(f.median("fractionOfMatmulBoundPadded")));
            f.writeTo(n);
            tokensPerSecond.put(v.name, f.median("tokensPerSecond"));
        }
        // Throughput ratios of medians (> 1 = the numerator is faster).
        double l1 = tokensPerSecond.get(variants.get(0).name);
        double l2 = tokensPerSecond.get(variants.get(1).name);
        double loopTps = tokensPerSecond.get(loop.name);
        ObjectNode ratios = root.putObject("ratios");
        ratios.put("local2_vs_local1", round(l2 / l1));
        ratios.put("local1_vs_loop", round(l1 / loopTps));
        ratios.put("local2_vs_loop", round(l2 / loopTps));
        root.put("note", "tokens = 2 x prompt + chosen + rejected ids per pair (what the two rows of a pair hold);"
                + " the decoder computes every one of the maxLength positions of a row, so the padded figure is the"
                + " work actually done. fractionOfMatmulBound = forwardFlopsPerToken x tokens/s / ND4J 1024^3 mmul"
                + " FLOP/s. Spark timings are whole jobs (read, score, write Parquet, manifest); sessions are started"
                + " and stopped outside the timing, and the per-JVM model cache is warm after the warm-up round.");

        Files.createDirectories(outDir);
        Files.writeString(outDir.resolve("ref-logps.json"), om.writeValueAsString(root) + "\n");
        Path md = outDir.resolve("ref-logps.md");
        if (!Files.exists(md)) {
            Files.writeString(md, "# ref-logps benchmark\n\nTokens/s of `sgdpo ref-logps` (default decoder, HH-RLHF"
                    + " slice), median of repeats, and the fraction of the forward-pass bound (model FLOPs/token x"
                    + " tokens/s / ND4J mmul FLOP/s, measured in the same run). See ref-logps.json for every figure.\n\n"
                    + "| date | cores | load before/after | pairs | shards | mmul GFLOP/s | loop tok/s | local[1] tok/s"
                    + " | local[2] tok/s | local[1] of bound | local[2] of bound | local[2] of bound (padded)"
                    + " | local[2]/local[1] | command |\n"
                    + "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        }
        JsonNode r = root.path("results");
        String line = String.format("| %s | %d | %.1f / %.1f | %d | %d | %.1f | %d | %d | %d | %.4f | %.4f | %.4f |"
                        + " %.2f | `%s` |%n",
                root.path("date").asText().substring(0, 16), machine.path("cores").asInt(), loadBefore, loadAfter,
                pairs.size(), in.path("shards").asInt(), square.flops / 1e9,
                r.get(2).path("tokensPerSecond").asLong(), r.get(0).path("tokensPerSecond").asLong(),
                r.get(1).path("tokensPerSecond").asLong(), r.get(0).path("fractionOfMatmulBound").asDouble(),
                r.get(1).path("fractionOfMatmulBound").asDouble(),
                r.get(1).path("fractionOfMatmulBoundPadded").asDouble(), l2 / l1, root.path("command").asText());
        Files.writeString(md, line, StandardOpenOption.APPEND);
        out.print(om.writeValueAsString(root.path("results")) + "\n");
        out.println("ratios: " + ratios);
        out.println("wrote " + outDir.resolve("ref-logps.json") + " and a line in " + md);
        return 0;
    }

    private record Matmul(String shape, double flops) {
    }

    /** Median FLOP/s of {@code [m,k] x [k,n]} FLOAT mmuls. */
    static Matmul matmul(int m, int k, int n, int timed) {
        return new Matmul("[" + m + "," + k + "]x[" + k + "," + n + "]", MatmulRate.flopsPerSecond(m, k, n, timed));
    }

    /** The same scoring in one JVM thread without Spark; returns seconds. */
    static double loopOnce(ComputationGraph graph, DecoderConfig model, List<PairExample> pairs, int batchSize) {
        PairedBatch batcher = PairedBatch.forModel(graph, Vocabulary.PAD_ID);
        long t0 = System.nanoTime();
        double check = 0;
        int window = RefLogpsJob.READ_AHEAD_PASSES * batchSize; // the passes ref-logps forms
        for (int from = 0; from < pairs.size(); from += window) {
            List<PairExample> read = pairs.subList(from, Math.min(pairs.size(), from + window));
            for (PairedBatch.Pass pass : batcher.passes(read, batchSize)) {
                for (var lp : SequenceLogProbs.of(graph, batcher, pass.pairs())) {
                    check += lp.policyChosenSum();
                }
            }
        }
        if (!Double.isFinite(check)) {
            throw new IllegalStateException("non-finite log-probs");
        }
        return (System.nanoTime() - t0) / 1e9;
    }

    /** One timed job run in a fresh session (session start and stop are not timed); returns seconds. */
    static double sparkRun(String master, Path prep, Path ckpt, Path output, Config config) throws IOException {
        deleteRecursively(output);
        SparkSession spark = session(master);
        try (TaskThreads threads = TaskThreads.inLocalMode(spark.sparkContext())) { // as sgdpo ref-logps runs its tasks
            long t0 = System.nanoTime();
            RefLogpsJob.Result r = RefLogpsJob.run(spark, prep.toString(), ckpt.toString(), output.toString(), config);
            if (r.status() != RefLogpsJob.Status.BUILT) {
                throw new IllegalStateException("expected a full run, got " + r.status());
            }
            return (System.nanoTime() - t0) / 1e9;
        } finally {
            spark.stop();
            deleteRecursively(output);
        }
    }

    private static SparkSession session(String master) {
        return SparkSessions.start("bench-ref-logps", Map.of("spark.master", master, "spark.ui.enabled", "false"));
    }

    /** The first {@code records} lines of a gzipped JSON Lines file (HH-RLHF), as plain text. */
    public static void slice(Path hh, int records, Path out) throws IOException {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(new GZIPInputStream(Files.newInputStream(hh)),
                StandardCharsets.UTF_8)); BufferedWriter w = Files.newBufferedWriter(out, StandardCharsets.UTF_8)) {
            String l;
            for (int i = 0; i < records && (l = r.readLine()) != null; i++) {
                w.write(l);
                w.write('\n');
            }
        }
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    private static double round(double x) {
        return Math.round(x * 1000) / 1000.0;
    }

    private static double round4(double x) {
        return Math.round(x * 10000) / 10000.0;
    }

    private static final class Variant {
        final String name;
        final String master;
        final List<Double> seconds = new ArrayList<>();

        Variant(String name, String master) {
            this.name = name;
            this.master = master;
        }
    }
}
