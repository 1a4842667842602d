package io.sgdpo.cli;

import com.typesafe.config.Config;
import io.sgdpo.train.SftJob;
import java.io.PrintStream;
import java.util.List;
import org.apache.spark.sql.SparkSession;

/** {@code sgdpo sft}: runs {@link SftJob}. */
final class SftCommand extends JobCommand {

    @Override
    public String summary() {
        return "prep shards (prompt + chosen) -> reference policy checkpoint (supervised fine-tuning)";
    }

    @Override
    void help(PrintStream s) {
        s.println("Usage: sgdpo sft --data DIR --output RUN [--init MODEL] [--resume] [--conf FILE] [-Dkey=value...]");
        s.println();
        s.println("  --data DIR    a prep output folder (pairs/, vocab.json), any Hadoop URI");
        s.println("  --init MODEL  fine-tune this model: a Hugging Face folder (the data prepped with");
        s.println("                --tokenizer-from MODEL) or a checkpoint; without it a model of model.* is");
        s.println("                trained from scratch");
        s.println("  --output RUN  run folder: checkpoints/step-N/, metrics/sft.jsonl, _manifest.json");
        s.println("  --resume      continue the run in RUN from its latest checkpoint");
        s.println("  --conf FILE   HOCON config file (model.*, sft.*, train.master.*)");
        s.println("  -Dkey=value   config override, e.g. -Dsft.epochs=5 -Dtrain.master.kind=sharedTraining;");
        s.println("                spark.* keys go to Spark, e.g. -Dspark.master=local[2] (default local[*])");
        s.println();
        s.println("Exit status: 0 ok, 1 job failed, 2 usage or config error.");
    }

    @Override
    String name() {
        return "sft";
    }

    @Override
    List<String> valueFlags() {
        return List.of("--data", "--output", "--init");
    }

    @Override
    List<String> switchFlags() {
        return List.of("--resume");
    }

    @Override
    List<String> required(Args args) {
        return List.of("--data", "--output");
    }

    @Override
    void execute(Args args, Config config, SparkSession spark, PrintStream out) throws Exception {
        SftJob.Result r = SftJob.run(spark, args.value("--data"), args.value("--init"), args.value("--output"), config, args.has("--resume"),
                out);
        out.println("sgdpo sft: reference checkpoint " + r.checkpoint());
    }
}
