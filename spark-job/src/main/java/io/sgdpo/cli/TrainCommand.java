package io.sgdpo.cli;

import com.typesafe.config.Config;
import io.sgdpo.train.TrainJob;
import java.io.PrintStream;
import java.util.List;
import org.apache.spark.sql.SparkSession;

/** {@code sgdpo train}: runs {@link TrainJob}. */
final class TrainCommand extends JobCommand {

    @Override
    public String summary() {
        return "shards with reference log-probs + initial policy -> aligned checkpoints + metrics (SGDPO, DPO, ...)";
    }

    @Override
    void help(PrintStream s) {
        s.println("Usage: sgdpo train --data DIR --init MODEL --output RUN [--resume] [--conf FILE] [-Dkey=value...]");
        s.println();
        s.println("  --data DIR    a ref-logps output folder (pairs/ with reference log-probs, vocab.json)");
        s.println("  --init MODEL  the reference model the policy starts from: a checkpoint (e.g. an sft run's");
        s.println("                latest) or a Hugging Face folder (the data prepped with --tokenizer-from MODEL)");
        s.println("  --output RUN  run folder: checkpoints/step-N/, metrics/{train.jsonl,train.parquet,curves.png},");
        s.println("                _manifest.json");
        s.println("  --resume      continue the run in RUN from its latest checkpoint (--init not needed)");
        s.println("  --conf FILE   HOCON config file (loss.*, train.*, model.dropout)");
        s.println("  -Dkey=value   config override, e.g. -Dloss.name=dpo -Dtrain.master.kind=sharedTraining;");
        s.println("                spark.* keys go to Spark, e.g. -Dspark.master=local[2] (default local[*])");
        s.println();
        s.println("Exit status: 0 ok, 1 job failed, 2 usage or config error.");
    }

    @Override
    String name() {
        return "train";
    }

    @Override
    List<String> valueFlags() {
        return List.of("--data", "--init", "--output");
    }

    @Override
    List<String> switchFlags() {
        return List.of("--resume");
    }

    @Override
    List<String> required(Args args) {
        return args.has("--resume") ? List.of("--data", "--output") : List.of("--data", "--init", "--output");
    }

    @Override
    void execute(Args args, Config config, SparkSession spark, PrintStream out) throws Exception {
        TrainJob.Result r = TrainJob.run(spark, args.value("--data"), args.value("--init"), args.value("--output"),
                config, args.has("--resume"), out);
        out.println("sgdpo train: final checkpoint " + r.checkpoint());
    }
}
