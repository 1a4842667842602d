package io.sgdpo.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import io.sgdpo.config.ConfigurationException;
import io.sgdpo.config.SgdpoConfig;
import io.sgdpo.prep.PrepException;
import io.sgdpo.prep.ref.RefLogpsJob;
import org.apache.spark.sql.SparkSession;

import java.io.File;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@code sgdpo ref-logps}: runs {@link RefLogpsJob}. */
final class RefLogpsCommand implements Sgdpo.Command {

    @Override
    public String summary() {
        return "prep shards + reference checkpoint -> shards with per-token reference log-probs";
    }

    static void help(PrintStream s) {
        s.println("Usage: sgdpo ref-logps --data DIR --model CKPT --output DIR2 [--conf FILE] [-Dkey=value...]");
        s.println();
        s.println("  --data DIR     a prep output folder (pairs/, vocab.json, _manifest.json), any Hadoop URI");
        s.println("  --model CKPT   a checkpoint folder (model.zip + state.properties), e.g. .../step-0000001000");
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
    public int run(String[] args, PrintStream out, PrintStream err) {
        List<String> rest = new ArrayList<>();
        Map<String, String> overrides;
        String data = null;
        String model = null;
        String output = null;
        File confFile = null;
        try {
            overrides = SgdpoConfig.parseOverrides(Arrays.asList(args), rest);
            for (int i = 0; i < rest.size(); i++) {
                String a = rest.get(i);
                switch (a) {
                    case "--help", "-h" -> {
                        help(out);
                        return 0;
                    }
                    case "--data" -> data = value(rest, ++i, a);
                    case "--model" -> model = value(rest, ++i, a);
                    case "--output" -> output = value(rest, ++i, a);
                    case "--conf" -> confFile = new File(value(rest, ++i, a));
                    default -> throw new ConfigurationException("unknown argument '" + a + "'");
                }
            }
            if (data == null || model == null || output == null) {
                throw new ConfigurationException("--data, --model and --output are required");
            }
        } catch (ConfigurationException e) {
            err.println("sgdpo ref-logps: " + e.getMessage());
            help(err);
            return Sgdpo.EXIT_USAGE;
        }

        Config config;
        try {
            config = SgdpoConfig.load(confFile, overrides);
        } catch (ConfigurationException e) {
            err.println("sgdpo ref-logps: configuration error: " + e.getMessage());
            return Sgdpo.EXIT_USAGE;
        }
        Map<String, String> sparkOverrides = new LinkedHashMap<>();
        sparkOverrides.put("spark.app.name", "sgdpo ref-logps");
        sparkOverrides.putAll(overrides);
        SparkSession spark = PrepCommand.session(sparkOverrides);
        try {
            RefLogpsJob.Result r = RefLogpsJob.run(spark, data, model, output, config);
            report(r, out);
            return 0;
        } catch (ConfigurationException e) {
            err.println("sgdpo ref-logps: configuration error: " + e.getMessage());
            return Sgdpo.EXIT_USAGE;
        } catch (PrepException e) {
            err.println("sgdpo ref-logps: FAILED: " + e.getMessage());
            return Sgdpo.EXIT_FAILED;
        } finally {
            spark.stop();
        }
    }

    private static void report(RefLogpsJob.Result r, PrintStream out) {
        JsonNode m = r.manifest();
        JsonNode c = m.path("counts");
        if (r.status() == RefLogpsJob.Status.UP_TO_DATE) {
            out.println("sgdpo ref-logps: " + r.output() + " is up to date (same data, checkpoint and batch size);"
                    + " nothing to do");
        } else {
            out.println("sgdpo ref-logps: wrote " + r.output());
        }
        out.printf("  %d pairs (input %d), %d response tokens, %d shard(s): %d computed, %d resumed%n",
                c.path("pairs").asLong(), c.path("inputPairs").asLong(), c.path("responseTokens").asLong(),
                c.path("shards").asInt(), r.shardsComputed(), r.shardsResumed());
        out.printf("  checkpoint %s (sha256 %s, maxLength %d)%n", m.path("checkpoint").path("path").asText(),
                m.path("checkpoint").path("sha256").asText(), m.path("checkpoint").path("maxLength").asInt());
    }

    private static String value(List<String> args, int i, String flag) {
        if (i >= args.size() || args.get(i).startsWith("--")) {
            throw new ConfigurationException(flag + " needs a value");
        }
        return args.get(i);
    }
}
