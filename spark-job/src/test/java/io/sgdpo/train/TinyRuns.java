package io.sgdpo.train;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.io.FileUtils;
import org.apache.spark.sql.SparkSession;

/**
 * Two real, tiny preference training runs, SGDPO and DPO, from the same SFT reference on a small HH
 * slice: the runs that the report and notebook tests read. Built once per test JVM on first use
 * (tests of several classes share them) and deleted when the JVM exits.
 */
public final class TinyRuns {

    /** Steps of each run; eval at 0, {@link #EVAL_EVERY} and the end. */
    public static final int STEPS = 20;
    public static final int LOG_EVERY = 5;
    public static final int EVAL_EVERY = 10;

    private static TinyRuns instance;

    /** The folder holding everything (prep, sft, ref, the runs). */
    public final File work;
    /** The SFT run the policies start from: a run folder without metrics/train.jsonl. */
    public final File sft;
    public final File sgdpo;
    public final File dpo;
    public final List<Map<String, Object>> sgdpoRows;
    public final List<Map<String, Object>> dpoRows;

    private TinyRuns(File work, File sft, File sgdpo, File dpo, List<Map<String, Object>> sgdpoRows,
                     List<Map<String, Object>> dpoRows) {
        this.work = work;
        this.sft = sft;
        this.sgdpo = sgdpo;
        this.dpo = dpo;
        this.sgdpoRows = sgdpoRows;
        this.dpoRows = dpoRows;
    }

    /**
     * The runs, trained on first call. Uses the active Spark session when there is one (a test
     * class's own), otherwise starts a local[2] one and stops it afterwards.
     */
    public static synchronized TinyRuns get() throws Exception {
        if (instance == null) {
            boolean own = SparkSession.getActiveSession().isEmpty();
            SparkSession spark = SparkSession.builder().master("local[2]").appName("tiny-runs")
                    .config("spark.ui.enabled", "false").getOrCreate();
            try {
                instance = build(spark);
            } finally {
                if (own) {
                    spark.stop();
                }
            }
        }
        return instance;
    }

    private static TinyRuns build(SparkSession spark) throws Exception {
        File work = Files.createTempDirectory("sgdpo-tiny-runs").toFile();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                FileUtils.deleteDirectory(work);
            } catch (IOException e) {
                System.err.println("could not delete " + work + ": " + e.getMessage());
            }
        }));
        long start = System.nanoTime();
        TrainFixture fixture = TrainFixture.create(spark, work, 300, Map.of("sft.epochs", "1", "sft.batchSize", "8",
                "sft.learningRate", "3e-3", "sft.trainEvalPairs", "16"));
        File sgdpo = new File(work, "sgdpo");
        File dpo = new File(work, "dpo");
        List<Map<String, Object>> sgdpoRows = train(spark, fixture, sgdpo, "sgdpo");
        List<Map<String, Object>> dpoRows = train(spark, fixture, dpo, "dpo");
        System.out.printf("tiny runs: built in %.1f s%n", (System.nanoTime() - start) / 1e9);
        return new TinyRuns(work, new File(work, "sft"), sgdpo, dpo, sgdpoRows, dpoRows);
    }

    private static List<Map<String, Object>> train(SparkSession spark, TrainFixture fixture, File run, String loss)
            throws Exception {
        Map<String, String> o = new HashMap<>(Map.of("loss.name", loss, "loss.beta", "0.1",
                "train.maxSteps", Integer.toString(STEPS), "train.batchSize", "8", "train.learningRate", "1e-3",
                "train.logEvery", Integer.toString(LOG_EVERY), "train.evalEvery", Integer.toString(EVAL_EVERY),
                "train.checkpointEvery", "0"));
        Config config = ConfigFactory.parseMap(o).withFallback(fixture.config).resolve();
        return TrainJob.run(spark, fixture.data, fixture.reference, run.getAbsolutePath(), config, false,
                new PrintStream(System.out)).metrics();
    }
}
