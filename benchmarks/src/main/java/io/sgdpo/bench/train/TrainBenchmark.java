package io.sgdpo.bench.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.sgdpo.cli.SparkSessions;
import io.sgdpo.cli.TaskThreads;
import io.sgdpo.config.SgdpoConfig;
import io.sgdpo.loss.LossSpec;
import io.sgdpo.loss.Losses;
import io.sgdpo.loss.PreferenceLoss;
import io.sgdpo.nn.Decoder;
import io.sgdpo.nn.DecoderConfig;
import io.sgdpo.nn.PairExample;
import io.sgdpo.nn.PairedBatch;
import io.sgdpo.nn.PairedPreferenceLoss;
import io.sgdpo.bench.prep.MatmulRate;
import io.sgdpo.report.Machine;
import io.sgdpo.bench.prep.RepeatFigures;
import io.sgdpo.train.DistributedTrainer;
import io.sgdpo.train.Minibatches;
import io.sgdpo.train.TrainingMasters;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.learning.config.Adam;

/**
 * Training throughput: the same SGDPO minibatches fitted by a plain single-JVM
 * {@code ComputationGraph.fit}, and through Spark local[1] and local[2] with each training master.
 * Reports tokens/s (prompt + response tokens of both rows of every pair), model-FLOP utilisation
 * (3 x forward FLOPs of every processed position per second, over ND4J's float32 matmul rate
 * measured in the same run), the Spark/plain ratios and the local[2]/local[1] scaling. Every figure
 * is recorded per repeat with its median, min and max ({@link RepeatFigures}); ratios are of medians.
 *
 * <p>Then the job around the step ({@link JobVariants}): {@code sgdpo train} end to end on Spark
 * local[2] with ParameterAveraging beside a plain fit of the same minibatches, in the same rounds,
 * with the ratio of their tokens/s. {@code jobOnly} runs these two alone.
 */
public final class TrainBenchmark {

    private record Variant(String name, String master, int cores) {
    }

    private static final List<Variant> VARIANTS = List.of(new Variant("plain", null, 1),
            new Variant("spark local[1] parameterAveraging", "parameterAveraging", 1),
            new Variant("spark local[2] parameterAveraging", "parameterAveraging", 2),
            new Variant("spark local[1] sharedTraining", "sharedTraining", 1),
            new Variant("spark local[2] sharedTraining", "sharedTraining", 2));

    private TrainBenchmark() {
    }

    /** The end-to-end job's variant and the plain fit of its minibatches. */
    static final String JOB = "sgdpo train local[2] parameterAveraging, end to end";
    static final String JOB_PLAIN = "plain fit of the job's minibatches";
    static final String JOB_PLAIN_PADDED = "the same, padded to model.maxLength";

