package io.sgdpo.cli;

import com.typesafe.config.Config;
import io.sgdpo.config.ConfigurationException;
import io.sgdpo.config.SgdpoConfig;
import java.io.File;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.spark.sql.SparkSession;

/**
 * A subcommand that runs one Spark job. It parses the command's flags plus {@code --conf FILE} and
 * {@code -Dkey=value}, loads the layered config, owns the Spark session, and maps failures to exit
 * codes: a usage or config error is 2 (with the help on stderr), a failed job 1.
 */
abstract class JobCommand implements Sgdpo.Command {

    /** Parsed flags of one invocation, and its arguments as given (for reports that quote the command). */
    record Args(Map<String, List<String>> values, Set<String> switches, List<String> argv) {
        /** The value of a flag, or null when absent. */
        String value(String flag) {
            List<String> v = values.get(flag);
            return v == null ? null : v.get(0);
        }

        List<String> all(String flag) {
            return values.getOrDefault(flag, List.of());
        }

        boolean has(String flag) {
            return switches.contains(flag);
        }
    }

    /** The command's name, as typed after {@code sgdpo}. */
    abstract String name();

    abstract void help(PrintStream s);

    /** Flags that take one value, e.g. {@code --data}. */
    abstract List<String> valueFlags();

    /** Flags that take one or more values, e.g. {@code --input}. */
    List<String> listFlags() {
        return List.of();
    }

    /** Flags without a value, e.g. {@code --resume}. */
    List<String> switchFlags() {
        return List.of();
    }

    /**
     * Defaults this command layers between the reference.conf files and the user's file (null:
     * none), e.g. the demo's small model for its generated task.
     */
    Config defaults(Args args) {
        return null;
    }

    /** The flags this invocation must have (may depend on its switches). */
    abstract List<String> required(Args args);

    /**
     * Checks how the flags combine, before any config is loaded or Spark started; throws
     * {@link ConfigurationException} (a usage error, exit 2) naming the offending flag and value.
     */
    void validate(Args args) {
    }

    /** Runs the job; throws {@link ConfigurationException} for bad config, anything else for a failed job. */
    abstract void execute(Args args, Config config, SparkSession spark, PrintStream out) throws Exception;

    /**
     * Whether the command runs Spark jobs; one that does not (it reads a model and writes a few
     * files) gets no session, so it starts in a second rather than ten.
     */
    boolean needsSpark() {
        return true;
    }

    @Override
    public final int run(String[] argv, PrintStream out, PrintStream err) {
        Map<String, String> overrides;
        Args args;
        File confFile;
        try {
            List<String> rest = new ArrayList<>();
            overrides = SgdpoConfig.parseOverrides(Arrays.asList(argv), rest);
            if (rest.contains("--help") || rest.contains("-h")) {
                help(out);
                return 0;
            }
            args = parse(rest, List.of(argv));
            List<String> missing = required(args).stream().filter(f -> args.value(f) == null).toList();
            if (!missing.isEmpty()) {
                throw new ConfigurationException(String.join(", ", required(args)) + " are required; missing "
                        + String.join(", ", missing));
            }
            validate(args);
            confFile = args.value("--conf") == null ? null : new File(args.value("--conf"));
        } catch (ConfigurationException e) {
            err.println("sgdpo " + name() + ": " + e.getMessage());
            help(err);
            return Sgdpo.EXIT_USAGE;
        }
        Config config;
        try {
            Config defaults = defaults(args);
            config = defaults == null ? SgdpoConfig.load(confFile, overrides)
                    : SgdpoConfig.load(defaults.withFallback(SgdpoConfig.reference()).resolve(), confFile, overrides);
        } catch (ConfigurationException e) {
            err.println("sgdpo " + name() + ": configuration error: " + e.getMessage());
            return Sgdpo.EXIT_USAGE;
        }
        SparkSession spark = null;
        TaskThreads threads = null;
        try {
            if (needsSpark()) {
                spark = SparkSessions.start("sgdpo " + name(), overrides);
                threads = TaskThreads.inLocalMode(spark.sparkContext());
            }
            execute(args, config, spark, out);
            return 0;
        } catch (ConfigurationException e) {
            err.println("sgdpo " + name() + ": configuration error: " + e.getMessage());
            return Sgdpo.EXIT_USAGE;
        } catch (Exception e) {
            err.println("sgdpo " + name() + ": FAILED: " + e.getMessage());
            return Sgdpo.EXIT_FAILED;
        } finally {
            if (spark != null) {
                spark.stop();
            }
            if (threads != null) {
                threads.close();
            }
        }
    }

    private Args parse(List<String> rest, List<String> argv) {
        Map<String, List<String>> values = new LinkedHashMap<>();
        Set<String> switches = new HashSet<>();
        for (int i = 0; i < rest.size(); i++) {
            String a = rest.get(i);
            if (a.equals("--conf") || valueFlags().contains(a)) {
                if (i + 1 >= rest.size() || rest.get(i + 1).startsWith("--")) {
                    throw new ConfigurationException(a + " needs a value");
                }
                values.put(a, List.of(rest.get(++i)));
            } else if (listFlags().contains(a)) {
                List<String> list = new ArrayList<>(values.getOrDefault(a, List.of()));
                int before = list.size();
                while (i + 1 < rest.size() && !rest.get(i + 1).startsWith("--")) {
                    list.add(rest.get(++i));
                }
                if (list.size() == before) {
                    throw new ConfigurationException(a + " needs at least one value");
                }
                values.put(a, list);
            } else if (switchFlags().contains(a)) {
                switches.add(a);
            } else {
                throw new ConfigurationException("unknown argument '" + a + "'");
            }
        }
        return new Args(values, switches, argv);
    }
}
