package io.sgdpo.cli;

import com.typesafe.config.Config;
import io.sgdpo.config.ConfigurationException;
import io.sgdpo.config.SgdpoConfig;
import io.sgdpo.train.SftJob;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.SparkSession;

/** {@code sgdpo sft}: runs {@link SftJob}. */
final class SftCommand implements Sgdpo.Command {

    @Override
    public String summary() {
        return "prep shards (prompt + chosen) -> reference policy checkpoint (supervised fine-tuning)";
    }

    static void help(PrintStream s) {
        s.println("Usage: sgdpo sft --data DIR --output RUN [--resume] [--conf FILE] [-Dkey=value...]");
        s.println();
        s.println("  --data DIR    a prep output folder (pairs/, vocab.json), any Hadoop URI");
        s.println("  --output RUN  run folder: checkpoints/step-N/, metrics/sft.jsonl, _manifest.json");
        s.println("  --resume      continue the run in RUN from its latest checkpoint");
        s.println("  --conf FILE   HOCON config file (model.*, sft.*, train.master.*)");
        s.println("  -Dkey=value   config override, e.g. -Dsft.epochs=5 -Dtrain.master.kind=sharedTraining;");
        s.println("                spark.* keys go to Spark, e.g. -Dspark.master=local[2] (default local[*])");
        s.println();
        s.println("Exit status: 0 ok, 1 job failed, 2 usage or config error.");
    }

    @Override
    public int run(String[] args, PrintStream out, PrintStream err) {
        List<String> rest = new ArrayList<>();
        Map<String, String> overrides;
        String data = null;
        String output = null;
        File confFile = null;
        boolean resume = false;
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
                    case "--output" -> output = value(rest, ++i, a);
                    case "--conf" -> confFile = new File(value(rest, ++i, a));
                    case "--resume" -> resume = true;
                    default -> throw new ConfigurationException("unknown argument '" + a + "'");
                }
            }
            if (data == null || output == null) {
                throw new ConfigurationException("--data and --output are required");
            }
        } catch (ConfigurationException e) {
            err.println("sgdpo sft: " + e.getMessage());
            help(err);
            return Sgdpo.EXIT_USAGE;
        }
        Config config;
        try {
            config = SgdpoConfig.load(confFile, overrides);
        } catch (ConfigurationException e) {
            err.println("sgdpo sft: configuration error: " + e.getMessage());
            return Sgdpo.EXIT_USAGE;
        }
        SparkSession spark = PrepCommand.session(overrides);
        try {
            SftJob.Result r = SftJob.run(spark, data, output, config, resume, out);
            out.println("sgdpo sft: reference checkpoint " + r.checkpoint());
            return 0;
        } catch (ConfigurationException e) {
            err.println("sgdpo sft: configuration error: " + e.getMessage());
            return Sgdpo.EXIT_USAGE;
        } catch (IOException | IllegalArgumentException e) {
            err.println("sgdpo sft: FAILED: " + e.getMessage());
            return Sgdpo.EXIT_FAILED;
        } finally {
            spark.stop();
        }
    }

    private static String value(List<String> args, int i, String flag) {
        if (i >= args.size() || args.get(i).startsWith("--")) {
            throw new ConfigurationException(flag + " needs a value");
        }
        return args.get(i);
    }
}
