package io.sgdpo.cli;

import com.typesafe.config.Config;
import io.sgdpo.eval.EvalJob;
import java.io.PrintStream;
import java.util.List;
import org.apache.spark.sql.SparkSession;

/** {@code sgdpo eval}: runs {@link EvalJob}. */
final class EvalCommand extends JobCommand {

    @Override
    public String summary() {
        return "checkpoint + eval split -> held-out eval_ metrics, generations, gold exact match";
    }

    @Override
    void help(PrintStream s) {
        s.println("Usage: sgdpo eval --data DIR --model MODEL --output DIR2 [--gold FILE] [--conf FILE] [-Dkey=value...]");
        s.println();
        s.println("  --data DIR     a ref-logps output (eval split with reference log-probs; a prep output is");
        s.println("                 enough for losses without a reference, e.g. -Dloss.name=simpo)");
        s.println("  --model MODEL  a checkpoint folder, e.g. RUN/checkpoints/step-0000000200, or a Hugging Face folder");
        s.println("  --output DIR2  eval.json (metrics under training's eval_ names, gold score), generations.jsonl");
        s.println("                 (greedy + sampled responses for eval.prompts prompts), gold.jsonl");
        s.println("  --gold FILE    JSON Lines of {\"prompt\": ..., \"answer\": ...}: exact-match accuracy of greedy");
        s.println("                 responses (the demo writes one for its generated task)");
        s.println("  --conf FILE    HOCON config file (eval.*, loss.*)");
        s.println("  -Dkey=value    config override, e.g. -Dloss.name=dpo -Deval.samples=5; spark.* keys go to Spark");
        s.println();
        s.println("Exit status: 0 ok, 1 job failed, 2 usage or config error.");
    }

    @Override
    String name() {
        return "eval";
    }

    @Override
    List<String> valueFlags() {
        return List.of("--data", "--model", "--output", "--gold");
    }

    @Override
    List<String> required(Args args) {
        return List.of("--data", "--model", "--output");
    }

    @Override
    void execute(Args args, Config config, SparkSession spark, PrintStream out) throws Exception {
        EvalJob.Result r = EvalJob.run(spark, args.value("--data"), args.value("--model"), args.value("--output"),
                args.value("--gold"), config, out);
        out.println("sgdpo eval: wrote " + r.output());
    }
}
