package io.sgdpo.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.sgdpo.checkpoint.Checkpoints;
import io.sgdpo.config.ConfigurationException;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Preference training end to end on a slice of the real HH data, Spark local[2]: prep, an SFT
 * reference, reference log-probs, then SGDPO and DPO with each training master.
 */
@Tag("spark")
class TrainJobTest {

    private static SparkSession spark;
    @TempDir
    static File work;
    private static TrainFixture fixture;
    private static java.util.Set<String> shmBefore;

    @BeforeAll
    static void setUp() throws Exception {
        shmBefore = AeronFiles.snapshot();
        spark = SparkSession.builder().master("local[2]").appName("train-test")
                .config("spark.ui.enabled", "false").getOrCreate();
        fixture = TrainFixture.create(spark, work, 1200, Map.of("sft.epochs", "2", "sft.batchSize", "8",
                "sft.learningRate", "3e-3", "sft.trainEvalPairs", "32"));
    }

    @AfterAll
    static void tearDown() throws Exception {
        spark.stop();
        AeronFiles.removeAllBut(shmBefore);
    }


    private static Config config(Map<String, String> overrides) {
        Map<String, String> base = new java.util.HashMap<>(Map.of("train.maxSteps", "120", "train.batchSize", "8",
                "train.learningRate", "1e-3", "train.logEvery", "10", "train.evalEvery", "40",
                "train.checkpointEvery", "40", "loss.beta", "0.1"));
        base.putAll(overrides);
        return ConfigFactory.parseMap(base).withFallback(fixture.config).resolve();
    }

    private static TrainJob.Result train(String name, Map<String, String> overrides) throws Exception {
        return TrainJob.run(spark, fixture.data, fixture.reference, new File(work, name).getAbsolutePath(),
                config(overrides), false, new PrintStream(System.out));
    }

    private static double at(List<Map<String, Object>> rows, int index, String key) {
        return ((Number) rows.get(index).get(key)).doubleValue();
    }

    private static void printTrajectory(String label, List<Map<String, Object>> rows) {
        System.out.println(label + ": step  eval_rewards/chosen  eval_rewards/rejected  eval_accuracy  eval_margin");
        for (Map<String, Object> r : rows) {
            if (r.containsKey("eval_rewards/chosen")) {
                System.out.printf("%s: %4s  %19.4f  %21.4f  %13.3f  %11.4f%n", label, r.get("step"),
                        r.get("eval_rewards/chosen"), r.get("eval_rewards/rejected"), r.get("eval_rewards/accuracies"),
                        r.get("eval_rewards/margins"));
            }
        }
    }

    private static void assertLearns(String label, List<Map<String, Object>> rows) {
        printTrajectory(label, rows);
        int last = rows.size() - 1;
        double accuracy = at(rows, last, "eval_rewards/accuracies");
        assertTrue(accuracy > 0.5, label + ": final eval reward accuracy " + accuracy);
        // Step 0 compares the reference with itself in one forward pass: rewards, accuracy and margin
        // exactly 0 on any CPU (against the stored reference log-probs they would be float32 noise).
        assertEquals(0.0, at(rows, 0, "eval_rewards/accuracies"), label + ": step-0 accuracy");
        assertEquals(0.0, at(rows, 0, "eval_rewards/margins"), label + ": step-0 margin");
        assertTrue(accuracy > at(rows, 0, "eval_rewards/accuracies"), label + ": accuracy did not rise");
        assertTrue(at(rows, last, "eval_rewards/margins") > at(rows, 0, "eval_rewards/margins"),
                label + ": eval margin did not rise");
    }

    @Test
    void sgdpoAndDpoLearnWithParameterAveragingAndCarryRewardTrajectories() throws Exception {
        TrainJob.Result sgdpo = train("sgdpo-pa", Map.of());
        TrainJob.Result dpo = train("dpo-pa", Map.of("loss.name", "dpo"));
        assertLearns("sgdpo/parameterAveraging", sgdpo.metrics());
        assertLearns("dpo/parameterAveraging", dpo.metrics());
        for (TrainJob.Result r : List.of(sgdpo, dpo)) {
            long evalRows = r.metrics().stream().filter(m -> m.containsKey("eval_rewards/chosen")).count();
            assertEquals(4, evalRows, "eval at steps 0, 40, 80, 120");
            Map<String, Object> row = r.metrics().get(1);
            for (String key : List.of("loss", "rewards/chosen", "rewards/rejected", "rewards/accuracies",
                    "rewards/margins", "logps/chosen", "logps/rejected", "learning_rate", "tokens_per_s", "run_id")) {
                assertTrue(row.containsKey(key), "metrics row lacks " + key + ": " + row.keySet());
            }
        }
        File run = new File(work, "sgdpo-pa");
        assertTrue(new File(run, "metrics/train.parquet").isDirectory());
        assertEquals(sgdpo.metrics().size(), spark.read().parquet(new File(run, "metrics/train.parquet").getPath())
                .count());
        assertTrue(new File(run, "metrics/curves.png").length() > 1000);
        assertTrue(new File(run, "_manifest.json").isFile());
        // where the run's time went: every phase it went through, none negative
        assertEquals(java.util.Set.of("data and model", TrainJob.EVALUATION, "training master", "minibatches",
                TrainJob.UPDATES, TrainJob.METRIC_FILES, "checkpoints", "other"), sgdpo.seconds().keySet());
        sgdpo.seconds().forEach((phase, seconds) -> assertTrue(seconds >= 0 && (seconds > 0 || phase.equals("other")),
                phase + ": " + seconds));
    }

