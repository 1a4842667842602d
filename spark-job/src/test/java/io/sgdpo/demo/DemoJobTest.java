package io.sgdpo.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sgdpo.config.ConfigurationException;
import io.sgdpo.config.SgdpoConfig;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The demo's list of losses, from a config file's list or a command line's comma-separated value. */
class DemoJobTest {

    @Test
    void lossesComeFromTheDefaultListOrACommaSeparatedOverride() {
        assertEquals(List.of("sgdpo", "dpo"), DemoJob.losses(SgdpoConfig.load(null, Map.of())));
        assertEquals(List.of("sgdpo", "dpo", "ipo"),
                DemoJob.losses(SgdpoConfig.load(null, Map.of("demo.losses", "sgdpo, dpo,ipo"))));
        ConfigurationException twice = assertThrows(ConfigurationException.class,
                () -> DemoJob.losses(SgdpoConfig.load(null, Map.of("demo.losses", "dpo,dpo"))));
        assertTrue(twice.getMessage().contains("demo.losses"), twice.getMessage());
        ConfigurationException unknown = assertThrows(ConfigurationException.class,
                () -> DemoJob.losses(SgdpoConfig.load(null, Map.of("demo.losses", "sgdpo,dpx"))));
        assertTrue(unknown.getMessage().contains("dpx"), unknown.getMessage());
    }
}
