package io.sgdpo.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import io.sgdpo.prep.Manifest;
import io.sgdpo.prep.ref.RefLogpsJob;
import java.io.PrintStream;
import java.util.List;
import org.apache.spark.sql.SparkSession;

/** {@code sgdpo ref-logps}: runs {@link RefLogpsJob}. */
final class RefLogpsCommand extends JobCommand {

    @Override
    public String summary() {
        return "prep shards + reference checkpoint -> shards with per-token reference log-probs";
    }

    @Override
    void help(PrintStream s) {
        s.println("Usage: sgdpo ref-logps --data DIR --model MODEL --output DIR2 [--conf FILE] [-Dkey=value...]");
        s.println();
        s.println("  --data DIR     a prep output folder (pairs/, vocab.json, _manifest.json), any Hadoop URI");
        s.println("  --model MODEL  a checkpoint folder (model.zip + state.properties), e.g. .../step-0000001000, or a");
        s.println("                 Hugging Face folder (config.json + model.safetensors; graph length model.maxLength)");
        s.println("  --output DIR2  output folder: pairs/ with chosen_ref_logps, rejected_ref_logps, chosen_ref_sum,");
        s.println("                 rejected_ref_sum beside the prep columns; vocab.json; _manifest.json");
        s.println("  --conf FILE    HOCON config file; ref.* keys documented in data-prep's reference.conf");
        s.println("  -Dkey=value    config override, e.g. -Dref.batchSize=16; spark.* keys go to Spark,");
        s.println("                 e.g. -Dspark.master=local[2] (default local[*])");
        s.println();
        s.println("An interrupted run resumes: rerun the same command and completed shards are kept. Rerunning");
        s.println("with the same data, checkpoint and batch size does nothing; another checkpoint recomputes all.");
        s.println("Exit status: 0 ok, 1 job failed (bad input or checkpoint), 2 usage or config error.");
    }

    @Override
    String name() {
        return "ref-logps";
    }

    @Override
    List<String> valueFlags() {
        return List.of("--data", "--model", "--output");
    }

    @Override
    List<String> required(Args args) {
        return List.of("--data", "--model", "--output");
    }

    @Override
    void execute(Args args, Config config, SparkSession spark, PrintStream out) throws Exception {
        report(RefLogpsJob.run(spark, args.value("--data"), args.value("--model"), args.value("--output"), config), out);
    }

    private static void report(RefLogpsJob.Result r, PrintStream out) {
        Manifest m = r.manifest();
        JsonNode c = m.counts();
        if (r.status() == RefLogpsJob.Status.UP_TO_DATE) {
            out.println("sgdpo ref-logps: " + r.output() + " is up to date (same data, checkpoint and batch size);"
                    + " nothing to do");
        } else {
            out.println("sgdpo ref-logps: wrote " + r.output());
        }
        out.printf("  %d pairs (input %d), %d response tokens, %d shard(s): %d computed, %d resumed%n",
                c.path("pairs").asLong(), c.path("inputPairs").asLong(), c.path("responseTokens").asLong(),
                c.path("shards").asInt(), r.shardsComputed(), r.shardsResumed());
        out.printf("  checkpoint %s (sha256 %s, maxLength %d)%n", m.model().path(), m.model().sha256(),
                m.model().details().path("maxLength").asInt());
    }
}