    @Test
    void sgdpoLearnsWithSharedTraining() throws Exception {
        // The same settings as ParameterAveraging's: the encoding threshold follows the learning rate.
        TrainJob.Result shared = train("sgdpo-shared", Map.of("train.master.kind", "sharedTraining"));
        assertLearns("sgdpo/sharedTraining", shared.metrics());
    }

    @Test
    void aRunKilledMidwayAndResumedEndsLikeAnUninterruptedOne() throws Exception {
        Map<String, String> o = Map.of("train.maxSteps", "12", "train.checkpointEvery", "4", "train.evalEvery", "4",
                "train.logEvery", "2");
        TrainJob.Result whole = train("whole", o);
        String killed = new File(work, "killed").getAbsolutePath();
        // The progress line after step 6 is the kill: the checkpoint of step 4 is the latest.
        PrintStream dying = new PrintStream(new OutputStream() {
            private final ByteArrayOutputStream line = new ByteArrayOutputStream();

            @Override
            public void write(int b) {
                line.write(b);
                if (b == '\n' && line.toString(StandardCharsets.UTF_8).contains("step 6/12")) {
                    throw new IllegalStateException("killed");
                }
                if (b == '\n') {
                    line.reset();
                }
            }
        }, true);
        assertThrows(IllegalStateException.class, () -> TrainJob.run(spark, fixture.data, fixture.reference, killed,
                config(o), false, dying));
        assertTrue(new File(killed, "checkpoints/step-0000000004").isDirectory());
        assertFalse(new File(killed, "checkpoints/step-0000000008").exists());
        TrainJob.Result resumed = TrainJob.run(spark, fixture.data, null, killed, config(o), true,
                new PrintStream(System.out));

        var a = Checkpoints.load(whole.checkpoint().toString(), new Configuration()).graph().params();
        var b = Checkpoints.load(resumed.checkpoint().toString(), new Configuration()).graph().params();
        double maxDiff = org.nd4j.linalg.ops.transforms.Transforms.abs(a.sub(b)).maxNumber().doubleValue();
        System.out.println("resume: max |parameter difference| vs uninterrupted run = " + maxDiff);
        // Bit-identical, on any CPU: data order, pilots and learning rates are functions of (seed,
        // step), the optimizer state is in the checkpoint, and every step replays the same
        // computation in this JVM. ParameterAveraging on local[2] adds two workers' results, the
        // same sum in either order (with three or more, the order tasks finish in would decide the
        // rounding). The metric rows compare exactly for the same reason.
        assertEquals(0.0, maxDiff, "resumed parameters differ from the uninterrupted run's");
        assertEquals(whole.metrics().size(), resumed.metrics().size());
        for (int i = 0; i < whole.metrics().size(); i++) {
            for (String key : List.of("step", "loss", "eval_rewards/accuracies", "eval_rewards/margins")) {
                Object expected = whole.metrics().get(i).get(key);
                Object actual = resumed.metrics().get(i).get(key);
                if (expected == null || actual == null) {
                    assertEquals(expected, actual, "row " + i + " " + key);
                } else {
                    assertEquals(((Number) expected).doubleValue(), ((Number) actual).doubleValue(), 0.0,
                            "row " + i + " " + key);
                }
            }
        }

        // The checkpoint's graph holds the loss its gradient comes from: resuming under another
        // loss.* config fails before any work, naming each differing key, and changes nothing.
        java.nio.file.Path metricsFile = new File(killed, "metrics/" + TrainJob.METRICS).toPath();
        byte[] metricsBefore = java.nio.file.Files.readAllBytes(metricsFile);
        Map<String, String> otherLoss = new java.util.HashMap<>(o);
        otherLoss.put("loss.name", "dpo");
        otherLoss.put("loss.beta", "0.25");
        ConfigurationException e = assertThrows(ConfigurationException.class, () -> TrainJob.run(spark,
                fixture.data, null, killed, config(otherLoss), true, new PrintStream(System.out)));
        assertTrue(e.getMessage().contains("loss.name (sgdpo vs dpo)"), e.getMessage());
        assertTrue(e.getMessage().contains("loss.beta"), e.getMessage());
        assertFalse(e.getMessage().contains("loss.r1"), e.getMessage());
        assertTrue(java.util.Arrays.equals(metricsBefore, java.nio.file.Files.readAllBytes(metricsFile)),
                "the refused resume rewrote the metrics");
    }

