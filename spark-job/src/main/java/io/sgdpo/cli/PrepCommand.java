package io.sgdpo.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import io.sgdpo.config.ConfigurationException;
import io.sgdpo.prep.Manifest;
import io.sgdpo.prep.PrepJob;
import java.io.PrintStream;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;

/** {@code sgdpo prep}: runs {@link PrepJob}. */
final class PrepCommand extends JobCommand {

    @Override
    public String summary() {
        return "raw preference pairs (JSONL/Parquet, local/HDFS) -> tokenized pair shards + rejects + manifest";
    }

    @Override
    void help(PrintStream s) {
        s.println("Usage: sgdpo prep --input PATH... [--eval-input PATH...] --output DIR [--tokenizer-from MODEL_DIR]");
        s.println("                  [--conf FILE] [-Dkey=value...]");
        s.println();
        s.println("  --input PATH...       JSONL (plain or .gz) or Parquet files or folders, any Hadoop URI");
        s.println("                        (file://, hdfs://); repeat the flag or list several paths. Each pair");
        s.println("                        goes to the eval split by a hash of its id (prep.evalFraction)");
        s.println("  --eval-input PATH...  files or folders whose pairs all go to the eval split, for data sets");
        s.println("                        that ship a held-out file (UltraFeedback's test_prefs); their text is");
        s.println("                        not in the vocabulary, and a pair also in an --input is kept here only.");
        s.println("                        prep.evalFraction still applies to --input (set it to 0 to evaluate on");
        s.println("                        these files alone); a path may not be both --input and --eval-input");
        s.println("  --output DIR          output folder: pairs/ (Parquet shards), rejects/, vocab.json, _manifest.json");
        s.println("  --tokenizer-from MODEL_DIR");
        s.println("                        a Hugging Face model folder (config.json, tokenizer.json) whose own tokenizer");
        s.println("                        encodes the pairs, to align that model: its ids untrimmed, BOS/EOS as it");
        s.println("                        says, message-list prompts through its chat_template (tokenizer.from)");
        s.println("  --conf FILE           HOCON config file; keys documented in data-prep's reference.conf");
        s.println("  -Dkey=value           config override, e.g. -Dprep.evalFraction=0.1 -Dtokenizer.vocabSize=16000;");
        s.println("                        spark.* keys go to Spark, e.g. -Dspark.master=local[2] (default local[*])");
        s.println();
        s.println("Rerunning with the same inputs (and roles) and config does nothing. Exit status: 0 ok, 1 job");
        s.println("failed (unreadable input, too many rejects: see prep.maxRejectFraction), 2 usage or config error.");
    }

    @Override
    String name() {
        return "prep";
    }

    @Override
    List<String> valueFlags() {
        return List.of("--output", "--tokenizer-from");
    }

    @Override
    List<String> listFlags() {
        return List.of("--input", "--eval-input");
    }

    @Override
    List<String> required(Args args) {
        return List.of("--input", "--output");
    }

    /**
     * A path named both as --input and as --eval-input is a usage error: its pairs cannot be both
     * hash-split and all eval. Paths are compared after Hadoop's normalization (repeated and trailing
     * slashes); files reached both ways through folders or other spellings are caught by the job.
     */
    @Override
    void validate(Args args) {
        Set<String> inputs = new HashSet<>();
        for (String input : args.all("--input")) {
            inputs.add(normalized(input));
        }
        for (String eval : args.all("--eval-input")) {
            if (inputs.contains(normalized(eval))) {
                throw new ConfigurationException("--eval-input " + eval + " is also an --input: a path's pairs are"
                        + " either split by hash (--input) or all eval (--eval-input); name it once");
            }
        }
    }

    private static String normalized(String path) {
        try {
            return new Path(path).toString();
        } catch (IllegalArgumentException e) {
            // Not a valid Hadoop path: compare as typed; the job reports it.
            return path;
        }
    }

    @Override
    void execute(Args args, Config config, SparkSession spark, PrintStream out) throws Exception {
        if (args.value("--tokenizer-from") != null) {
            config = ConfigValueFactory.fromAnyRef(args.value("--tokenizer-from")).atPath("tokenizer.from")
                    .withFallback(config);
        }
        report(PrepJob.run(spark, args.all("--input"), args.all("--eval-input"), args.value("--output"), config),
                out);
    }

    private static void report(PrepJob.Result r, PrintStream out) {
        Manifest m = r.manifest();
        JsonNode c = m.counts();
        if (r.status() == PrepJob.Status.UP_TO_DATE) {
            out.println("sgdpo prep: " + r.output() + " is up to date (same inputs, config and tokenizer);"
                    + " nothing to do");
        } else {
            out.println("sgdpo prep: wrote " + r.output());
        }
        out.printf("  read %d = kept %d + rejected %d (train %d, eval %d)%n", c.path("read").asLong(),
                c.path("kept").asLong(), c.path("rejected").asLong(), c.path("splits").path("train").asLong(),
                c.path("splits").path("eval").asLong());
        StringBuilder reasons = new StringBuilder();
        c.path("rejectedByReason").fields().forEachRemaining(e -> {
            if (e.getValue().asLong() > 0) {
                reasons.append(' ').append(e.getKey()).append('=').append(e.getValue().asLong());
            }
        });
        out.println("  rejected by reason:" + (reasons.length() == 0 ? " none" : reasons));
        JsonNode t = c.path("truncated");
        out.printf("  truncated pairs %d (prompt %d, chosen %d, rejected %d)%n", t.path("pairs").asLong(),
                t.path("prompt").asLong(), t.path("chosen").asLong(), t.path("rejected").asLong());
        out.printf("  vocabulary %d ids (%s %s), %d shard(s)%n", m.section("vocabulary").path("size").asInt(),
                m.section("tokenizer").path("type").asText(), m.section("tokenizer").path("identity").asText(),
                m.section("pairs").path("shards").asInt());
    }
}
