package io.sgdpo.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;

import java.io.File;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Strict loading of the project's configuration, shared by every module and every CLI command.
 *
 * <p>Layers, later ones win: every {@code reference.conf} on the classpath (each module documents
 * its keys there), then an optional user file ({@code --conf FILE}), then {@code -Dkey=value}
 * overrides from the command line. System properties are deliberately not merged: a JVM-wide
 * property should never change a job's result without appearing on its command line.
 *
 * <p>Strictness: under the project's namespaces ({@link #NAMESPACES}) every key of the user file
 * and of the overrides must exist in a reference.conf, so that a typo such as
 * {@code prep.evalFracton} fails with an error naming the key (and the file) instead of being
 * silently ignored. Keys outside the namespaces (for example {@code spark.*}) are passed through
 * untouched for the caller to hand to Spark.
 */
public final class SgdpoConfig {

    /** Top-level config namespaces owned by this project; unknown keys under them are errors. */
    public static final List<String> NAMESPACES =
            List.of("prep", "tokenizer", "model", "loss", "sft", "train", "ref", "eval", "generate", "demo", "study",
                    "sample", "reward", "frontier", "sgdpo");

    private SgdpoConfig() {
    }

    /**
     * Loads the configuration from the classpath's reference.conf files, an optional file and overrides.
     *
     * @param confFile  a HOCON/JSON file, or null for none
     * @param overrides {@code key -> value} pairs from {@code -Dkey=value} arguments, in order
     * @return the resolved configuration
     * @throws ConfigurationException naming the key or file when anything is unknown or unreadable
     */
    public static Config load(File confFile, Map<String, String> overrides) {
        return load(reference(), confFile, overrides);
    }

    /**
     * Every reference.conf on the classpath, merged. Not {@code ConfigFactory.defaultReference()}:
     * that one also applies JVM system properties on top.
     */
    public static Config reference() {
        ClassLoader loader = Thread.currentThread().getContextClassLoader();
        if (loader == null) {
            loader = SgdpoConfig.class.getClassLoader();
        }
        try {
            return ConfigFactory.parseResources(loader, "reference.conf").resolve();
        } catch (ConfigException e) {
            throw new ConfigurationException("Broken reference.conf on the classpath: " + e.getMessage(), e);
        }
    }

    /**
     * Like {@link #load(File, Map)} with an explicit reference configuration (used by tests and by
     * tools that embed their own defaults).
     */
    public static Config load(Config reference, File confFile, Map<String, String> overrides) {
        Config result = reference;
        if (confFile != null) {
            if (!confFile.isFile() || !confFile.canRead()) {
                throw new ConfigurationException("Config file not found or not readable: " + confFile);
            }
            Config fileConfig;
            try {
                fileConfig = ConfigFactory.parseFile(confFile,
                        ConfigParseOptions.defaults().setAllowMissing(false));
            } catch (ConfigException e) {
                throw new ConfigurationException("Cannot parse config file " + confFile + ": " + e.getMessage(), e);
            }
            checkKnown(reference, fileConfig, "in config file " + confFile);
            result = fileConfig.withFallback(result);
        }
        if (overrides != null && !overrides.isEmpty()) {
            Config overrideConfig;
            try {
                overrideConfig = ConfigFactory.parseMap(new LinkedHashMap<>(overrides), "command-line -D overrides");
            } catch (ConfigException e) {
                throw new ConfigurationException("Bad -D override: " + e.getMessage(), e);
            }
            checkKnown(reference, overrideConfig, "given as -D override");
            result = overrideConfig.withFallback(result);
        }
        try {
            return result.resolve();
        } catch (ConfigException e) {
            throw new ConfigurationException("Cannot resolve configuration: " + e.getMessage(), e);
        }
    }