    @Test
    void aNonFiniteLossStopsAtOnceNamingStepAndPairsAndKeepsTheLastGoodCheckpoint() throws Exception {
        File poisoned = new File(work, "poisoned");
        var all = spark.read().parquet(new File(fixture.data, "pairs").getPath());
        // 64 train pairs, 8 steps an epoch: the poisoned pair comes within the first 8 steps, not
        // after ~100 of the whole split's; checkpoints every 2 steps keep a good one before it.
        var table = all.where("split != 'train'").union(all.where("split = 'train'").orderBy("pair_id").limit(64));
        String victim = table.where("split = 'train'").orderBy("pair_id").first().getString(0);
        table.withColumn(io.sgdpo.prep.PairSchema.CHOSEN_REF_LOGPS, org.apache.spark.sql.functions.when(
                        org.apache.spark.sql.functions.col("pair_id").equalTo(victim),
                        org.apache.spark.sql.functions.array(org.apache.spark.sql.functions.lit(Double.NaN)))
                        .otherwise(org.apache.spark.sql.functions.col(io.sgdpo.prep.PairSchema.CHOSEN_REF_LOGPS)))
                .withColumn("chosen_ids", org.apache.spark.sql.functions.when(
                        org.apache.spark.sql.functions.col("pair_id").equalTo(victim),
                        org.apache.spark.sql.functions.slice(org.apache.spark.sql.functions.col("chosen_ids"), 1, 1))
                        .otherwise(org.apache.spark.sql.functions.col("chosen_ids")))
                .write().parquet(new File(poisoned, "pairs").getPath());
        for (String file : List.of("vocab.json", "_manifest.json")) { // what a ref-logps output holds beside its pairs
            java.nio.file.Files.copy(new File(fixture.data, file).toPath(), new File(poisoned, file).toPath());
        }
        String run = new File(work, "nan-run").getAbsolutePath();
        Config c = config(Map.of("train.maxSteps", "200", "train.checkpointEvery", "2", "train.evalEvery", "0",
                "train.logEvery", "2"));
        TrainJob.NonFiniteException e = assertThrows(TrainJob.NonFiniteException.class, () -> TrainJob.run(spark,
                poisoned.getPath(), fixture.reference, run, c, false, new PrintStream(System.out)));
        System.out.println(e.getMessage());
        assertTrue(e.getMessage().contains(victim), e.getMessage());
        long failedStep = Long.parseLong(e.getMessage().replaceAll(".* at step (\\d+);.*", "$1"));
        var latest = new Checkpoints(new org.apache.hadoop.fs.Path(run).getFileSystem(new Configuration()),
                new org.apache.hadoop.fs.Path(run, "checkpoints")).latest();
        if (failedStep > 0) {
            assertEquals(failedStep, Checkpoints.load(latest.orElseThrow().toString(), new Configuration())
                    .state().step(), "the last good checkpoint is the latest");
        } else {
            assertTrue(latest.isEmpty());
        }
    }

    @Test
    void configErrorsFailBeforeAnyWorkNamingTheKey() {
        for (String[] bad : new String[][] {{"loss.name", "kto"}, {"train.master.kind", "allreduce"},
            {"loss.beta", "0"}, {"loss.r1", "1.5"}, {"loss.r2", "0"}, {"train.batchSize", "0"}}) {
            String run = new File(work, "bad-" + bad[0]).getAbsolutePath();
            ConfigurationException e = assertThrows(ConfigurationException.class, () -> TrainJob.run(spark,
                    fixture.data, fixture.reference, run, config(Map.of(bad[0], bad[1])), false,
                    new PrintStream(System.out)));
            assertTrue(e.getMessage().contains(bad[0]), e.getMessage());
            assertFalse(new File(run).exists(), "work started before the config error for " + bad[0]);
        }
    }
}