    public static void run(int minibatches, int repeats, boolean jobOnly, File confFile, File outDir,
                           PrintStream out)
            throws IOException {
        List<Variant> stepVariants = jobOnly ? List.of() : VARIANTS;
        Config config = SgdpoConfig.reference();
        DecoderConfig model = new DecoderConfig(512, config.getInt("model.dModel"), config.getInt("model.layers"),
                config.getInt("model.heads"), 64, 0.0, 42);
        int pairsPerBatch = config.getInt("train.batchSize");
        LossSpec spec = new LossSpec();
        PreferenceLoss loss = Losses.create(spec);
        PairedBatch layout = new PairedBatch(model.maxLength(), 1, PairedBatch.LENGTH_STEP); // as TrainJob's
        List<DataSet> batches = new ArrayList<>();
        List<Minibatches.Batch> pairBatches = new ArrayList<>();
        long tokens = 0;
        Random random = new Random(1);
        for (int m = 0; m < minibatches; m++) {
            List<PairExample> pairs = new ArrayList<>();
            for (int i = 0; i < pairsPerBatch; i++) {
                PairExample p = randomPair(random, model, "b" + m + "p" + i);
                pairs.add(p);
                tokens += 2L * p.prompt().length + p.chosen().length + p.rejected().length;
            }
            batches.add(layout.build(pairs, loss, 42, m, DataType.FLOAT));
            pairBatches.add(new Minibatches.Batch(m, pairs));
        }
        long positions = JobVariants.positions(batches);
        double matmul = MatmulRate.flopsPerSecond(1024, 1024, 1024, 7);
        out.printf("bench-train: %s, %d minibatches of %d pairs, %d tokens; ND4J matmul %.2f GFLOP/s%n", model,
                minibatches, pairsPerBatch, tokens, matmul / 1e9);

        // Other processes on the machine skew every figure: the 1-minute load average tells.
        java.nio.file.Path jobWork = Files.createTempDirectory("sgdpo-bench-train");
        JobVariants job = JobVariants.prepare(jobWork, minibatches, confFile, out);
        double loadBefore = ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
        Map<String, double[]> seconds = new LinkedHashMap<>();
        for (Variant v : stepVariants) {
            seconds.put(v.name(), new double[repeats]);
        }
        seconds.put(JOB_PLAIN, new double[repeats]);
        seconds.put(JOB_PLAIN_PADDED, new double[repeats]);
        seconds.put(JOB, new double[repeats]);
        double[] jobUpdateTps = new double[repeats];
        Map<String, double[]> jobPhases = new LinkedHashMap<>();
        for (int round = -1; round < repeats; round++) { // round -1 warms every variant up; variants take turns
            Map<String, Double> times = new LinkedHashMap<>();
            for (Variant v : stepVariants) {
                times.put(v.name(), time(v, model, spec, batches, pairBatches, layout, loss, round + 2));
            }
            times.put(JOB_PLAIN, job.timePlain());
            times.put(JOB_PLAIN_PADDED, job.timePlainPadded());
            JobVariants.Run jobRun = job.timeJob(round + 1);
            times.put(JOB, jobRun.seconds());
            if (round >= 0) {
                jobUpdateTps[round] = jobRun.updateTokensPerSecond();
                for (Map.Entry<String, Double> phase : jobRun.phases().entrySet()) {
                    jobPhases.computeIfAbsent(phase.getKey(), k -> new double[repeats])[round] = phase.getValue();
                }
                for (Map.Entry<String, Double> t : times.entrySet()) {
                    seconds.get(t.getKey())[round] = t.getValue();
                    out.printf("  round %d  %-52s %.2f s%n", round, t.getKey(), t.getValue());
                }
                out.printf("  round %d  %-52s %.0f tokens/s%n", round, "the job's updates", jobUpdateTps[round]);
            }
        }
        JobVariants.deleteRecursively(jobWork);

        double loadAfter = ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();

        ObjectMapper json = new ObjectMapper();
        ObjectNode report = json.createObjectNode();
        report.put("benchmark", "train");
        report.put("date", Instant.now().toString());
        report.put("command", "./sgdpo bench-train --minibatches " + minibatches + " --repeats " + repeats
                + (jobOnly ? " --job-only" : "") + (confFile == null ? "" : " --conf " + confFile));
        report.put("model", model.toString());
        report.put("pairs_per_minibatch", pairsPerBatch);
        report.put("minibatches", minibatches);
        report.put("tokens", tokens);
        report.put("matmul_gflops", matmul / 1e9);
        ObjectNode machine = Machine.describe();
        machine.put("loadAverage1mBefore", Math.round(loadBefore * 1000) / 1000.0);
        machine.put("loadAverage1mAfter", Math.round(loadAfter * 1000) / 1000.0);
        report.set("machine", machine);
        Map<String, String> figures = new LinkedHashMap<>();
        figures.put("seconds", "wall-clock seconds to fit all minibatches once (Spark: fit, with the building of"
                + " its DataSets; session start, RDD caching and stop excluded); the end-to-end job: the whole"
                + " TrainJob.run (reading shards, step-0 and later evals, metrics, checkpoints; session start and"
                + " stop excluded)");
        figures.put("tokensPerSecond", "prompt + response tokens of both rows of every pair / seconds");
        figures.put("mfu", "3 x forward FLOPs of every processed position / seconds / ND4J float32 matmul FLOP/s");
        List<RepeatFigures.Ratio> ratioDefinitions = new ArrayList<>();
        ratioDefinitions.add(new RepeatFigures.Ratio("job/plain", JOB, JOB_PLAIN));
        for (String master : jobOnly ? List.<String>of() : List.of("parameterAveraging", "sharedTraining")) {
            ratioDefinitions.add(new RepeatFigures.Ratio(master + " local[1]/plain", "spark local[1] " + master,
                    "plain"));
            ratioDefinitions.add(new RepeatFigures.Ratio(master + " local[2]/plain", "spark local[2] " + master,
                    "plain"));
            ratioDefinitions.add(new RepeatFigures.Ratio(master + " local[2]/local[1]", "spark local[2] " + master,
                    "spark local[1] " + master));
        }
        RepeatFigures.describe(report, figures, "tokensPerSecond", ratioDefinitions);
        ArrayNode variants = report.putArray(RepeatFigures.RESULTS);
        Map<String, Double> medianTps = new LinkedHashMap<>();
        StringBuilder md = new StringBuilder("# Training throughput\n\n");
        md.append("Command: `").append(report.get("command").asText()).append("`  \n");
        md.append("Model: ").append(model).append(", ").append(minibatches).append(" SGDPO minibatches of ")
                .append(pairsPerBatch).append(" pairs; ND4J float32 matmul ").append(String.format("%.2f", matmul / 1e9))
                .append(" GFLOP/s; ").append(report.get("machine").get("cores").asInt()).append(" cores, ")
                .append(report.get("machine").get("cpu").asText()).append(", Java ")
                .append(System.getProperty("java.version"))
                .append(String.format("; 1-minute load average %.1f before, %.1f after.%n%n", loadBefore, loadAfter));
        md.append("| variant | median s | min s | max s | tokens/s | MFU |\n|---|---|---|---|---|---|\n");
        double flopsPerRun = 3.0 * model.forwardFlopsPerToken() * positions;
        for (String name : seconds.keySet()) {
            boolean ofJob = name.equals(JOB) || name.equals(JOB_PLAIN) || name.equals(JOB_PLAIN_PADDED);
            double flops = !ofJob ? flopsPerRun : name.equals(JOB_PLAIN_PADDED)
                    ? job.flopsPerRun() * job.paddedPositionsRatio() : job.flopsPerRun();
            RepeatFigures f = new RepeatFigures().add("seconds", seconds.get(name))
                    .addRate("tokensPerSecond", ofJob ? job.tokens() : tokens, seconds.get(name))
                    .addRate("mfu", flops / matmul, seconds.get(name));
            double tps = f.median("tokensPerSecond");
            medianTps.put(name, tps);
            ObjectNode n = variants.addObject();
            n.put(RepeatFigures.VARIANT, name);
            n.put("median_s", f.median("seconds"));
            n.put("min_s", f.min("seconds"));
            n.put("max_s", f.max("seconds"));
            n.put("tokens_per_s", tps);
            n.put("mfu", f.median("mfu"));
            f.writeTo(n);
            md.append(String.format("| %s | %.2f | %.2f | %.2f | %.0f | %.4f |%n", name, f.median("seconds"),
                    f.min("seconds"), f.max("seconds"), tps, f.median("mfu")));
        }
        ObjectNode ratios = report.putObject("ratios");
        md.append("\nRatios of medians from the same run:\n\n");
        double jobRatio = medianTps.get(JOB) / medianTps.get(JOB_PLAIN);
        ratios.put("job_over_plain", jobRatio);
        md.append(String.format("- sgdpo train end to end / plain fit of its minibatches: %.2f (goal >= 0.8)%n",
                jobRatio));
        double ownLength = medianTps.get(JOB_PLAIN) / medianTps.get(JOB_PLAIN_PADDED);
        ratios.put("plain_over_plain_padded", ownLength);
        ratios.put("padded_positions_over_positions", job.paddedPositionsRatio());
        md.append(String.format("- plain fit, minibatches padded to their own longest row / padded to model.maxLength:"
                + " %.2f (positions computed: %.2f times as many padded to model.maxLength)%n", ownLength,
                job.paddedPositionsRatio()));
        double updateRatio = RepeatFigures.median(jobUpdateTps) / medianTps.get(JOB_PLAIN);
        ratios.put("job_updates_over_plain", updateRatio);
        report.put("job_update_tokens_per_s", RepeatFigures.median(jobUpdateTps));
        md.append(String.format("- the job's updates alone (its own tokens_per_s of each chunk after the first: tokens /"
                + " seconds of the trainer's fit; median over chunks, then over repeats, %.0f tokens/s) / plain fit: %.2f%n",
                RepeatFigures.median(jobUpdateTps), updateRatio));
        ObjectNode phases = report.putObject("job_phase_median_s");
        StringBuilder phaseLine = new StringBuilder();
        for (Map.Entry<String, double[]> phase : jobPhases.entrySet()) {
            double median = RepeatFigures.median(phase.getValue());
            phases.put(phase.getKey(), median);
            phaseLine.append(phaseLine.length() == 0 ? "" : ", ")
                    .append(String.format("%s %.2f", phase.getKey(), median));
        }
        md.append("- where the job's time goes (its own clock, TrainJob.Result#seconds; median s per phase over"
                + " repeats): ").append(phaseLine).append('\n');
        report.put("job_model", job.model());
        report.put("job_settings", job.settings());
        report.put("job_steps", job.steps());
        report.put("job_tokens", job.tokens());
        md.append("\nEnd-to-end job: ").append(job.model()).append("; ").append(job.settings()).append(", ")
                .append(job.tokens()).append(" tokens; tokens/s of the job = those tokens / the whole TrainJob.run.\n");
        Double plain = medianTps.get("plain");
        for (String master : jobOnly ? List.<String>of() : List.of("parameterAveraging", "sharedTraining")) {
            double one = medianTps.get("spark local[1] " + master);
            double two = medianTps.get("spark local[2] " + master);
            ratios.put(master + "_local1_over_plain", one / plain);
            ratios.put(master + "_local2_over_plain", two / plain);
            ratios.put(master + "_local2_over_local1", two / one);
            md.append(String.format("- %s: local[1]/plain %.2f, local[2]/plain %.2f, local[2]/local[1] %.2f%n",
                    master, one / plain, two / plain, two / one));
        }
        outDir.mkdirs();
        Files.writeString(new File(outDir, "train.json").toPath(),
                json.writerWithDefaultPrettyPrinter().writeValueAsString(report), StandardCharsets.UTF_8);
        Files.writeString(new File(outDir, "train.md").toPath(), md.toString(), StandardCharsets.UTF_8);
        out.print(md);
    }

