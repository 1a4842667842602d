package io.sgdpo.study;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueFactory;
import io.sgdpo.config.ConfigurationException;
import io.sgdpo.config.SgdpoConfig;
import io.sgdpo.pipeline.PipelineSteps;
import io.sgdpo.demo.ArithmeticTask;
import io.sgdpo.eval.EvalJob;
import io.sgdpo.loss.LossSpec;
import io.sgdpo.nn.DecoderConfig;
import io.sgdpo.prep.PrepSettings;
import io.sgdpo.prep.tokenize.Vocabulary;
import io.sgdpo.prep.ref.RefSettings;
import io.sgdpo.train.SftJob;
import io.sgdpo.train.TrainJob;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The {@code study.*} settings, checked before any work: every error names the key (and the data
 * set) it is about.
 *
 * @param losses       the losses compared, in order
 * @param seeds        {@code train.seed} of the runs: one run per loss and seed
 * @param lossSettings per loss, the keys put over the data set's {@code loss.*}
 * @param datasets     the data sets, in order
 * @param sweep        SGDPO's pilot-ratio sweep
 */
public record StudySettings(List<String> losses, List<Long> seeds, Map<String, Config> lossSettings,
                            List<Dataset> datasets, Sweep sweep) {

    /** The loss every policy is scored with, whatever loss trained it: DPO's implicit reward. */
    public static final String SCORING_LOSS = "dpo";

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_-]+");
    private static final Set<String> DATASET_KEYS = Set.of("name", "task", "train", "eval", "settings");
    private static final String GENERATED = "generated";

    /**
     * One data set of the study.
     *
     * @param name      its folder name
     * @param generated the demo's arithmetic task (then {@code train} and {@code eval} are empty)
     * @param train     inputs of prep
     * @param eval      inputs that go whole into the eval split
     * @param config    the whole configuration of this data set: its settings over the rest
     */
    public record Dataset(String name, boolean generated, List<String> train, List<String> eval, Config config) {

        /** The configuration of one run: the loss, its {@code study.lossSettings}, and the seed. */
        public Config runConfig(String loss, Config lossSettings, long seed) {
            Config c = config.withValue("loss.name", ConfigValueFactory.fromAnyRef(loss))
                    .withValue("train.seed", ConfigValueFactory.fromAnyRef(seed));
            return lossSettings == null ? c : lossSettings.atPath("loss").withFallback(c);
        }

        /** The configuration every policy of this data set is evaluated with. */
        public Config scoringConfig() {
            return config.withValue("loss.name", ConfigValueFactory.fromAnyRef(SCORING_LOSS));
        }
    }

    /**
     * SGDPO's pilot-ratio sweep: one run per (r1, r2, seed) on one data set.
     *
     * @param dataset the data set's name, or "" for no sweep
     */
    public record Sweep(String dataset, List<Double> r1, List<Double> r2, List<Long> seeds) {

        /** Whether there is a sweep to run. */
        public boolean enabled() {
            return !dataset.isEmpty();
        }

        /** The configuration of one sweep run on {@code d}. */
        public Config runConfig(Dataset d, double r1, double r2, long seed) {
            return d.runConfig("sgdpo", ConfigFactory.parseMap(Map.of("r1", r1, "r2", r2)), seed);
        }
    }

    /**
     * Reads and checks {@code study.*} of a loaded configuration.
     *
     * @throws ConfigurationException naming the key when anything is missing, unknown or out of range
     */
    public static StudySettings of(Config config) {
        try {
            return read(config);
        } catch (ConfigException e) {
            // a wrong type, e.g. -Dstudy.seeds=1,2 (a string where a list belongs): still a config error
            throw new ConfigurationException(e.getMessage(), e);
        }
    }

    private static StudySettings read(Config config) {
        Config reference = SgdpoConfig.reference();
        List<String> losses = PipelineSteps.losses(config, "study.losses");
        List<Long> seeds = seeds(config, "study.seeds");

        Map<String, Config> lossSettings = new LinkedHashMap<>();
        ConfigObject perLoss = config.getObject("study.lossSettings");
        for (Map.Entry<String, ConfigValue> e : perLoss.entrySet()) {
            String key = "study.lossSettings." + e.getKey();
            try {
                // a loss that is not trained now may keep its settings (-Dstudy.losses=... narrows a study)
                LossSpec.fromConfig(config.getConfig("loss").withValue("name",
                        ConfigValueFactory.fromAnyRef(e.getKey())));
            } catch (IllegalArgumentException x) {
                throw new ConfigurationException(key + ": " + x.getMessage(), x);
            }
            if (!(e.getValue() instanceof ConfigObject o)) {
                throw new ConfigurationException(key + " must be an object of loss.* keys, e.g. { beta = 2.0 }");
            }
            Config settings = o.toConfig();
            if (settings.hasPath("name")) {
                throw new ConfigurationException(key + ".name: the loss is named by the key " + e.getKey());
            }
            for (Map.Entry<String, ConfigValue> k : settings.entrySet()) {
                if (!reference.hasPath("loss." + k.getKey())) {
                    throw new ConfigurationException("Unknown config key " + key + "." + k.getKey()
                            + " (it must be a loss.* key of reference.conf)");
                }
            }
            lossSettings.put(e.getKey(), settings);
        }

        List<Dataset> datasets = new ArrayList<>();
        List<? extends ConfigObject> list;
        try {
            list = config.getObjectList("study.datasets");
        } catch (ConfigException.WrongType e) {
            throw new ConfigurationException("study.datasets must be a list of objects { name, task or train, ... }: "
                    + e.getMessage(), e);
        }
        if (list.isEmpty()) {
            throw new ConfigurationException("study.datasets is empty: list at least one data set"
                    + " (see conf/study.conf)");
        }
        Set<String> names = new HashSet<>();
        for (int i = 0; i < list.size(); i++) {
            Dataset d = dataset(config, reference, list.get(i), "study.datasets[" + i + "]");
            if (!names.add(d.name())) {
                throw new ConfigurationException("study.datasets[" + i + "].name: " + d.name() + " appears twice");
            }
            checkStages(d, "data set " + d.name() + " (study.datasets[" + i + "])");
            for (String loss : losses) {
                Config run = d.runConfig(loss, lossSettings.get(loss), seeds.get(0));
                try {
                    TrainJob.validate(run);
                } catch (IllegalArgumentException e) {
                    throw new ConfigurationException("loss " + loss + " on data set " + d.name() + " (study.lossSettings."
                            + loss + " over its loss.* and train.*): " + e.getMessage(), e);
                }
            }
            datasets.add(d);
        }

        String sweepDataset = config.getString("study.sweep.dataset");
        Sweep sweep = new Sweep(sweepDataset, ratios(config, "study.sweep.r1"), ratios(config, "study.sweep.r2"),
                seeds(config, "study.sweep.seeds"));
        if (sweep.enabled()) {
            Dataset d = datasets.stream().filter(x -> x.name().equals(sweepDataset)).findFirst()
                    .orElseThrow(() -> new ConfigurationException("study.sweep.dataset: " + sweepDataset
                            + " is not the name of a data set in study.datasets " + names));
            try {
                TrainJob.validate(sweep.runConfig(d, sweep.r1().get(0), sweep.r2().get(0), 0));
            } catch (IllegalArgumentException e) {
                throw new ConfigurationException("study.sweep: " + e.getMessage(), e);
            }
        }
        return new StudySettings(losses, seeds, lossSettings, datasets, sweep);
    }

    /**
     * The checks every stage of a data set would make when it starts (prep, model sizes, SFT,
     * ref-logps, evaluation, the generated task), made before the study's first stage.
     */
    private static void checkStages(Dataset d, String where) {
        Config c = d.config();
        try {
            PrepSettings prep = PrepSettings.from(c);
            RefSettings.from(c);
            SftJob.validate(c);
            EvalJob.validate(d.scoringConfig());
            if (d.generated()) {
                ArithmeticTask.Settings.of(c.getConfig("demo.task"));
            }
            // the largest vocabulary prep can write: every kept piece after the byte, EOS and PAD ids
            DecoderConfig.fromConfig(c.getConfig("model"), Vocabulary.FIRST_PIECE_ID + c.getInt("tokenizer.vocabSize"));
            int maxLength = c.getInt("model.maxLength");
            if (prep.maxTotalLength() > maxLength + 1) {
                throw new ConfigurationException("prep.maxTotalLength " + prep.maxTotalLength()
                        + " > model.maxLength + 1 = " + (maxLength + 1) + ": the model could not read what prep writes");
            }
        } catch (IllegalArgumentException | ConfigException e) {
            throw new ConfigurationException(where + ": " + e.getMessage(), e);
        }
    }

    private static Dataset dataset(Config config, Config reference, ConfigObject object, String key) {
        for (String k : object.keySet()) {
            if (!DATASET_KEYS.contains(k)) {
                throw new ConfigurationException("Unknown config key " + key + "." + k + " (a data set has "
                        + String.join(", ", DATASET_KEYS.stream().sorted().toList()) + ")");
            }
        }
        Config c = object.toConfig();
        if (!c.hasPath("name")) {
            throw new ConfigurationException(key + ".name is missing");
        }
        String name = c.getString("name");
        if (!NAME.matcher(name).matches()) {
            throw new ConfigurationException(key + ".name must match [A-Za-z0-9_-]+ (it names a folder), got '"
                    + name + "'");
        }
        boolean generated = c.hasPath("task");
        if (generated && !GENERATED.equals(c.getString("task"))) {
            throw new ConfigurationException(key + ".task: the only task is \"generated\", got '"
                    + c.getString("task") + "'");
        }
        List<String> train = c.hasPath("train") ? strings(c, "train", key) : List.of();
        List<String> eval = c.hasPath("eval") ? strings(c, "eval", key) : List.of();
        if (generated == !train.isEmpty()) {
            throw new ConfigurationException(key + " (" + name + ") needs either task = generated or a non-empty"
                    + " train = [paths], not " + (generated ? "both" : "neither"));
        }
        if (generated && !eval.isEmpty()) {
            throw new ConfigurationException(key + ".eval: the generated task makes its own eval split");
        }
        Config settings = c.hasPath("settings") ? c.getConfig("settings") : ConfigFactory.empty();
        Config merged = SgdpoConfig.layer(reference, config, settings, "in " + key + ".settings (" + name + ")");
        return new Dataset(name, generated, train, eval, merged);
    }

    private static List<String> strings(Config c, String path, String key) {
        try {
            return List.copyOf(c.getStringList(path));
        } catch (ConfigException.WrongType e) {
            throw new ConfigurationException(key + "." + path + " must be a list of paths", e);
        }
    }

    private static List<Long> seeds(Config config, String key) {
        List<Long> seeds;
        try {
            seeds = SgdpoConfig.items(config, key).stream().map(Long::parseLong).toList();
        } catch (NumberFormatException e) {
            throw new ConfigurationException(key + " must list integer seeds: " + e.getMessage(), e);
        }
        if (seeds.isEmpty() || new HashSet<>(seeds).size() != seeds.size()) {
            throw new ConfigurationException(key + " must list distinct seeds, got " + seeds);
        }
        return List.copyOf(seeds);
    }

    private static List<Double> ratios(Config config, String key) {
        List<Double> r;
        try {
            r = SgdpoConfig.items(config, key).stream().map(Double::parseDouble).toList();
        } catch (NumberFormatException e) {
            throw new ConfigurationException(key + " must list numbers: " + e.getMessage(), e);
        }
        if (r.isEmpty() || r.stream().anyMatch(x -> !(x > 0 && x <= 1)) || new HashSet<>(r).size() != r.size()) {
            throw new ConfigurationException(key + " must list distinct ratios in (0, 1], got " + r);
        }
        return List.copyOf(r);
    }
}
