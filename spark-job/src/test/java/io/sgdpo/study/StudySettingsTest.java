package io.sgdpo.study;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import io.sgdpo.config.ConfigurationException;
import io.sgdpo.config.SgdpoConfig;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StudySettingsTest {

    /** conf/study.conf of the repository (tests run in spark-job/). */
    private static File studyConf() {
        File f = new File(System.getProperty("user.dir")).getAbsoluteFile().getParentFile().toPath()
                .resolve("conf/study.conf").toFile();
        assertTrue(f.isFile(), "no " + f);
        return f;
    }

    @Test
    void theRepositorysStudyLoadsWithEachDataSetsOwnSettings() {
        StudySettings s = StudySettings.of(SgdpoConfig.load(studyConf(), Map.of()));
        assertEquals(List.of("sgdpo", "dpo", "ipo", "simpo"), s.losses());
        assertEquals(List.of(1L, 2L, 3L), s.seeds());
        assertEquals(List.of("arithmetic", "hh-harmless", "ultrafeedback"),
                s.datasets().stream().map(StudySettings.Dataset::name).toList());

        StudySettings.Dataset arithmetic = s.datasets().get(0);
        assertTrue(arithmetic.generated());
        // the demo's generated.conf, included from the classpath, sizes this data set only
        assertEquals(14, arithmetic.config().getInt("model.maxLength"));
        assertEquals(0.5, arithmetic.config().getDouble("loss.beta"));
        StudySettings.Dataset hh = s.datasets().get(1);
        assertFalse(hh.generated());
        assertEquals(96, hh.config().getInt("model.maxLength"));
        assertEquals(0.1, hh.config().getDouble("prep.evalFraction"));
        StudySettings.Dataset uf = s.datasets().get(2);
        assertEquals(1, uf.eval().size());
        assertEquals(0.0, uf.config().getDouble("prep.evalFraction"));

        // equal steps and batch for every loss; SimPO's own beta and margin; scoring with DPO at the data set's beta
        Config simpo = hh.runConfig("simpo", s.lossSettings().get("simpo"), 2);
        Config dpo = hh.runConfig("dpo", s.lossSettings().get("dpo"), 2);
        assertEquals(2.0, simpo.getDouble("loss.beta"));
        assertEquals(0.8, simpo.getDouble("loss.gamma"));
        assertEquals(0.1, dpo.getDouble("loss.beta"));
        assertEquals(2L, simpo.getLong("train.seed"));
        assertEquals(simpo.getInt("train.maxSteps"), dpo.getInt("train.maxSteps"));
        assertEquals(simpo.getInt("train.batchSize"), dpo.getInt("train.batchSize"));
        assertEquals("dpo", hh.scoringConfig().getString("loss.name"));
        assertEquals(0.1, hh.scoringConfig().getDouble("loss.beta"));

        assertTrue(s.sweep().enabled());
        assertEquals("arithmetic", s.sweep().dataset());
        Config cell = s.sweep().runConfig(arithmetic, 0.8, 1.0, 1);
        assertEquals("sgdpo", cell.getString("loss.name"));
        assertEquals(0.8, cell.getDouble("loss.r1"));
        assertEquals(1.0, cell.getDouble("loss.r2"));
    }

    @Test
    void overridesOnTheCommandLineTakeCommaSeparatedLists() {
        StudySettings s = StudySettings.of(SgdpoConfig.load(studyConf(), Map.of("study.losses", "sgdpo,dpo",
                "study.seeds", "7,8", "study.sweep.dataset", "")));
        assertEquals(List.of("sgdpo", "dpo"), s.losses());
        assertEquals(List.of(7L, 8L), s.seeds());
        assertFalse(s.sweep().enabled());
    }

    @Test
    void everyMistakeIsAConfigurationErrorNamingItsKey(@TempDir File dir) throws IOException {
        String ok = "study { losses = [sgdpo, dpo], seeds = [1], datasets = [ %s ], sweep { dataset = \"%s\" } %s }";
        String generated = "{ name = g, task = generated }";
        assertError(dir, String.format(ok, "{ name = g, task = generated, tarin = [x] }", "", ""),
                "study.datasets[0].tarin");
        assertError(dir, String.format(ok, "{ name = g, task = generated, settings { train.maxStep = 3 } }", "", ""),
                "train.maxStep");
        assertError(dir, String.format(ok, "{ name = g, task = generated, train = [x] }", "", ""), "both");
        assertError(dir, String.format(ok, "{ name = g }", "", ""), "neither");
        assertError(dir, String.format(ok, "{ name = g, task = invented }", "", ""), "study.datasets[0].task");
        assertError(dir, String.format(ok, "{ name = \"a/b\", task = generated }", "", ""), "study.datasets[0].name");
        assertError(dir, String.format(ok, generated + ", " + generated, "", ""), "study.datasets[1].name");
        assertError(dir, String.format(ok, "", "", ""), "study.datasets is empty");
        assertError(dir, String.format(ok, generated, "other", ""), "study.sweep.dataset");
        assertError(dir, String.format(ok, generated, "", ", sweep.r1 = [0.5, 1.5]"), "study.sweep.r1");
        assertError(dir, String.format(ok, generated, "", ", lossSettings { simp0 { beta = 1 } }"),
                "study.lossSettings.simp0");
        assertError(dir, String.format(ok, generated, "", ", lossSettings { dpo { betta = 1 } }"),
                "study.lossSettings.dpo.betta");
        assertError(dir, String.format(ok, generated, "", ", lossSettings { dpo { beta = -1 } }"), "beta");
        assertError(dir, String.format(ok, generated, "", ", seeds = [1, 1]"), "study.seeds");
        assertError(dir, String.format(ok, generated, "", ", losses = [sgdpo, invented]"), "study.losses");
        assertError(dir, String.format(ok, "{ name = g, train = [x], eval = y }", "", ""), "study.datasets[0].eval");
        // a stage's own checks run before the study starts, naming the data set and the key
        assertError(dir, String.format(ok, "{ name = g, task = generated, settings { train { logEvery = 10,"
                + " evalEvery = 25 } } }", "", ""), "train.evalEvery");
        assertError(dir, String.format(ok, "{ name = g, task = generated, settings { sft.epochs = 0 } }", "", ""),
                "sft.epochs");
        assertError(dir, String.format(ok, "{ name = g, task = generated, settings { model.maxLength = 20 } }", "", ""),
                "prep.maxTotalLength");
        assertError(dir, String.format(ok, "{ name = g, task = generated, settings { demo.task.sftNoise = 2 } }", "",
                ""), "demo.task.sftNoise");
        assertError(dir, String.format(ok, "{ name = g, task = generated, settings { model.heads = 3 } }", "", ""),
                "heads");
    }

    private static void assertError(File dir, String text, String expected) throws IOException {
        File f = new File(dir, "study.conf");
        Files.writeString(f.toPath(), text);
        ConfigurationException e = assertThrows(ConfigurationException.class,
                () -> StudySettings.of(SgdpoConfig.load(f, Map.of())), text);
        assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
    }
}
