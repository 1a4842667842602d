package io.sgdpo.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.sgdpo.checkpoint.Checkpoints;
import io.sgdpo.config.ConfigurationException;
import java.io.File;
import java.io.PrintStream;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SFT through the Spark training master on a slice of the real HH data lowers the eval loss. */
@Tag("spark")
class SftJobTest {

    private static SparkSession spark;
    @TempDir
    static File work;
    private static Config config;
    private static java.util.Set<String> shmBefore;

    @BeforeAll
    static void prep() throws Exception {
        shmBefore = AeronFiles.snapshot();
        spark = SparkSession.builder().master("local[2]").appName("sft-test")
                .config("spark.ui.enabled", "false").getOrCreate();
        config = HhSlice.prep(spark, work, 400, Map.of("sft.epochs", "3", "sft.batchSize", "8",
                "sft.learningRate", "3e-3", "sft.trainEvalPairs", "48"));
    }

    @AfterAll
    static void stop() throws java.io.IOException {
        spark.stop();
        AeronFiles.removeAllBut(shmBefore);
    }


    @Test
    void sftLowersEvalLossBelowTheUntrainedModelsAndCheckpointsEveryEpoch() throws Exception {
        String run = new File(work, "sft-run").getAbsolutePath();
        SftJob.Result r = SftJob.run(spark, new File(work, "prep").getAbsolutePath(), null, run, config, false,
                new PrintStream(System.out));
        List<Map<String, Object>> rows = r.metrics();
        assertEquals(4, rows.size(), "row 0 (untrained) + one per epoch");
        double untrained = (Double) rows.get(0).get("eval_loss");
        double trained = (Double) rows.get(3).get("eval_loss");
        System.out.printf("SFT eval loss: untrained %.4f -> after 3 epochs %.4f%n", untrained, trained);
        assertTrue(trained < untrained - 0.5, "eval loss " + untrained + " -> " + trained);
        assertTrue((Double) rows.get(3).get("train_loss") < (Double) rows.get(0).get("train_loss"));
        assertTrue(Math.abs(Math.log((Double) rows.get(3).get("eval_perplexity")) - trained) < 1e-9);
        Checkpoints.Loaded loaded = Checkpoints.load(r.checkpoint().toString(), new Configuration());
        assertEquals(3, loaded.state().epoch());
        assertEquals(((Number) rows.get(3).get("step")).longValue(), loaded.state().step());
        assertTrue(new File(run, "_manifest.json").isFile());
        assertTrue(new File(run, "metrics/" + SftJob.METRICS).isFile());

        ConfigurationException again = assertThrows(ConfigurationException.class, () -> SftJob.run(spark,
                new File(work, "prep").getAbsolutePath(), null, run, config, false, new PrintStream(System.out)));
        assertTrue(again.getMessage().contains("--resume"), again.getMessage());
    }

    @Test
    void badConfigFailsBeforeAnyWorkNamingTheKey() {
        Config bad = ConfigFactory.parseMap(Map.of("train.master.kind", "allreduce")).withFallback(config);
        String run = new File(work, "bad-run").getAbsolutePath();
        ConfigurationException e = assertThrows(ConfigurationException.class, () -> SftJob.run(spark,
                new File(work, "prep").getAbsolutePath(), null, run, bad, false, new PrintStream(System.out)));
        assertTrue(e.getMessage().contains("train.master.kind"), e.getMessage());
        Config zero = ConfigFactory.parseMap(Map.of("sft.batchSize", "0")).withFallback(config);
        ConfigurationException z = assertThrows(ConfigurationException.class, () -> SftJob.run(spark,
                new File(work, "prep").getAbsolutePath(), null, run, zero, false, new PrintStream(System.out)));
        assertTrue(z.getMessage().contains("sft.batchSize"), z.getMessage());
    }

    @Test
    void sharedTrainingMasterTrainsOverLoopback() throws Exception {
        Config shared = ConfigFactory.parseMap(Map.of("train.master.kind", "sharedTraining", "sft.epochs", "1"))
                .withFallback(config);
        String run = new File(work, "sft-shared").getAbsolutePath();
        java.util.Set<Thread> before = AeronPollers.running();
        SftJob.Result r = SftJob.run(spark, new File(work, "prep").getAbsolutePath(), null, run, shared, false,
                new PrintStream(System.out));
        // DL4J's transport threads end with the run instead of polling for the rest of the JVM's life.
        assertEquals(before, AeronPollers.running(), "SharedTraining's transport threads outlived the run");
        double untrained = (Double) r.metrics().get(0).get("eval_loss");
        double trained = (Double) r.metrics().get(1).get("eval_loss");
        System.out.printf("SFT (sharedTraining) eval loss: untrained %.4f -> after 1 epoch %.4f%n", untrained, trained);
        assertTrue(trained < untrained - 0.3, "eval loss " + untrained + " -> " + trained);
    }
}
