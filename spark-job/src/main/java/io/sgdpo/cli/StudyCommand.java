package io.sgdpo.cli;

import com.typesafe.config.Config;
import io.sgdpo.study.StudyJob;
import io.sgdpo.study.StudySettings;
import java.io.PrintStream;
import java.util.List;
import org.apache.spark.sql.SparkSession;

/** {@code sgdpo study}: runs {@link StudyJob}. */
final class StudyCommand extends JobCommand {

    /** Where the report goes when no --output is given. */
    static final String DEFAULT_OUTPUT = "bench/study";
    /** Where data, checkpoints and evaluations go when no --work is given. */
    static final String DEFAULT_WORK = "runs/study";

    @Override
    public String summary() {
        return "compare losses (sgdpo, dpo, ipo, simpo) over seeds and data sets from one reference each -> bench/study";
    }

    @Override
    void help(PrintStream s) {
        s.println("Usage: sgdpo study --conf FILE [--output DIR] [--work DIR] [-Dkey=value...]");
        s.println();
        s.println("On every data set of study.datasets: prep, one SFT reference, ref-logps, then every loss of");
        s.println("study.losses trained once per seed of study.seeds with equal steps and batch, and SGDPO's");
        s.println("pilot-ratio sweep (study.sweep) on one data set. Every policy is evaluated with DPO's implicit");
        s.println("reward on the eval split (and gold answers on the generated task); the report gives each loss's");
        s.println("mean and standard deviation over seeds.");
        s.println();
        s.println("  --conf FILE   the study: study.* keys (see conf/study.conf and reference.conf)");
        s.println("  --output DIR  the report: study.md, study.json, config.json, trajectory PNGs (default "
                + DEFAULT_OUTPUT + ")");
        s.println("  --work DIR    data, checkpoints, evaluations (default " + DEFAULT_WORK + "); a rerun reuses");
        s.println("                finished stages and resumes unfinished training runs");
        s.println("  -Dkey=value   config override, e.g. -Dstudy.losses=sgdpo,dpo");
        s.println();
        s.println("Exit status: 0 ok, 1 job failed, 2 usage or config error.");
    }

    @Override
    String name() {
        return "study";
    }

    @Override
    List<String> valueFlags() {
        return List.of("--output", "--work");
    }

    @Override
    List<String> required(Args args) {
        return List.of("--conf");
    }

    @Override
    void execute(Args args, Config config, SparkSession spark, PrintStream out) throws Exception {
        StudySettings settings = StudySettings.of(config);
        String output = args.value("--output") == null ? DEFAULT_OUTPUT : args.value("--output");
        String work = args.value("--work") == null ? DEFAULT_WORK : args.value("--work");
        StudyJob.run(spark, work, output, settings, config, "./sgdpo " + name() + " " + String.join(" ", args.argv()),
                out);
    }
}
