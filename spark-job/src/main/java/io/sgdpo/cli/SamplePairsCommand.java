package io.sgdpo.cli;

import com.typesafe.config.Config;
import io.sgdpo.online.SamplePairsJob;
import java.io.PrintStream;
import java.util.List;
import org.apache.spark.sql.SparkSession;

/** {@code sgdpo sample-pairs}: see {@link SamplePairsJob}. */
final class SamplePairsCommand extends JobCommand {

    @Override
    public String summary() {
        return "prompts + a policy -> on-policy preference pairs (best vs worst of k samples by a reward)";
    }

    @Override
    void help(PrintStream s) {
        s.println("Usage: sgdpo sample-pairs --input FILE... --model M --output DIR [--data DIR] [--conf FILE]");
        s.println("                          [-Dkey=value...]");
        s.println();
        s.println("  --input FILE...   prompt files, JSONL (or Parquet, by the .parquet extension), any Hadoop URI:");
        s.println("                    a prompt field (sample.promptField) and an optional id field per record");
        s.println("  --model M         the policy: a Hugging Face folder or a checkpoint");
        s.println("  --output DIR      pairs.jsonl (what sgdpo prep reads), samples.jsonl, rejects.jsonl and");
        s.println("                    _manifest.json; replaced as a whole");
        s.println("  --data DIR        a prep output whose vocabulary to use, for a checkpoint trained from scratch");
        s.println("  --conf FILE       HOCON config file (sample.*, reward.*, model.maxLength for a Hugging Face folder)");
        s.println();
        s.println("Samples sample.k completions per prompt on the executors, scores each with the reward (reward.type:");
        s.println("lexicon or pattern) and keeps the best and the worst of each prompt as a pair; a prompt whose");
        s.println("samples all score the same is a tie (dropped, counted). pairs + ties + failures = prompts.");
    }

    @Override
    String name() {
        return "sample-pairs";
    }

    @Override
    List<String> valueFlags() {
        return List.of("--model", "--output", "--data");
    }

    @Override
    List<String> listFlags() {
        return List.of("--input");
    }

    @Override
    List<String> required(Args args) {
        return List.of("--input", "--model", "--output");
    }

    @Override
    void execute(Args args, Config config, SparkSession spark, PrintStream out) throws Exception {
        SamplePairsJob.Result r = SamplePairsJob.run(spark, args.all("--input"), args.value("--model"),
                args.value("--data"), args.value("--output"), config, out);
        out.printf("sample-pairs: %d prompts: %d pairs, %d ties, %d failures -> %s%n", r.prompts(), r.pairs(), r.ties(),
                r.failures(), r.output());
    }
}
