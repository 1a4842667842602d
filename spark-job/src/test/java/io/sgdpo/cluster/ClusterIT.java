package io.sgdpo.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import io.sgdpo.BuildOutput;
import io.sgdpo.checkpoint.Checkpoints;
import io.sgdpo.config.SgdpoConfig;
import io.sgdpo.prep.PrepJob;
import io.sgdpo.prep.ref.RefLogpsJob;
import java.io.BufferedReader;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The product on a real multi-process Spark cluster: bench/cluster.sh's standalone master and two
 * one-core workers on 127.0.0.1, each executor its own JVM, the job jar submitted as on any cluster.
 * Prep, SFT, ref-logps and training with both masters (SharedTraining's Aeron over loopback UDP
 * between the executor JVMs and the driver), compared with local mode where the algorithm is
 * deterministic. With {@code -Dsgdpo.cluster.full=true} it runs the whole HH slice of the training
 * tests, checks that training learns, kills an executor JVM in the middle of ref-logps and of
 * training, and writes its record to bench/cluster/ (see bench/cluster.sh for the command).
 */
class ClusterIT {

    private static final boolean FULL = Boolean.getBoolean("sgdpo.cluster.full");
    /** float32 machine epsilon, 2^-23. */
    private static final double EPS32 = Math.ulp(1.0f);
    /** The magnitude the logits of this test's small decoder stay below. */
    private static final double LOGIT_SCALE = 16;
    /** Slack for the rounding accumulated through the layers before the logits. */
    private static final double ULPS = 16;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The sizes of the training tests' HH slice. */
    private static final Map<String, String> SMALL = Map.ofEntries(Map.entry("prep.maxPromptLength", "24"),
            Map.entry("prep.maxTotalLength", "48"), Map.entry("tokenizer.vocabSize", "200"),
            Map.entry("prep.evalFraction", "0.15"), Map.entry("prep.maxRejectFraction", "0.5"),
            Map.entry("prep.shardTargetBytes", "64KiB"), Map.entry("model.maxLength", "48"),
            Map.entry("model.dModel", "32"), Map.entry("model.layers", "1"), Map.entry("model.heads", "2"));

    private final StringBuilder report = new StringBuilder();
    private final Map<String, Object> figures = new LinkedHashMap<>();

