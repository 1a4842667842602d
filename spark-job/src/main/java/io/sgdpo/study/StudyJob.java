package io.sgdpo.study;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import io.sgdpo.checkpoint.Checkpoints;
import io.sgdpo.demo.ArithmeticTask;
import io.sgdpo.pipeline.Outcome;
import io.sgdpo.pipeline.PipelineStages;
import io.sgdpo.pipeline.PipelineSteps;
import io.sgdpo.prep.CodeVersion;
import io.sgdpo.prep.PrepJob;
import io.sgdpo.report.Machine;
import io.sgdpo.prep.ref.RefLogpsJob;
import io.sgdpo.train.MetricsLog;
import io.sgdpo.train.TrainJob;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;

/**
 * {@code sgdpo study}: on every data set of {@code study.datasets}, one SFT reference, then every
 * loss of {@code study.losses} trained with every seed of {@code study.seeds} from it (equal steps
 * and batch: the data set's {@code train.*}), and SGDPO's pilot-ratio sweep on one data set. Every
 * policy, the reference included, is evaluated on the data set's eval split with DPO's implicit
 * reward, so the numbers compare across losses; on the generated task also by the gold answers.
 *
 * <p>The heavy files go under the work folder ({@code WORK/NAME/} per data set: {@code data/},
 * {@code prep/}, {@code sft/}, {@code ref/}, {@code eval/reference}, {@code runs/LOSS-seedS},
 * {@code sweep/r1-R1_r2-R2-seedS}); the report goes to the output folder ({@link StudyReport}).
 * Like the demo, a rerun reuses finished stages and resumes unfinished training runs, so a study
 * interrupted after hours loses at most the steps since the last checkpoint.
 */
public final class StudyJob {

    private StudyJob() {
    }

    /**
     * One trained policy: its loss and seed (and ratios in the sweep), final evaluation, eval curve.
     *
     * @param resumed whether the run continued from a checkpoint of an earlier invocation
     */
    public record RunResult(String loss, long seed, Double r1, Double r2, Path dir, Outcome outcome,
                            List<Point> trajectory, boolean resumed) {
    }

    /** Mean sequence log-probs of the eval responses at one step of training (TrainJob's eval rows). */
    public record Point(long step, double logpsChosen, double logpsRejected) {
    }

    /**
     * What the study found on one data set.
     *
     * @param trainPairs pairs of the preference data's train split
     * @param evalPairs  pairs of its eval split
     * @param reference  the SFT reference, evaluated like the trained policies
     */
    public record DatasetResult(StudySettings.Dataset dataset, String description, long trainPairs, long evalPairs,
                                Outcome reference, List<RunResult> runs, List<RunResult> sweep) {
    }

    /**
     * Runs the study and writes its report.
     *
     * @param work        folder of the data, checkpoints and evaluations (any Hadoop URI)
     * @param output      folder of the report (replaced whole)
     * @param commandLine the command as typed, for the report
     */
    public static StudyReport.Study run(SparkSession spark, String work, String output, StudySettings settings,
                                        Config config, String commandLine, PrintStream progress) throws IOException {
        long start = System.nanoTime();
        String codeVersion = CodeVersion.current().commit();
        int runs = settings.datasets().size() * settings.losses().size() * settings.seeds().size()
                + (settings.sweep().enabled() ? settings.sweep().r1().size() * settings.sweep().r2().size()
                * settings.sweep().seeds().size() : 0);
        progress.printf("study: %d data sets, losses %s, seeds %s: %d training runs%s%n", settings.datasets().size(),
                settings.losses(), settings.seeds(), runs,
                settings.sweep().enabled() ? " (with the pilot-ratio sweep on " + settings.sweep().dataset() + ")" : "");
        PipelineStages stages = new PipelineStages("study", progress, 4 * settings.datasets().size() + 1);
        RunClock clock = new RunClock(runs, progress);
        List<DatasetResult> results = new ArrayList<>();
        for (StudySettings.Dataset d : settings.datasets()) {
            results.add(dataset(spark, new Path(work, d.name()), d, settings, stages, clock, progress));
        }
        stages.begin("report");
        StudyReport.Study study = new StudyReport.Study(commandLine, codeVersion,
                Machine.line(), (System.nanoTime() - start) / 60e9, settings, results, config);
        Path report = StudyReport.write(spark.sparkContext().hadoopConfiguration(), study, output);
        stages.end();
        progress.printf("study: finished in %.1f min; report %s%n", study.minutes(), report);
        return study;
    }

