package io.sgdpo.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import io.sgdpo.checkpoint.Checkpoints;
import io.sgdpo.config.ConfigurationException;
import io.sgdpo.config.SgdpoConfig;
import io.sgdpo.loss.LossSpec;
import io.sgdpo.eval.EvalJob;
import io.sgdpo.output.AtomicOutput;
import io.sgdpo.prep.Manifest;
import io.sgdpo.prep.PrepJob;
import io.sgdpo.prep.ref.RefLogpsJob;
import io.sgdpo.pipeline.Outcome;
import io.sgdpo.pipeline.PipelineStages;
import io.sgdpo.pipeline.PipelineSteps;
import io.sgdpo.report.RunReport;
import io.sgdpo.train.SftJob;
import io.sgdpo.train.TrainJob;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;

/**
 * {@code sgdpo demo}: the whole pipeline in one Spark application, prep -> sft -> ref-logps ->
 * train (each loss of {@code demo.losses}, SGDPO and DPO by default, from the same reference) ->
 * eval -> report, on the generated {@link ArithmeticTask} or on real preference data.
 *
 * <p>Layout under the output folder: {@code data/} (the generated task), {@code prep/} (for the
 * generated task {@code prep/sft} and {@code prep/preferences}; for real data one prep whose
 * chosen responses are also the SFT data), {@code sft/}, {@code ref/}, {@code runs/LOSS/} (each
 * with its {@code eval/}), {@code eval/reference/}, {@code report/} and {@code summary.md}.
 *
 * <p>A rerun picks up where a previous one stopped: prep and ref-logps skip what is up to date,
 * a finished SFT run is reused and an unfinished one resumed, a training run resumes from its
 * latest checkpoint (and only rewrites its metric files when it had finished). Evaluations, the
 * report and the summary are recomputed.
 */
public final class DemoJob {

    /** The side-by-side table, also written as {@code summary.md}. */
    public static final String SUMMARY = "summary.md";

    private static final ObjectMapper JSON = new ObjectMapper();

    private DemoJob() {
    }

    /** What the demo produced. */
    public record Result(Path output, List<Outcome> outcomes, Path summary, Path report, List<Path> runs) {
    }

    /**
     * @param data real preference data (any input prep reads), or an empty list for the generated task
     */
    public static Result run(SparkSession spark, String outDir, List<String> data, Config config,
                             PrintStream progress) throws IOException {
        Path out = new Path(outDir);
        FileSystem fs = out.getFileSystem(spark.sparkContext().hadoopConfiguration());
        boolean generated = data.isEmpty();
        List<String> losses = losses(config);
        PipelineStages stages = new PipelineStages("demo", progress, 5 + losses.size());
        long start = System.nanoTime();

        String sftData;
        String preferenceData;
        String gold = null;
        if (generated) {
            stages.begin("generate the arithmetic task and prep it");
            ArithmeticTask.Settings task = ArithmeticTask.Settings.of(config.getConfig("demo.task"));
            ArithmeticTask.Files files = ArithmeticTask.write(fs, new Path(out, "data"), task);
            progress.printf("demo: %d SFT examples (%.0f%% of carrying answers drop the carry), %d preference pairs,"
                            + " %d held-out prompts with gold answers under %s%n", task.sftExamples(),
                    100 * task.sftNoise(), task.preferencePairs(), task.heldOutPrompts(), files.sft().getParent());
            sftData = path(out, "prep/sft");
            preferenceData = path(out, "prep/preferences");
            PipelineSteps.prep(spark, List.of(files.sft().toString()), List.of(), sftData, config, progress);
            PipelineSteps.prep(spark, List.of(files.preferences().toString()), List.of(), preferenceData, config,
                    progress);
            gold = files.gold().toString();
        } else {
            stages.begin("prep " + String.join(", ", data));
            preferenceData = path(out, "prep");
            sftData = preferenceData;
            PipelineSteps.prep(spark, data, List.of(), preferenceData, config, progress);
        }

        stages.begin("sft: the reference policy");
        String reference = PipelineSteps.sftReference(spark, fs, sftData, path(out, "sft"), config, progress);

        stages.begin("ref-logps: reference log-probs of the preference pairs");
        String refData = path(out, "ref");
        RefLogpsJob.Result ref = RefLogpsJob.run(spark, preferenceData, reference, refData, config);
        progress.printf("demo: %s %s%n", ref.status() == RefLogpsJob.Status.UP_TO_DATE ? "up to date:" : "wrote",
                ref.output());

        List<Path> runs = new ArrayList<>();
        for (String loss : losses) {
            stages.begin("train with " + loss);
            Path run = new Path(out, "runs/" + loss);
            Config runConfig = config.withValue("loss.name", ConfigValueFactory.fromAnyRef(loss));
            boolean resume = new Checkpoints(fs, new Path(run, "checkpoints")).latest().isPresent();
            TrainJob.run(spark, refData, reference, run.toString(), runConfig, resume, progress);
            runs.add(run);
        }

        stages.begin("eval: reference and trained policies" + (gold == null ? "" : " (with gold answers)"));
        List<Outcome> outcomes = new ArrayList<>();
        outcomes.add(PipelineSteps.evaluate(spark, "reference (SFT)", refData, reference, path(out, "eval/reference"), gold,
                config, progress));
        for (int i = 0; i < losses.size(); i++) {
            Path run = runs.get(i);
            String checkpoint = new Checkpoints(fs, new Path(run, "checkpoints")).latest().orElseThrow().toString();
            outcomes.add(PipelineSteps.evaluate(spark, losses.get(i), refData, checkpoint, new Path(run, "eval").toString(), gold,
                    config.withValue("loss.name", ConfigValueFactory.fromAnyRef(losses.get(i))), progress));
        }

        stages.begin("report: curves and final table of the runs");
        Path report = RunReport.write(spark.sparkContext().hadoopConfiguration(),
                runs.stream().map(Path::toString).toList(), path(out, "report"), progress);
        stages.end();

        String table = table(outcomes, gold != null);
        Path summary = new Path(out, SUMMARY);
        AtomicOutput.replaceString(fs, summary, summaryText(table, generated, data, config));
        progress.println();
        progress.println(table);
        progress.printf("demo: finished in %.1f min; summary %s%n", (System.nanoTime() - start) / 60e9, summary);
        return new Result(out, outcomes, summary, report, runs);
    }

