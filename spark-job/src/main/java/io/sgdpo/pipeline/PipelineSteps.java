package io.sgdpo.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import io.sgdpo.checkpoint.Checkpoints;
import io.sgdpo.config.ConfigurationException;
import io.sgdpo.config.SgdpoConfig;
import io.sgdpo.demo.ArithmeticTask;
import io.sgdpo.eval.EvalJob;
import io.sgdpo.loss.LossSpec;
import io.sgdpo.prep.Manifest;
import io.sgdpo.prep.PrepJob;
import io.sgdpo.train.SftJob;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;

/**
 * The stages that the multi-stage commands ({@code demo}, {@code study}) run the same way: prep
 * with its counts printed, an SFT reference reused when finished, the evaluation of a policy into
 * an {@link Outcome}, and a checked list of losses.
 */
public final class PipelineSteps {

    private static final ObjectMapper JSON = new ObjectMapper();

    private PipelineSteps() {
    }

    /**
     * The distinct losses listed at {@code key} (a list, or a comma-separated string from a -D
     * override), each checked against the loss.* settings of {@code config}.
     *
     * @throws ConfigurationException naming the key when one is unknown, repeated or misconfigured
     */
    public static List<String> losses(Config config, String key) {
        List<String> losses = SgdpoConfig.items(config, key);
        if (losses.isEmpty() || losses.size() != new HashSet<>(losses).size()) {
            throw new ConfigurationException(key + " must list distinct losses, got " + losses);
        }
        for (String loss : losses) {
            try {
                LossSpec.fromConfig(config.withValue("loss.name", ConfigValueFactory.fromAnyRef(loss))
                        .getConfig("loss"));
            } catch (IllegalArgumentException e) {
                throw new ConfigurationException(key + ": " + e.getMessage());
            }
        }
        return losses;
    }

    /** Preps {@code inputs} (and {@code evalInputs}, whole into the eval split) and prints the counts. */
    public static PrepJob.Result prep(SparkSession spark, List<String> inputs, List<String> evalInputs, String output,
                                      Config config, PrintStream progress) {
        PrepJob.Result r = PrepJob.run(spark, inputs, evalInputs, output, config);
        JsonNode c = r.manifest().counts();
        progress.printf("prep: %s %s: read %d = kept %d + rejected %d (train %d, eval %d)%n",
                r.status() == PrepJob.Status.UP_TO_DATE ? "up to date:" : "wrote", r.output(), c.path("read").asLong(),
                c.path("kept").asLong(), c.path("rejected").asLong(), c.path("splits").path("train").asLong(),
                c.path("splits").path("eval").asLong());
        return r;
    }

    /** The reference checkpoint: a finished SFT run's (its manifest is written last), else train or resume. */
    public static String sftReference(SparkSession spark, FileSystem fs, String data, String runDir, Config config,
                                      PrintStream progress) throws IOException {
        Manifest manifest = Manifest.readIfPresent(fs, new Path(runDir));
        if (manifest != null) {
            String checkpoint = manifest.section("checkpoint").path("path").asText();
            progress.println("sft: up to date: " + runDir + " (reference " + checkpoint + ")");
            return checkpoint;
        }
        boolean resume = new Checkpoints(fs, new Path(runDir, "checkpoints")).latest().isPresent();
        return SftJob.run(spark, data, null, runDir, config, resume, progress).checkpoint().toString();
    }

    /**
     * Evaluates a checkpoint with {@link EvalJob} (gold answers of the generated task when {@code gold}
     * is not null, scored apart on carrying prompts).
     */
    public static Outcome evaluate(SparkSession spark, String policy, String data, String checkpoint, String outDir,
                                   String gold, Config config, PrintStream progress) throws IOException {
        EvalJob.Result r = EvalJob.run(spark, data, checkpoint, outDir, gold, config, progress);
        var m = r.metrics();
        Double carrying = null;
        Double other = null;
        if (r.gold() != null) {
            // exact match apart on the prompts whose answer carries, where the SFT mix was noisy
            int[] correct = new int[2];
            int[] total = new int[2];
            FileSystem fs = r.output().getFileSystem(spark.sparkContext().hadoopConfiguration());
            try (BufferedReader in = new BufferedReader(new InputStreamReader(
                    fs.open(new Path(r.output(), EvalJob.GOLD)), StandardCharsets.UTF_8))) {
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                    JsonNode g = JSON.readTree(line);
                    int group = ArithmeticTask.carries(g.path("prompt").asText()) ? 0 : 1;
                    total[group]++;
                    correct[group] += g.path("correct").asBoolean() ? 1 : 0;
                }
            }
            carrying = total[0] == 0 ? null : (double) correct[0] / total[0];
            other = total[1] == 0 ? null : (double) correct[1] / total[1];
        }
        return new Outcome(policy, r.output(), r.pairs(), m.get("eval_rewards/accuracies"),
                m.get("eval_rewards/margins"), m.get("eval_rewards/chosen"), m.get("eval_rewards/rejected"),
                m.get("eval_logps/chosen"), m.get("eval_logps/rejected"), r.gold() == null ? null : r.gold().exactMatch(),
                r.gold() == null ? 0 : r.gold().prompts(), carrying, other);
    }
}
