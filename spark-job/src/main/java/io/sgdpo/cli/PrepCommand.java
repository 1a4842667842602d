package io.sgdpo.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import io.sgdpo.prep.PrepJob;
import java.io.PrintStream;
import java.util.List;
import org.apache.spark.sql.SparkSession;

/** {@code sgdpo prep}: runs {@link PrepJob}. */
final class PrepCommand extends JobCommand {

    @Override
    public String summary() {
        return "raw preference pairs (JSONL/Parquet, local/HDFS) -> tokenized pair shards + rejects + manifest";
    }

    @Override
    void help(PrintStream s) {
        s.println("Usage: sgdpo prep --input PATH... --output DIR [--conf FILE] [-Dkey=value...]");
        s.println();
        s.println("  --input PATH...  JSONL (plain or .gz) or Parquet files or folders, any Hadoop URI");
        s.println("                   (file://, hdfs://); repeat the flag or list several paths");
        s.println("  --output DIR     output folder: pairs/ (Parquet shards), rejects/, vocab.json, _manifest.json");
        s.println("  --conf FILE      HOCON config file; keys documented in data-prep's reference.conf");
        s.println("  -Dkey=value      config override, e.g. -Dprep.evalFraction=0.1 -Dtokenizer.vocabSize=16000;");
        s.println("                   spark.* keys go to Spark, e.g. -Dspark.master=local[2] (default local[*])");
        s.println();
        s.println("Rerunning with the same inputs and config does nothing. Exit status: 0 ok, 1 job failed");
        s.println("(unreadable input, too many rejects: see prep.maxRejectFraction), 2 usage or config error.");
    }

    @Override
    String name() {
        return "prep";
    }

    @Override
    List<String> valueFlags() {
        return List.of("--output");
    }

    @Override
    List<String> listFlags() {
        return List.of("--input");
    }

    @Override
    List<String> required(Args args) {
        return List.of("--input", "--output");
    }

    @Override
    void execute(Args args, Config config, SparkSession spark, PrintStream out) throws Exception {
        report(PrepJob.run(spark, args.all("--input"), args.value("--output"), config), out);
    }

    private static void report(PrepJob.Result r, PrintStream out) {
        JsonNode m = r.manifest();
        JsonNode c = m.path("counts");
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
        out.printf("  vocabulary %d ids (%s), %d shard(s)%n", m.path("vocabulary").path("size").asInt(),
                m.path("tokenizer").path("identity").asText(), m.path("pairs").path("shards").asInt());
    }
}