    /**
     * The losses of {@code demo.losses}: a list in a config file, or a comma-separated string from
     * {@code -Ddemo.losses=sgdpo,dpo,ipo}. Fails before any work when one is unknown or misconfigured.
     */
    static List<String> losses(Config config) {
        return PipelineSteps.losses(config, "demo.losses");
    }

    /** The side-by-side table (Markdown, readable as plain text too). */
    static String table(List<Outcome> outcomes, boolean withGold) {
        StringBuilder t = new StringBuilder();
        int pairs = outcomes.get(0).evalPairs();
        t.append(withGold ? String.format(Locale.ROOT, "| policy | gold exact match (%d held-out prompts) "
                + "| carrying prompts | other prompts ", outcomes.get(0).goldPrompts()) : "| policy ");
        t.append(String.format(Locale.ROOT, "| eval reward accuracy (%d pairs) | eval margin | chosen reward "
                + "| rejected reward |%n", pairs));
        t.append(withGold ? "|---|---|---|---|---|---|---|---|\n" : "|---|---|---|---|---|\n");
        for (Outcome o : outcomes) {
            boolean reference = o.policy().startsWith("reference");
            t.append("| ").append(o.policy()).append(' ');
            if (withGold) {
                t.append(String.format(Locale.ROOT, "| %.3f | %s | %s ", o.goldExactMatch(),
                        o.carryingExactMatch() == null ? "-" : String.format(Locale.ROOT, "%.3f", o.carryingExactMatch()),
                        o.otherExactMatch() == null ? "-" : String.format(Locale.ROOT, "%.3f", o.otherExactMatch())));
            }
            if (reference) {
                // Rewards are log-ratios against the reference itself: zero by definition.
                t.append("| - | - | - | - |\n");
            } else {
                t.append(String.format(Locale.ROOT, "| %.3f | %.3f | %.3f | %.3f |%n", o.rewardAccuracy(),
                        o.rewardMargin(), o.chosenReward(), o.rejectedReward()));
            }
        }
        return t.toString();
    }

    private static String summaryText(String table, boolean generated, List<String> data, Config config) {
        StringBuilder s = new StringBuilder("# sgdpo demo\n\n");
        if (generated) {
            Config task = config.getConfig("demo.task");
            int maxAddend = task.getInt("maxAddend");
            s.append(String.format(Locale.ROOT, "Generated task: prompts %s; the SFT mix drops the carry"
                            + " in %.0f%% of the carrying answers; preference pairs choose the correct sum. Gold metric:"
                            + " exact match of greedy answers on held-out prompts (%.0f%% of them carry).%n%n",
                    maxAddend == 1 ? "`n+1=`" : "`n+k=` (k <= " + maxAddend + ")", 100 * task.getDouble("sftNoise"),
                    100 * task.getDouble("carryFraction")));
        } else {
            s.append("Data: ").append(String.join(", ", data)).append("\n\n");
        }
        s.append(table).append('\n');
        s.append(String.format(Locale.ROOT, "Every policy trained %s steps of %d pairs from the same reference"
                        + " (beta %s). Curves and per-run details: report/%s.%n",
                config.getLong("train.maxSteps") > 0 ? Long.toString(config.getLong("train.maxSteps"))
                        : config.getInt("train.epochs") + " epoch(s) of", config.getInt("train.batchSize"),
                config.getValue("loss.beta").unwrapped(), RunReport.MARKDOWN));
        return s.toString();
    }

    private static String path(Path out, String child) {
        return new Path(out, child).toString();
    }
}