    @Test
    void thePipelineRunsOnAStandaloneClusterLikeInLocalMode(@TempDir File work) throws Exception {
        int records = FULL ? 1200 : 400;
        File slice = slice(work, records);
        String prep = uri(work, "prep-cluster");
        String prepLocal = uri(work, "prep-local");
        List<Long> started;
        long t0 = System.nanoTime();
        SparkSession spark = SparkSession.builder().master("local[2]").appName("cluster-it-local")
                .config("spark.ui.enabled", "false").getOrCreate();
        try (LoopbackCluster cluster = LoopbackCluster.start(new File(work, "cluster"), 2)) {
            started = new ArrayList<>(cluster.daemons());
            line("Cluster: master and 2 workers (1 core, 3g each) on 127.0.0.1, started in %.1f s; executors of "
                    + "2g, one per worker; %d HH records.", seconds(t0), records);

            // prep: the same output as local mode, byte for byte in every row, vocabulary and manifest.
            LoopbackCluster.Submission s = ok(cluster.submit(null, args("prep", "--input", uri(slice), "--output",
                    prep)), "prep");
            stage("prep", s);
            Config config = SgdpoConfig.load(null, SMALL);
            PrepJob.run(spark, List.of(uri(slice)), prepLocal, config);
            comparePrep(spark, prep, prepLocal);

            // sft on the cluster: the reference model.
            String sft = uri(work, "sft");
            s = ok(cluster.submit(null, args("sft", "--data", prep, "--output", sft, "-Dsft.epochs=" + (FULL ? 2 : 1),
                    "-Dsft.batchSize=8", "-Dsft.learningRate=3e-3", "-Dsft.trainEvalPairs=32")), "sft");
            stage("sft", s);
            String ckpt = latestCheckpoint(new File(work, "sft/checkpoints"));

            // ref-logps: equal to local mode's up to float32 rounding for the same checkpoint. Not exact:
            // the executors run ND4J and OpenBLAS with one thread, local mode with all cores, and
            // OpenBLAS's blocking, hence its rounding, follows the thread count on some CPU kernels
            // (e.g. Haswell's; SkylakeX's does not).
            String ref = uri(work, "ref-cluster");
            s = ok(cluster.submit(null, args("ref-logps", "--data", prep, "--model", ckpt, "--output", ref)),
                    "ref-logps");
            stage("ref-logps", s);
            String refLocal = uri(work, "ref-local");
            RefLogpsJob.run(spark, prep, ckpt, refLocal, config);
            RefDifference refDiff = refDifference(spark, ref, refLocal);
            figures.put("refLogpsMaxAbsDifferenceClusterVsLocal", refDiff.maxAbs());
            figures.put("refLogpsDifferenceClusterVsLocalOfFloat32Bound", refDiff.ofBound());
            line("ref-logps: max |cluster - local| over every per-token reference log-prob and sum = %.3g, "
                    + "%.3g of the float32 rounding bound.", refDiff.maxAbs(), refDiff.ofBound());
            assertTrue(refDiff.ofBound() <= 1, "cluster and local reference log-probs differ by " + refDiff.maxAbs()
                    + ", more than float32 rounding (" + refDiff.ofBound() + " times the bound)");

            // Training with each master.
            int steps = FULL ? 120 : 40;
            List<String> train = List.of("-Dtrain.maxSteps=" + steps, "-Dtrain.batchSize=8", "-Dtrain.logEvery=10",
                    "-Dtrain.evalEvery=" + (FULL ? 40 : 20), "-Dtrain.checkpointEvery=" + (FULL ? 40 : 20));
            for (String master : List.of("parameterAveraging", "sharedTraining")) {
                List<String> a = new ArrayList<>(List.of("train", "--data", ref, "--init", ckpt, "--output",
                        uri(work, "train-" + master), "-Dtrain.master.kind=" + master,
                        "-Dtrain.learningRate=" + (master.equals("sharedTraining") ? "3e-3" : "1e-3")));
                a.addAll(train);
                s = ok(cluster.submit(null, args(a.toArray(String[]::new))), "train " + master);
                stage("train " + master, s);
                checkTraining(master, new File(work, "train-" + master), ckpt);
            }

            if (FULL) {
                refLogpsLosesAnExecutor(cluster, work, prep, ckpt, ref, spark);
                trainingLosesAnExecutor(cluster, work, ref, ckpt);
                appendClusterLog(new File(work, "cluster/logs/master.log"));
            }
            started.addAll(cluster.executors().stream().map(ProcessHandle::pid).toList());
        } finally {
            spark.stop();
        }
        // Everything the cluster started is gone: master, workers and the executors they launched.
        Thread.sleep(500);
        for (long pid : started) {
            assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "process " + pid + " survived");
        }
        line("Stopped master, workers and executors by pid; whole run %.0f s.", seconds(t0));
        if (FULL) {
            writeRecord();
        }
    }

    // ---------------------------------------------------------------- executor loss

    private void refLogpsLosesAnExecutor(LoopbackCluster cluster, File work, String prep, String ckpt, String ref,
                                         SparkSession spark) throws Exception {
        String out = uri(work, "ref-killed");
        File shards = new File(work, ".ref-killed." + RefLogpsJob.PARTIAL_SUFFIX + "/" + RefLogpsJob.SHARDS_DIR);
        AtomicLong killed = new AtomicLong();
        // One shard at a time, so that most shards are still to do when the first is recorded.
        long deadline = System.nanoTime() + 600_000_000_000L;
        Thread watcher = new Thread(() -> {
            try {
                while (countFiles(shards) < 1) {
                    if (System.nanoTime() > deadline) {
                        return;
                    }
                    Thread.sleep(100);
                }
                killed.set(cluster.killOneExecutor());
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        watcher.setDaemon(true);
        watcher.start();
        LoopbackCluster.Submission s = cluster.submit(null, args("ref-logps", "--data", prep, "--model", ckpt,
                "--output", out, "-Dref.concurrentShards=1"));
        watcher.join(60_000);
        assertTrue(killed.get() > 0, "no executor was killed during ref-logps");
        stage("ref-logps, executor killed", s);
        line("ref-logps, executor JVM %d killed (SIGKILL) after the first of the shards was recorded: exit code %d.",
                killed.get(), s.code());
        LoopbackCluster.Submission finished = s;
        if (s.code() != 0) {
            finished = ok(cluster.submit(null, args("ref-logps", "--data", prep, "--model", ckpt, "--output", out)),
                    "ref-logps rerun");
            line("  The job failed; the same command again resumed it: %s", lastLines(finished.output(), 2));
        } else {
            line("  Spark's task retry finished the job in the same application: %s", lastLines(s.output(), 2));
        }
        File outDir = new File(work, "ref-killed");
        assertTrue(new File(outDir, "_manifest.json").isFile(), "no complete output after the executor loss");
        assertFalse(new File(work, ".ref-killed." + RefLogpsJob.PARTIAL_SUFFIX).exists(), "work folder left");
        try (Stream<java.nio.file.Path> files = Files.walk(outDir.toPath())) {
            assertEquals(List.of(), files.map(p -> p.getFileName().toString())
                    .filter(n -> n.startsWith("_tmp-") || n.startsWith("_temporary")).toList(), "half-written files");
        }
        // Exact: both outputs come from the cluster's executors (one thread each), shard by shard with
        // the same batches; a retried or resumed shard is the same computation again.
        double diff = refDifference(spark, out, ref).maxAbs();
        figures.put("refLogpsMaxAbsDifferenceKilledVsUndisturbed", diff);
        line("  Output against the undisturbed cluster run: max |difference| = %.3g over every value; the "
                + "output folder holds the manifest and the shards only.", diff);
        assertEquals(0.0, diff, "ref-logps after an executor loss differs from the undisturbed run");
        figures.put("refLogpsKill", finished == s ? "spark task retry" : "rerun resumed");
    }

    private void trainingLosesAnExecutor(LoopbackCluster cluster, File work, String ref, String ckpt)
            throws Exception {
        List<String> o = List.of("-Dtrain.maxSteps=30", "-Dtrain.batchSize=8", "-Dtrain.learningRate=1e-3",
                "-Dtrain.logEvery=5", "-Dtrain.evalEvery=10", "-Dtrain.checkpointEvery=10");
        String whole = uri(work, "train-whole");
        List<String> a = new ArrayList<>(List.of("train", "--data", ref, "--init", ckpt, "--output", whole));
        a.addAll(o);
        stage("train 30 steps, undisturbed", ok(cluster.submit(null, args(a.toArray(String[]::new))), "train"));

        String killedRun = uri(work, "train-killed");
        AtomicLong killed = new AtomicLong();
        List<String> b = new ArrayList<>(List.of("train", "--data", ref, "--init", ckpt, "--output", killedRun));
        b.addAll(o);
        LoopbackCluster.Submission s = cluster.submit(line -> {
            if (killed.get() == 0 && line.contains("step 15/30")) {
                try {
                    killed.set(cluster.killOneExecutor());
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }
        }, args(b.toArray(String[]::new)));
        assertTrue(killed.get() > 0, "no executor was killed during training");
        stage("train 30 steps, executor killed at step 15", s);
        line("train (ParameterAveraging), executor JVM %d killed (SIGKILL) right after the progress line of step "
                + "15 (the checkpoint of step 10 is the latest): exit code %d.", killed.get(), s.code());
        File ckpts = new File(work, "train-killed/checkpoints");
        if (s.code() != 0) {
            line("  The job failed (%s); checkpoints then: %s.", lastLines(s.output(), 1), list(ckpts));
            List<String> r = new ArrayList<>(List.of("train", "--data", ref, "--output", killedRun, "--resume"));
            r.addAll(o);
            LoopbackCluster.Submission resumed = ok(cluster.submit(null, args(r.toArray(String[]::new))),
                    "train --resume");
            stage("train --resume", resumed);
            line("  `train --resume` continued from the latest checkpoint and finished.");
            figures.put("trainKill", "failed, resumed from the last checkpoint");
        } else {
            line("  Spark's task retry finished the run in the same application.");
            figures.put("trainKill", "spark task retry");
        }
        assertEquals(List.of("step-0000000010", "step-0000000020", "step-0000000030"), list(ckpts),
                "checkpoints after the executor loss (no _tmp- or partial one)");
        INDArray p = Checkpoints.load(whole + "/checkpoints/step-0000000030", new Configuration()).graph().params();
        INDArray q = Checkpoints.load(killedRun + "/checkpoints/step-0000000030", new Configuration()).graph()
                .params();
        double diff = Transforms.abs(p.sub(q)).maxNumber().doubleValue();
        figures.put("trainMaxAbsParameterDifferenceKilledVsUndisturbed", diff);
        line("  Final parameters against the undisturbed 30-step run: max |difference| = %.3g.", diff);
        // Exact: the same minibatches on executors with the same thread count, and two workers, so
        // ParameterAveraging adds two results, in either order the same sum (with three or more,
        // the order tasks finish in would decide the rounding).
        assertEquals(0.0, diff, "training after an executor loss ended with other parameters");
    }

    // ---------------------------------------------------------------- comparisons

    private void comparePrep(SparkSession spark, String cluster, String local) throws IOException {
        for (String table : List.of("pairs", "rejects")) {
            List<Row> a = rows(spark, cluster + "/" + table);
            List<Row> b = rows(spark, local + "/" + table);
            assertEquals(b.size(), a.size(), table + " row count");
            for (int i = 0; i < a.size(); i++) {
                assertEquals(b.get(i), a.get(i), table + " row " + i);
            }
            figures.put("prep" + table + "Rows", a.size());
        }
        File c = new File(java.net.URI.create(cluster));
        File l = new File(java.net.URI.create(local));
        assertArrayEquals(Files.readAllBytes(new File(l, "vocab.json").toPath()),
                Files.readAllBytes(new File(c, "vocab.json").toPath()), "vocab.json");
        JsonNode mc = JSON.readTree(new File(c, "_manifest.json"));
        JsonNode ml = JSON.readTree(new File(l, "_manifest.json"));
        for (String key : List.of("fingerprint", "counts", "inputs", "vocabulary", "tokenizer", "config")) {
            assertEquals(ml.get(key), mc.get(key), "manifest " + key);
        }
        line("prep: cluster output equal to local mode's: %d pairs and %d rejects row by row, vocab.json byte for "
                + "byte, manifest fingerprint %s, counts, inputs, vocabulary and config.", figures.get("preppairsRows"),
                figures.get("preprejectsRows"), mc.get("fingerprint").asText().substring(0, 12));
    }

    private static List<Row> rows(SparkSession spark, String dir) {
        var df = spark.read().parquet(dir);
        String[] cols = df.columns();
        return df.orderBy(Arrays.stream(cols).map(org.apache.spark.sql.functions::col)
                .toArray(org.apache.spark.sql.Column[]::new)).collectAsList();
    }

    /**
     * How far two ref-logps outputs are apart, pairs matched by id, over every per-token reference
     * log-prob and both sums: the largest |a - b|, and the largest ratio of |a - b| to the float32
     * rounding bound of that value. The bound is {@link #ULPS} float32 ulps of max({@link
     * #LOGIT_SCALE}, |log p|) per token (a log-prob is a difference of logits, so its rounding
     * scales with the logits, which stay below 16 for this small decoder), and the tokens' bounds
     * added up for a sum: the rule of data-prep's LogProbTolerance, where the measurements behind
     * it are (at most 3e-6 per token, about 0.1 of the bound, across batch sizes, thread counts and
     * OpenBLAS kernels).
     */
    private record RefDifference(double maxAbs, double ofBound) {
    }

    private static RefDifference refDifference(SparkSession spark, String a, String b) {
        var x = spark.read().parquet(a + "/pairs").alias("a");
        var y = spark.read().parquet(b + "/pairs").alias("b");
        assertEquals(x.count(), y.count(), "pairs in " + a + " and " + b);
        List<Row> joined = x.join(y, "pair_id").select("a.chosen_ref_logps", "b.chosen_ref_logps",
                "a.rejected_ref_logps", "b.rejected_ref_logps", "a.chosen_ref_sum", "b.chosen_ref_sum",
                "a.rejected_ref_sum", "b.rejected_ref_sum").collectAsList();
        assertEquals(x.count(), joined.size(), "pair ids of " + a + " and " + b);
        double max = 0;
        double ofBound = 0;
        for (Row r : joined) {
            for (int k = 0; k < 4; k += 2) {
                List<Double> p = r.getList(k);
                List<Double> q = r.getList(k + 1);
                assertEquals(q.size(), p.size());
                double sumBound = 0;
                for (int i = 0; i < p.size(); i++) {
                    double d = Math.abs(p.get(i) - q.get(i));
                    double bound = ULPS * EPS32 * Math.max(LOGIT_SCALE, Math.abs(p.get(i)));
                    max = Math.max(max, d);
                    ofBound = Math.max(ofBound, d / bound);
                    sumBound += bound;
                }
                double d = Math.abs(r.getDouble(4 + k) - r.getDouble(5 + k)); // this side's sum
                max = Math.max(max, d);
                ofBound = Math.max(ofBound, d / sumBound);
            }
        }
        return new RefDifference(max, ofBound);
    }

    /** Training ran, moved the parameters and, in the full run, learned. */
    private void checkTraining(String master, File run, String init) throws IOException {
        List<JsonNode> evals = new ArrayList<>();
        for (String l : Files.readAllLines(new File(run, "metrics/train.jsonl").toPath())) {
            JsonNode r = JSON.readTree(l);
            if (r.has("eval_rewards/accuracies")) {
                evals.add(r);
            }
        }
        JsonNode first = evals.get(0);
        JsonNode last = evals.get(evals.size() - 1);
        StringBuilder t = new StringBuilder();
        evals.forEach(r -> t.append(String.format(" %d: %.3f / %.4f;", r.get("step").asLong(),
                r.get("eval_rewards/accuracies").asDouble(), r.get("eval_rewards/margins").asDouble())));
        line("train %s: eval reward accuracy / margin at step%s", master, t);
        figures.put("train " + master + " final eval accuracy", last.get("eval_rewards/accuracies").asDouble());
        figures.put("train " + master + " final eval margin", last.get("eval_rewards/margins").asDouble());
        INDArray before = Checkpoints.load(init, new Configuration()).graph().params();
        String finalCkpt = latestCheckpoint(new File(run, "checkpoints"));
        INDArray after = Checkpoints.load(finalCkpt, new Configuration()).graph().params();
        double moved = Transforms.abs(after.sub(before)).maxNumber().doubleValue();
        assertTrue(moved > 0 && Double.isFinite(moved), master + ": parameters did not move (" + moved + ")");
        if (FULL) {
            double acc = last.get("eval_rewards/accuracies").asDouble();
            assertTrue(acc > first.get("eval_rewards/accuracies").asDouble(), master + ": eval accuracy did not rise");
            assertTrue(last.get("eval_rewards/margins").asDouble() > first.get("eval_rewards/margins").asDouble(),
                    master + ": eval margin did not rise");
        }
    }

    // ---------------------------------------------------------------- helpers

    private static LoopbackCluster.Submission ok(LoopbackCluster.Submission s, String what) {
        assertEquals(0, s.code(), what + " on the cluster failed:\n" + lastLines(s.output(), 40));
        return s;
    }

    private static String[] args(String... a) {
        List<String> out = new ArrayList<>(List.of(a));
        SMALL.forEach((k, v) -> out.add("-D" + k + "=" + v));
        return out.toArray(String[]::new);
    }

    private static File slice(File work, int records) throws IOException {
        File data = new File(System.getProperty("sgdpo.shared.data", ""), "hh-rlhf/harmless-base-test.jsonl.gz");
        assertTrue(data.isFile(), "shared data file missing: " + data + " (failsafe sets sgdpo.shared.data)");
        File slice = new File(work, "hh-slice.jsonl");
        try (BufferedReader in = new BufferedReader(new InputStreamReader(new GZIPInputStream(
                new FileInputStream(data)), StandardCharsets.UTF_8));
             PrintWriter out = new PrintWriter(slice, StandardCharsets.UTF_8)) {
            for (int i = 0; i < records; i++) {
                out.println(in.readLine());
            }
        }
        return slice;
    }

    private static String uri(File f) {
        return f.getAbsoluteFile().toURI().toString();
    }

    private static String uri(File work, String name) {
        return "file://" + new File(work, name).getAbsolutePath();
    }

    private static String latestCheckpoint(File dir) {
        List<String> steps = list(dir);
        assertFalse(steps.isEmpty(), "no checkpoint under " + dir);
        return "file://" + new File(dir, steps.get(steps.size() - 1)).getAbsolutePath();
    }

    private static List<String> list(File dir) {
        String[] names = dir.list();
        if (names == null) {
            return List.of();
        }
        Arrays.sort(names);
        return List.of(names);
    }

    private static int countFiles(File dir) {
        String[] names = dir.list((d, n) -> n.endsWith(".json"));
        return names == null ? 0 : names.length;
    }

    private static String lastLines(String text, int n) {
        List<String> lines = text.lines().filter(l -> !l.isBlank()).toList();
        return String.join(" | ", lines.subList(Math.max(0, lines.size() - n), lines.size()));
    }

    private static double seconds(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    private void stage(String name, LoopbackCluster.Submission s) {
        figures.put(name + " seconds", Math.round(s.seconds() * 10) / 10.0);
        line("%s: %.1f s on the cluster, exit code %d.", name, s.seconds(), s.code());
    }

    private void line(String format, Object... args) {
        String l = String.format(format, args);
        System.out.println("cluster: " + l);
        report.append("- ").append(l).append('\n');
    }

    private void appendClusterLog(File masterLog) throws IOException {
        report.append("\nWhat the master logged about executors (bench/cluster.sh's master.log):\n\n");
        Files.readAllLines(masterLog.toPath()).stream()
                .filter(l -> l.contains("Removing executor") || l.contains("Launching executor")
                        || l.contains("Registered app") || l.contains("finished with state"))
                .forEach(l -> report.append("    ").append(l).append('\n'));
    }

    private void writeRecord() throws IOException {
        File dir = new File(BuildOutput.root(), "bench/cluster");
        double[] load = loadAverage();
        String md = "# sgdpo on a Spark standalone cluster on one machine\n\n"
                + "`bench/cluster.sh bench` (ClusterIT with -Dsgdpo.cluster.full=true) on "
                + Runtime.getRuntime().availableProcessors() + " cores, " + java.time.LocalDate.now()
                + String.format("; 1-minute load average at the end %.1f.", load[0])
                + " Other processes shared the cores, so the seconds are for orientation only.\n\n"
                + report;
        LoopbackCluster.write(new File(dir, "cluster.md"), md);
        LoopbackCluster.write(new File(dir, "cluster.json"),
                JSON.writerWithDefaultPrettyPrinter().writeValueAsString(figures) + "\n");
    }

    private static double[] loadAverage() {
        try {
            String[] f = Files.readString(new File("/proc/loadavg").toPath()).split("\\s+");
            return new double[] {Double.parseDouble(f[0])};
        } catch (IOException | RuntimeException e) {
            return new double[] {Double.NaN};
        }
    }
}
