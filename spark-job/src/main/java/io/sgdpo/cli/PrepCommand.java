package io.sgdpo.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import io.sgdpo.config.ConfigurationException;
import io.sgdpo.config.SgdpoConfig;
import io.sgdpo.prep.PrepException;
import io.sgdpo.prep.PrepJob;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

import java.io.File;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/** {@code sgdpo prep}: runs {@link PrepJob}. */
final class PrepCommand implements Sgdpo.Command {

    @Override
    public String summary() {
        return "raw preference pairs (JSONL/Parquet, local/HDFS) -> tokenized pair shards + rejects + manifest";
    }

    static void help(PrintStream s) {
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
    public int run(String[] args, PrintStream out, PrintStream err) {
        List<String> rest = new ArrayList<>();
        Map<String, String> overrides;
        List<String> inputs = new ArrayList<>();
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
                    case "--input" -> {
                        int before = inputs.size();
                        while (i + 1 < rest.size() && !rest.get(i + 1).startsWith("--")) {
                            inputs.add(rest.get(++i));
                        }
                        if (inputs.size() == before) {
                            throw new ConfigurationException("--input needs at least one path");
                        }
                    }
                    case "--output" -> output = value(rest, ++i, a);
                    case "--conf" -> confFile = new File(value(rest, ++i, a));
                    default -> throw new ConfigurationException("unknown argument '" + a + "'");
                }
            }
            if (inputs.isEmpty() || output == null) {
                throw new ConfigurationException("--input and --output are required");
            }
        } catch (ConfigurationException e) {
            err.println("sgdpo prep: " + e.getMessage());
            help(err);
            return Sgdpo.EXIT_USAGE;
        }

        Config config;
        try {
            config = SgdpoConfig.load(confFile, overrides);
        } catch (ConfigurationException e) {
            err.println("sgdpo prep: configuration error: " + e.getMessage());
            return Sgdpo.EXIT_USAGE;
        }
        SparkSession spark = session(overrides);
        try {
            PrepJob.Result r = PrepJob.run(spark, inputs, output, config);
            report(r, out);
            return 0;
        } catch (ConfigurationException e) {
            err.println("sgdpo prep: configuration error: " + e.getMessage());
            return Sgdpo.EXIT_USAGE;
        } catch (PrepException e) {
            err.println("sgdpo prep: FAILED: " + e.getMessage());
            return Sgdpo.EXIT_FAILED;
        } finally {
            spark.stop();
        }
    }

    /**
     * The Spark session: spark.* overrides from the command line apply; without a master from
     * there or from spark-submit, the job runs in local mode on every core.
     */
    static SparkSession session(Map<String, String> overrides) {
        SparkConf conf = new SparkConf().setAppName("sgdpo prep");
        overrides.forEach((k, v) -> {
            if (k.startsWith("spark.")) {
                conf.set(k, v);
            }
        });
        if (!conf.contains("spark.master")) {
            conf.setMaster("local[*]");
        }
        return SparkSession.builder().config(conf).getOrCreate();
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

    private static String value(List<String> args, int i, String flag) {
        if (i >= args.size() || args.get(i).startsWith("--")) {
            throw new ConfigurationException(flag + " needs a value");
        }
        return args.get(i);
    }
}