    /** Seconds to fit all minibatches once, from the same initial parameters. */
    private static double time(Variant v, DecoderConfig model, LossSpec spec, List<DataSet> batches,
                               List<Minibatches.Batch> pairBatches, PairedBatch layout, PreferenceLoss loss, int round) {
        ComputationGraph graph = Decoder.create(model, new PairedPreferenceLoss(spec), new Adam(1e-4), DataType.FLOAT);
        if (v.master() == null) {
            long start = System.nanoTime();
            for (DataSet b : batches) {
                graph.fit(b);
            }
            return (System.nanoTime() - start) / 1e9;
        }
        SparkSession spark = SparkSessions.start("bench-train", Map.of("spark.master", "local[" + v.cores() + "]",
                "spark.ui.enabled", "false"));
        try (TaskThreads threads = TaskThreads.inLocalMode(spark.sparkContext())) { // as sgdpo train runs its tasks
            JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            Config master = ConfigFactory.parseMap(Map.of("kind", v.master(), "shared.port",
                    String.valueOf(40200 + 10 * round + v.cores()))).withFallback(SgdpoConfig.reference()
                    .getConfig("train.master"));
            var rdd = sc.parallelize(pairBatches, v.cores()).cache();
            rdd.count();
            try (DistributedTrainer trainer = TrainingMasters.create(sc, graph, master, new TrainingMasters.Run(
                    pairBatches.get(0).pairs().size(), 2, null, 1e-4, 0, 42))) {
                long start = System.nanoTime();
                trainer.fit(rdd, (index, pairs) -> layout.build(pairs, loss, 42, index, DataType.FLOAT), 0);
                return (System.nanoTime() - start) / 1e9;
            }
        } finally {
            spark.stop();
        }
    }

    private static PairExample randomPair(Random random, DecoderConfig model, String id) {
        int prompt = 8 + random.nextInt(16);
        int room = model.maxLength() - prompt;
        int chosen = 8 + random.nextInt(room - 8);
        int rejected = 8 + random.nextInt(room - 8);
        return new PairExample(id, ids(random, prompt, model.vocabSize()), ids(random, chosen, model.vocabSize()),
                ids(random, rejected, model.vocabSize()),
                logps(random, chosen), logps(random, rejected));
    }

    /** n random token ids of a vocabulary, above EOS and PAD (0 and 1). */
    static int[] ids(Random random, int n, int vocabSize) {
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = 2 + random.nextInt(vocabSize - 2);
        }
        return ids;
    }

    /** n random reference log-probs in [-5, -1). */
    static double[] logps(Random random, int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = -1 - 4 * random.nextDouble();
        }
        return v;
    }
}
