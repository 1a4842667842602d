package io.sgdpo.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.sgdpo.config.ConfigurationException;
import io.sgdpo.config.SgdpoConfig;
import io.sgdpo.loss.LossSpec;
import io.sgdpo.nn.DecoderConfig;
import io.sgdpo.prep.PrepSettings;
import io.sgdpo.prep.ref.RefSettings;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every example under conf/ loads through the strict loader and passes every stage's own checks,
 * so the examples cannot drift from the reference.conf files.
 */
class ConfExamplesTest {

    /** The repository's conf/ folder (tests run in spark-job/). */
    static File confDir() {
        File dir = new File(System.getProperty("user.dir")).getAbsoluteFile().getParentFile();
        File conf = new File(dir, "conf");
        assertTrue(new File(dir, "pom.xml").isFile() && conf.isDirectory(),
                "expected the repository root with conf/ above the working directory, got " + dir);
        return conf;
    }

    static List<File> examples() {
        File[] files = confDir().listFiles((d, n) -> n.endsWith(".conf"));
        assertTrue(files != null && files.length > 0, "no *.conf under " + confDir());
        Arrays.sort(files);
        return List.of(files);
    }

    @Test
    void theDeploymentExamplesExist() {
        Set<String> names = examples().stream().map(File::getName).collect(Collectors.toSet());
        assertTrue(names.containsAll(Set.of("local.conf", "cluster.conf", "gpu.conf")), "conf/ holds " + names);
    }

    @Test
    void everyExampleLoadsAndPassesEveryStagesChecks() {
        for (File f : examples()) {
            check(f);
        }
    }

    @Test
    void aMisspeltKeyOrABadValueFails(@TempDir File dir) throws IOException {
        // The same checks reject a broken copy of an example: they can fail.
        String local = Files.readString(new File(confDir(), "local.conf").toPath());
        File typo = new File(dir, "typo.conf");
        Files.writeString(typo.toPath(), local.replace("maxSteps", "maxStep"));
        ConfigurationException e = assertThrows(ConfigurationException.class, () -> check(typo));
        assertTrue(e.getMessage().contains("train.maxStep"), e.getMessage());

        File badValue = new File(dir, "bad.conf");
        Files.writeString(badValue.toPath(), local.replace("evalEvery = 50", "evalEvery = 52"));
        e = assertThrows(ConfigurationException.class, () -> check(badValue));
        assertTrue(e.getMessage().contains("train.evalEvery"), e.getMessage());
    }

    /** Loads one file as {@code --conf FILE} does and runs the validation of every stage. */
    private static void check(File file) {
        Config config = SgdpoConfig.load(file, Map.of());
        // Spark reads nothing from --conf files: a spark.* (or any other) block here would be ignored.
        Config raw = ConfigFactory.parseFile(file);
        Set<String> top = new TreeSet<>(raw.root().keySet());
        top.removeAll(SgdpoConfig.NAMESPACES);
        assertEquals(Set.of(), top, file + ": top-level keys outside the project's namespaces are ignored");

        PrepSettings prep = PrepSettings.from(config);
        RefSettings.from(config);
        SftJob.Settings.of(config);
        TrainJob.Settings.of(config);
        try {
            DecoderConfig.fromConfig(config.getConfig("model"), config.getInt("tokenizer.vocabSize") + 258);
            LossSpec.fromConfig(config.getConfig("loss"));
        } catch (IllegalArgumentException e) {
            throw new ConfigurationException(file + ": " + e.getMessage(), e);
        }
        // A file that sizes the model must also let the stages after prep read what prep wrote.
        if (raw.hasPath("model.maxLength")) {
            int maxLength = config.getInt("model.maxLength");
            assertTrue(prep.maxTotalLength() <= maxLength + 1, file + ": prep.maxTotalLength "
                    + prep.maxTotalLength() + " > model.maxLength + 1 = " + (maxLength + 1));
        }
    }
}