    private static DatasetResult dataset(SparkSession spark, Path dir, StudySettings.Dataset d, StudySettings settings,
                                         PipelineStages stages, RunClock clock, PrintStream progress)
            throws IOException {
        FileSystem fs = dir.getFileSystem(spark.sparkContext().hadoopConfiguration());
        Config config = d.config();
        String sftData;
        String preferenceData;
        String gold = null;
        String description;
        PrepJob.Result preferences;
        stages.begin(d.name() + ": prep");
        if (d.generated()) {
            ArithmeticTask.Settings task = ArithmeticTask.Settings.of(config.getConfig("demo.task"));
            ArithmeticTask.Files files = ArithmeticTask.write(fs, new Path(dir, "data"), task);
            sftData = new Path(dir, "prep/sft").toString();
            preferenceData = new Path(dir, "prep/preferences").toString();
            PipelineSteps.prep(spark, List.of(files.sft().toString()), List.of(), sftData, config, progress);
            preferences = PipelineSteps.prep(spark, List.of(files.preferences().toString()), List.of(), preferenceData,
                    config, progress);
            gold = files.gold().toString();
            description = String.format(Locale.ROOT, "the demo's generated task (prompts `n+1=`; %d SFT examples of"
                            + " which %.0f%% of the carrying answers drop the carry; %d preference pairs; gold answers"
                            + " of %d held-out prompts)", task.sftExamples(), 100 * task.sftNoise(),
                    task.preferencePairs(), task.heldOutPrompts());
        } else {
            preferenceData = new Path(dir, "prep").toString();
            sftData = preferenceData;
            preferences = PipelineSteps.prep(spark, d.train(), d.eval(), preferenceData, config, progress);
            description = "train " + String.join(", ", d.train())
                    + (d.eval().isEmpty() ? String.format(Locale.ROOT, " (eval split: prep.evalFraction %s)",
                    config.getValue("prep.evalFraction").unwrapped()) : "; eval " + String.join(", ", d.eval()));
        }
        JsonNode splits = preferences.manifest().counts().path("splits");

        stages.begin(d.name() + ": sft reference");
        String reference = PipelineSteps.sftReference(spark, fs, sftData, new Path(dir, "sft").toString(), config, progress);

        stages.begin(d.name() + ": ref-logps and the reference's evaluation");
        String refData = new Path(dir, "ref").toString();
        RefLogpsJob.run(spark, preferenceData, reference, refData, config);
        Outcome referenceOutcome = PipelineSteps.evaluate(spark, "reference (SFT)", refData, reference,
                new Path(dir, "eval/reference").toString(), gold, d.scoringConfig(), progress);

        stages.begin(d.name() + ": training runs");
        List<RunResult> runs = new ArrayList<>();
        for (String loss : settings.losses()) {
            for (long seed : settings.seeds()) {
                Path run = new Path(dir, "runs/" + loss + "-seed" + seed);
                Config runConfig = d.runConfig(loss, settings.lossSettings().get(loss), seed);
                clock.start(d.name() + " " + loss + " seed " + seed);
                runs.add(train(spark, fs, refData, reference, run, runConfig, loss, seed, null, null, gold, d,
                        progress));
                clock.done();
            }
        }
        List<RunResult> sweep = new ArrayList<>();
        StudySettings.Sweep s = settings.sweep();
        if (s.enabled() && s.dataset().equals(d.name())) {
            for (double r1 : s.r1()) {
                for (double r2 : s.r2()) {
                    for (long seed : s.seeds()) {
                        Path run = new Path(dir, String.format(Locale.ROOT, "sweep/r1-%s_r2-%s-seed%d", r1, r2, seed));
                        clock.start(String.format(Locale.ROOT, "%s sgdpo r1 %s r2 %s seed %d", d.name(), r1, r2,
                                seed));
                        sweep.add(train(spark, fs, refData, reference, run, s.runConfig(d, r1, r2, seed), "sgdpo",
                                seed, r1, r2, gold, d, progress));
                        clock.done();
                    }
                }
            }
        }
        return new DatasetResult(d, description, splits.path("train").asLong(), splits.path("eval").asLong(),
                referenceOutcome, runs, sweep);
    }

    private static RunResult train(SparkSession spark, FileSystem fs, String refData, String reference, Path run,
                                   Config runConfig, String loss, long seed, Double r1, Double r2, String gold,
                                   StudySettings.Dataset d, PrintStream progress) throws IOException {
        boolean resume = new Checkpoints(fs, new Path(run, "checkpoints")).latest().isPresent();
        TrainJob.run(spark, refData, reference, run.toString(), runConfig, resume, progress);
        String checkpoint = new Checkpoints(fs, new Path(run, "checkpoints")).latest().orElseThrow().toString();
        Outcome outcome = PipelineSteps.evaluate(spark, loss, refData, checkpoint, new Path(run, "eval").toString(), gold,
                d.scoringConfig(), progress);
        List<Point> trajectory = new ArrayList<>();
        for (Map<String, Object> row : MetricsLog.open(fs, new Path(run, "metrics/" + TrainJob.METRICS)).rows()) {
            if (row.get("eval_logps/chosen") instanceof Number c && row.get("eval_logps/rejected") instanceof Number r) {
                trajectory.add(new Point(((Number) row.get("step")).longValue(), c.doubleValue(), r.doubleValue()));
            }
        }
        return new RunResult(loss, seed, r1, r2, run, outcome, trajectory, resume);
    }

    /** Prints each run's start with its number, and the time its remaining runs take at the mean pace so far. */
    private static final class RunClock {
        private final int total;
        private final PrintStream progress;
        private int done;
        private long started;
        private long spent;

        RunClock(int total, PrintStream progress) {
            this.total = total;
            this.progress = progress;
        }

        void start(String what) {
            started = System.nanoTime();
            String left = done == 0 ? "" : String.format(Locale.ROOT, ", about %.0f min left",
                    spent / 60e9 / done * (total - done));
            progress.printf("%nstudy: run %d/%d: %s%s%n", done + 1, total, what, left);
        }

        void done() {
            done++;
            long took = System.nanoTime() - started;
            spent += took;
            progress.printf("study: run %d/%d done in %.0f s%n", done, total, took / 1e9);
        }
    }
}
