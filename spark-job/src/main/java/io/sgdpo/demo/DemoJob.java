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
import io.sgdpo.prep.AtomicOutput;
import io.sgdpo.prep.Manifest;
import io.sgdpo.prep.PrepJob;
import io.sgdpo.prep.ref.RefLogpsJob;
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

    /** One evaluated policy: the reference or a trained run. */
    public record Outcome(String policy, Path evalDir, int evalPairs, double rewardAccuracy, double rewardMargin,
                          double chosenReward, double rejectedReward, double logpsChosen, double logpsRejected,
                          Double goldExactMatch, int goldPrompts, Double carryingExactMatch, Double otherExactMatch) {
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
        Stages stages = new Stages("demo", progress, 5 + losses.size());
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
            prep(spark, List.of(files.sft().toString()), List.of(), sftData, config, progress);
            prep(spark, List.of(files.preferences().toString()), List.of(), preferenceData, config, progress);
            gold = files.gold().toString();
        } else {
            stages.begin("prep " + String.join(", ", data));
            preferenceData = path(out, "prep");
            sftData = preferenceData;
            prep(spark, data, List.of(), preferenceData, config, progress);
        }

        stages.begin("sft: the reference policy");
        String reference = sft(spark, fs, sftData, path(out, "sft"), config, progress);

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
        outcomes.add(evaluate(spark, "reference (SFT)", refData, reference, path(out, "eval/reference"), gold,
                config, progress));
        for (int i = 0; i < losses.size(); i++) {
            Path run = runs.get(i);
            String checkpoint = new Checkpoints(fs, new Path(run, "checkpoints")).latest().orElseThrow().toString();
            outcomes.add(evaluate(spark, losses.get(i), refData, checkpoint, new Path(run, "eval").toString(), gold,
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
        return losses(config, "demo.losses");
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
    public static String sft(SparkSession spark, FileSystem fs, String data, String runDir, Config config,
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
                m.get("eval_logps/chosen"), m.get("eval_logps/rejected"), r.gold() == null ? null : r.gold().exactMatch(), r.gold() == null ? 0 : r.gold().prompts(),
                carrying, other);
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

    /** Numbered stage headers with the time each stage took. */
    public static final class Stages {
        private final String command;
        private final PrintStream progress;
        private final int total;
        private int current;
        private long started;
        private String name;

        /** @param command the name in each header, e.g. "demo" */
        public Stages(String command, PrintStream progress, int total) {
            this.command = command;
            this.progress = progress;
            this.total = total;
        }

        /** Ends the current stage, if any, and starts the next. */
        public void begin(String next) {
            end();
            current++;
            name = next;
            started = System.nanoTime();
            progress.printf("%n== %s [%d/%d] %s%n", command, current, total, next);
        }

        /** Ends the current stage, printing its time. */
        public void end() {
            if (name != null) {
                String finished = name;
                name = null;
                progress.printf("== %s [%d/%d] %s: done in %.0f s%n", command, current, total, finished,
                        (System.nanoTime() - started) / 1e9);
            }
        }
    }
}
