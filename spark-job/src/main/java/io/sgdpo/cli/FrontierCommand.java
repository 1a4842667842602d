package io.sgdpo.cli;

import com.typesafe.config.Config;
import io.sgdpo.config.ConfigurationException;
import io.sgdpo.online.FrontierJob;
import java.io.PrintStream;
import java.util.List;
import org.apache.spark.sql.SparkSession;

/** {@code sgdpo frontier}: see {@link FrontierJob}. */
final class FrontierCommand extends JobCommand {

    @Override
    public String summary() {
        return "reward vs KL(pi || pi_ref) of losses x betas x seeds trained on on-policy pairs -> bench/frontier";
    }

    @Override
    void help(PrintStream s) {
        s.println("Usage: sgdpo frontier --model M --work DIR --output DIR [--prompts FILE... --heldout FILE...]");
        s.println("                      [--conf FILE] [-Dkey=value...]");
        s.println("       sgdpo frontier --report DIR");
        s.println();
        s.println("  --model M          the reference (and initial policy): a Hugging Face folder or a checkpoint");
        s.println("  --work DIR         intermediate stages: prompts, pairs, prep, ref, runs, samples; the same command");
        s.println("                     again resumes an interrupted run from what it finished");
        s.println("  --output DIR       points.jsonl, frontier.md, frontier.png, samples/, config.conf; replaced as a whole");
        s.println("  --prompts FILE...  train prompt files (as sample-pairs reads them); default: story prompts");
        s.println("                     (frontier.trainPrompts of them)");
        s.println("  --heldout FILE...  held-out prompt files, with --prompts");
        s.println("  --conf FILE        HOCON config file (frontier.*, sample.*, reward.*, train.*, prep.*, model.maxLength);");
        s.println("                     conf/frontier.conf is the recorded full run");
        s.println("  --report DIR       write DIR's frontier.md and frontier.png again from its points.jsonl and");
        s.println("                     config.conf (an earlier --output), training nothing");
        s.println();
        s.println("Samples on-policy pairs from the reference, trains every loss of frontier.losses at every beta of");
        s.println("frontier.betas with every seed of frontier.seeds for train.maxSteps steps, then samples every policy");
        s.println("on the held-out prompts: mean reward and KL(pi || pi_ref) per policy, spreads over seeds.");
    }

    @Override
    String name() {
        return "frontier";
    }

    @Override
    List<String> valueFlags() {
        return List.of("--model", "--work", "--output", "--report");
    }

    @Override
    List<String> listFlags() {
        return List.of("--prompts", "--heldout");
    }

    @Override
    List<String> required(Args args) {
        return args.value("--report") != null ? List.of("--report") : List.of("--model", "--work", "--output");
    }

    @Override
    void validate(Args args) {
        if (args.value("--report") != null && (args.value("--model") != null || args.value("--work") != null
                || args.value("--output") != null
                || !args.all("--prompts").isEmpty())) {
            throw new ConfigurationException("--report rewrites an earlier output's report; it takes no other flag");
        }
        if (args.all("--prompts").isEmpty() != args.all("--heldout").isEmpty()) {
            throw new ConfigurationException("--prompts and --heldout go together");
        }
    }

    @Override
    void execute(Args args, Config config, SparkSession spark, PrintStream out) throws Exception {
        if (args.value("--report") != null) {
            FrontierJob.report(args.value("--report"), spark.sparkContext().hadoopConfiguration());
            out.printf("frontier: %s and %s of %s written again%n", FrontierJob.TABLE, FrontierJob.PLOT,
                    args.value("--report"));
            return;
        }
        List<String> prompts = args.all("--prompts");
        FrontierJob.Result r = FrontierJob.run(spark, args.value("--model"), prompts.isEmpty() ? null : prompts,
                prompts.isEmpty() ? null : args.all("--heldout"), args.value("--work"), args.value("--output"),
                config, out);
        out.printf("frontier: %d runs -> %s%n", r.runs(), r.output());
    }
}
