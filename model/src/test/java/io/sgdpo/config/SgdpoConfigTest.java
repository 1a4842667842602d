package io.sgdpo.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SgdpoConfigTest {

    private static final Config REFERENCE = ConfigFactory.parseString(
            "prep { evalFraction = 0.05, maxPromptLength = 256, fields { prompt = prompt } }\n"
                    + "spark.conf = {}\n");

    @Test
    void layersApplyInOrder(@TempDir Path dir) throws Exception {
        File conf = dir.resolve("user.conf").toFile();
        Files.writeString(conf.toPath(), "prep.evalFraction = 0.2\nprep.maxPromptLength = 64\n");
        Config c = SgdpoConfig.load(REFERENCE, conf, Map.of("prep.maxPromptLength", "32"));
        assertEquals(0.2, c.getDouble("prep.evalFraction"), 0.0);
        assertEquals(32, c.getInt("prep.maxPromptLength"));
        assertEquals("prompt", c.getString("prep.fields.prompt"));
    }

    @Test
    void unknownKeyInFileNamesKeyAndFile(@TempDir Path dir) throws Exception {
        File conf = dir.resolve("typo.conf").toFile();
        Files.writeString(conf.toPath(), "prep.evalFracton = 0.2\n");
        ConfigurationException e = assertThrows(ConfigurationException.class,
                () -> SgdpoConfig.load(REFERENCE, conf, Map.of()));
        assertTrue(e.getMessage().contains("prep.evalFracton"), e.getMessage());
        assertTrue(e.getMessage().contains("typo.conf"), e.getMessage());
    }

    @Test
    void unknownOverrideIsRejectedButForeignNamespacesPass() {
        ConfigurationException e = assertThrows(ConfigurationException.class,
                () -> SgdpoConfig.load(REFERENCE, null, Map.of("prep.fields.answer", "x")));
        assertTrue(e.getMessage().contains("prep.fields.answer"), e.getMessage());
        Config c = SgdpoConfig.load(REFERENCE, null, Map.of("spark.conf.spark.sql.shuffle.partitions", "4",
                "other.key", "1"));
        assertEquals(1, c.getInt("other.key"));
    }

    @Test
    void missingFileIsNamed(@TempDir Path dir) {
        File missing = dir.resolve("nope.conf").toFile();
        ConfigurationException e = assertThrows(ConfigurationException.class,
                () -> SgdpoConfig.load(REFERENCE, missing, Map.of()));
        assertTrue(e.getMessage().contains("nope.conf"), e.getMessage());
    }

    @Test
    void systemPropertiesDoNotLeakIn() {
        System.setProperty("prep.evalFraction", "0.9");
        try {
            Config c = SgdpoConfig.load(REFERENCE, null, Map.of());
            assertEquals(0.05, c.getDouble("prep.evalFraction"), 0.0);
            Config r = SgdpoConfig.reference();
            assertTrue(!r.hasPath("prep.evalFraction") || r.getDouble("prep.evalFraction") != 0.9);
        } finally {
            System.clearProperty("prep.evalFraction");
        }
    }

    @Test
    void parseOverridesSeparatesArguments() {
        List<String> rest = new ArrayList<>();
        Map<String, String> o = SgdpoConfig.parseOverrides(
                List.of("--input", "a", "-Dprep.evalFraction=0.1", "-Dx.y=a=b"), rest);
        assertEquals(List.of("--input", "a"), rest);
        assertEquals("0.1", o.get("prep.evalFraction"));
        assertEquals("a=b", o.get("x.y"));
        assertThrows(ConfigurationException.class, () -> SgdpoConfig.parseOverrides(List.of("-Dnovalue"), rest));
    }

    @Test
    void listSettingsComeFromAFileListOrACommaSeparatedOverride() {
        Config file = ConfigFactory.parseString("a = [x, y, 3]");
        assertEquals(List.of("x", "y", "3"), SgdpoConfig.items(file, "a"));
        Config override = ConfigFactory.parseMap(Map.of("a", "x, y,3", "b", "[1,2]", "c", ""));
        assertEquals(List.of("x", "y", "3"), SgdpoConfig.items(override, "a"));
        assertEquals(List.of("1", "2"), SgdpoConfig.items(override, "b"));
        assertEquals(List.of(), SgdpoConfig.items(override, "c"));
    }
}
