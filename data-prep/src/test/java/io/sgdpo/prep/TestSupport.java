package io.sgdpo.prep;

import com.typesafe.config.Config;
import io.sgdpo.config.SgdpoConfig;
import org.apache.spark.sql.SparkSession;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.fail;

/** Shared helpers: the shared data sets, Spark sessions, config, temp dirs. */
final class TestSupport {

    private TestSupport() {
    }

    /** A file of the shared data set; fails (never skips) when it is not there. */
    static Path sharedData(String relative) {
        String root = System.getProperty("sgdpo.shared.data");
        if (root == null) {
            fail("System property sgdpo.shared.data is not set (the parent pom sets it to ../shared/data)");
        }
        Path p = Path.of(root, relative);
        if (!Files.isRegularFile(p)) {
            fail("Shared data file missing: " + p + " (see ../shared/data/README.md)");
        }
        return p;
    }

    /** A model folder of the shared fixtures; fails (never skips) when it is not there. */
    static Path sharedModel(String name) {
        String root = System.getProperty("sgdpo.shared.models");
        if (root == null) {
            fail("System property sgdpo.shared.models is not set (the parent pom sets it to ../shared/models)");
        }
        Path p = Path.of(root, name);
        if (!Files.isRegularFile(p.resolve("config.json"))) {
            fail("Shared model folder missing: " + p + " (see ../shared/models/README.md)");
        }
        return p;
    }

    static SparkSession spark(String master) {
        return SparkSession.builder()
                .master(master)
                .appName("sgdpo-prep-test")
                .config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", "4")
                .config("spark.driver.host", "127.0.0.1")
                .getOrCreate();
    }

    static Config config(Map<String, String> overrides) {
        return SgdpoConfig.load(null, overrides);
    }

    static void deleteRecursively(Path dir) throws IOException {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
        }
    }
}