    /**
     * Puts {@code layer} over {@code base}, with the same strictness as a user file: under the
     * project's namespaces every key of the layer must exist in {@code reference}.
     *
     * @param where how an error names the layer, e.g. "in study.datasets[1].settings"
     * @throws ConfigurationException naming the unknown keys, or when the result does not resolve
     */
    public static Config layer(Config reference, Config base, Config layer, String where) {
        checkKnown(reference, layer, where);
        try {
            return layer.withFallback(base).resolve();
        } catch (ConfigException e) {
            throw new ConfigurationException("Cannot resolve configuration " + where + ": " + e.getMessage(), e);
        }
    }

    /**
     * Parses {@code -Dkey=value} style arguments. Arguments that do not start with {@code -D} are
     * returned in {@code rest} in their original order.
     */
    public static Map<String, String> parseOverrides(List<String> args, List<String> rest) {
        Map<String, String> overrides = new LinkedHashMap<>();
        for (String arg : args) {
            if (arg.startsWith("-D") && arg.length() > 2) {
                int eq = arg.indexOf('=');
                if (eq < 0) {
                    throw new ConfigurationException("Override must be -Dkey=value: " + arg);
                }
                overrides.put(arg.substring(2, eq), arg.substring(eq + 1));
            } else {
                rest.add(arg);
            }
        }
        return overrides;
    }

    /**
     * The items of a list setting: a list in a config file, or a comma-separated string from a
     * {@code -Dkey=a,b,c} (or {@code -Dkey=[a,b,c]}) override, which arrives as one string.
     */
    public static List<String> items(Config config, String key) {
        if (config.getValue(key).valueType() == ConfigValueType.LIST) {
            return config.getList(key).stream().map(v -> String.valueOf(v.unwrapped())).toList();
        }
        List<String> items = new ArrayList<>();
        for (String item : config.getString(key).replace("[", "").replace("]", "").split(",")) {
            if (!item.isBlank()) {
                items.add(item.strip());
            }
        }
        return items;
    }

    /** The subtree of the given namespaces, rendered as compact JSON (for manifests and logs). */
    public static String renderJson(Config config, List<String> namespaces) {
        Config subset = ConfigFactory.empty();
        for (String ns : namespaces) {
            if (config.hasPath(ns)) {
                subset = subset.withValue(ns, config.getValue(ns));
            }
        }
        return subset.root().render(ConfigRenderOptions.concise().setJson(true));
    }

    private static void checkKnown(Config reference, Config user, String where) {
        List<String> unknown = new ArrayList<>();
        Set<String> sorted = new TreeSet<>();
        for (Map.Entry<String, ConfigValue> e : user.entrySet()) {
            sorted.add(e.getKey());
        }
        for (String key : sorted) {
            String top = key.contains(".") ? key.substring(0, key.indexOf('.')) : key;
            if (!NAMESPACES.contains(stripQuotes(top))) {
                continue;
            }
            if (!reference.hasPathOrNull(key) && !underOpenObject(reference, key)) {
                unknown.add(key);
            }
        }
        if (!unknown.isEmpty()) {
            throw new ConfigurationException("Unknown config key" + (unknown.size() > 1 ? "s " : " ")
                    + String.join(", ", unknown) + " " + where
                    + " (every key must be documented in a reference.conf; check the spelling)");
        }
    }

    /**
     * A reference.conf may declare an empty object (e.g. {@code spark.conf = {}}) as a free-form map:
     * any key below it is accepted.
     */
    private static boolean underOpenObject(Config reference, String key) {
        String path = key;
        while (path.contains(".")) {
            path = path.substring(0, path.lastIndexOf('.'));
            if (reference.hasPath(path)) {
                ConfigValue v = reference.getValue(path);
                return v instanceof com.typesafe.config.ConfigObject o && o.isEmpty();
            }
        }
        return false;
    }

    private static String stripQuotes(String s) {
        return s.length() >= 2 && s.startsWith("\"") && s.endsWith("\"") ? s.substring(1, s.length() - 1) : s;
    }
}
