package io.sgdpo.cli;

import com.typesafe.config.Config;
import io.sgdpo.config.ConfigurationException;
import io.sgdpo.config.SgdpoConfig;
import io.sgdpo.train.TrainJob;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.SparkSession;

/** {@code sgdpo train}: runs {@link TrainJob}. */
final class TrainCommand implements Sgdpo.Command {

    @Override
    public String summary() {
        return "shards with reference log-probs + initial policy -> aligned checkpoints + metrics (SGDPO, DPO, ...)";
    }

    static void help(PrintStream s) {
        s.println("Usage: sgdpo train --data DIR --init CKPT --output RUN [--resume] [--conf FILE] [-Dkey=value...]");
        s.println();
        s.println("  --data DIR    a ref-logps output folder (pairs/ with reference log-probs, vocab.json)");
        s.println("  --init CKPT   the reference checkpoint the policy starts from (e.g. an sft run's latest)");
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
    public int run(String[] args, PrintStream out, PrintStream err) {
        List<String> rest = new ArrayList<>();
        Map<String, String> overrides;
        String data = null;
        String init = null;
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
                    case "--init" -> init = value(rest, ++i, a);
                    case "--output" -> output = value(rest, ++i, a);
                    case "--conf" -> confFile = new File(value(rest, ++i, a));
                    case "--resume" -> resume = true;
                    default -> throw new ConfigurationException("unknown argument '" + a + "'");
                }
            }
            if (data == null || output == null || (init == null && !resume)) {
                throw new ConfigurationException("--data, --output and --init (unless --resume) are required");
            }
        } catch (ConfigurationException e) {
            err.println("sgdpo train: " + e.getMessage());
            help(err);
            return Sgdpo.EXIT_USAGE;
        }
        Config config;
        try {
            config = SgdpoConfig.load(confFile, overrides);
        } catch (ConfigurationException e) {
            err.println("sgdpo train: configuration error: " + e.getMessage());
            return Sgdpo.EXIT_USAGE;
        }
        SparkSession spark = PrepCommand.session(overrides);
        try {
            TrainJob.Result r = TrainJob.run(spark, data, init, output, config, resume, out);
            out.println("sgdpo train: final checkpoint " + r.checkpoint());
            return 0;
        } catch (ConfigurationException e) {
            err.println("sgdpo train: configuration error: " + e.getMessage());
            return Sgdpo.EXIT_USAGE;
        } catch (TrainJob.NonFiniteException e) {
            err.println("sgdpo train: STOPPED: " + e.getMessage());
            return Sgdpo.EXIT_FAILED;
        } catch (IOException | IllegalArgumentException e) {
            err.println("sgdpo train: FAILED: " + e.getMessage());
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
