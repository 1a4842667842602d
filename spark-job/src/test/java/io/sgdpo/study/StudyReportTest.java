package io.sgdpo.study;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import io.sgdpo.config.SgdpoConfig;
import io.sgdpo.pipeline.Outcome;
import io.sgdpo.study.StudyJob.DatasetResult;
import io.sgdpo.study.StudyJob.Point;
import io.sgdpo.study.StudyJob.RunResult;
import io.sgdpo.study.StudyStatistics.MeanStd;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The report's statistics and text, on runs with known numbers. */
class StudyReportTest {

    private static final Random RANDOM = new Random(11);

    private static Outcome outcome(double accuracy, double margin, double logpChosen, double logpRejected,
                                   Double gold) {
        return new Outcome("p", new Path("/x"), 100, accuracy, margin, 0.1, -0.1, logpChosen, logpRejected, gold,
                gold == null ? 0 : 200, gold, gold);
    }

    private static RunResult run(String loss, long seed, Outcome o) {
        List<Point> trajectory = List.of(new Point(0, -10, -12), new Point(50, o.logpsChosen(), o.logpsRejected()));
        return new RunResult(loss, seed, null, null, new Path("/runs/" + loss + seed), o, trajectory, false);
    }

    @Test
    void meanAndSampleStandardDeviation() {
        MeanStd m = MeanStd.of(List.of(1.0, 2.0, 4.0));
        assertEquals(7.0 / 3, m.mean(), 1e-12);
        double mean = 7.0 / 3;
        double var = ((1 - mean) * (1 - mean) + (2 - mean) * (2 - mean) + (4 - mean) * (4 - mean)) / 2;
        assertEquals(Math.sqrt(var), m.std(), 1e-12);
        assertEquals(0.0, MeanStd.of(List.of(5.0)).std());
        assertEquals("0.500 ± 0.000", MeanStd.of(List.of(0.5, 0.5)).format("%.3f"));
        assertEquals("-1.000 ± 1.414", MeanStd.of(List.of(0.0, -2.0)).format("%+.3f"));
        assertThrows(IllegalArgumentException.class, () -> MeanStd.of(List.of()));
    }

    @Test
    void summaryIsPerLossOverSeedsAgainstTheReference() {
        Outcome reference = outcome(0, 0, -10, -12, 0.5);
        List<RunResult> runs = new ArrayList<>();
        double[][] acc = new double[2][3];
        double[][] chosen = new double[2][3];
        for (int l = 0; l < 2; l++) {
            for (int s = 0; s < 3; s++) {
                acc[l][s] = RANDOM.nextDouble();
                chosen[l][s] = -10 + RANDOM.nextGaussian();
                runs.add(run(l == 0 ? "sgdpo" : "dpo", s, outcome(acc[l][s], 1, chosen[l][s], -13, 0.6)));
            }
        }
        Map<String, Map<String, MeanStd>> summary = StudyStatistics.summary(runs, reference, List.of("sgdpo", "dpo"));
        for (int l = 0; l < 2; l++) {
            Map<String, MeanStd> m = summary.get(l == 0 ? "sgdpo" : "dpo");
            assertEquals((acc[l][0] + acc[l][1] + acc[l][2]) / 3, m.get("reward_accuracy").mean(), 1e-12);
            assertEquals((chosen[l][0] + chosen[l][1] + chosen[l][2]) / 3 + 10, m.get("delta_logp_chosen").mean(),
                    1e-12);
            assertEquals(-1.0, m.get("delta_logp_rejected").mean(), 1e-12);
            assertEquals(3, m.get("gold_exact_match").n());
        }
        // without gold answers there is no gold column
        Outcome noGold = outcome(0, 0, -10, -12, null);
        List<RunResult> plain = List.of(run("dpo", 1, outcome(0.7, 1, -11, -14, null)));
        assertTrue(!StudyStatistics.summary(plain, noGold, List.of("dpo")).get("dpo").containsKey("gold_exact_match"));
    }

    @Test
    void findingsSayWhereSgdpoDoesNotWin() {
        Map<String, Map<String, MeanStd>> summary = new TreeMap<>();
        summary.put("dpo", Map.of("reward_accuracy", new MeanStd(0.80, 0.01, 3), "reward_margin",
                new MeanStd(1.0, 0.1, 3), "delta_logp_chosen", new MeanStd(-2, 0.1, 3), "delta_logp_rejected",
                new MeanStd(-5, 0.1, 3)));
        summary.put("sgdpo", Map.of("reward_accuracy", new MeanStd(0.70, 0.02, 3), "reward_margin",
                new MeanStd(2.0, 0.1, 3), "delta_logp_chosen", new MeanStd(0.5, 0.1, 3), "delta_logp_rejected",
                new MeanStd(-4, 0.1, 3)));
        List<String> f = StudyFindings.findings(summary, false);
        String accuracy = f.stream().filter(s -> s.contains("eval reward accuracy")).findFirst().orElseThrow();
        assertTrue(accuracy.contains("highest dpo") && accuracy.contains("SGDPO does not win: rank 2 of 2")
                && accuracy.contains("gap 0.100") && accuracy.contains("more than twice"), accuracy);
        String margin = f.stream().filter(s -> s.contains("eval margin")).findFirst().orElseThrow();
        assertTrue(margin.contains("highest sgdpo") && margin.contains("next dpo"), margin);
        String moves = f.get(f.size() - 1);
        assertTrue(moves.contains("Raised the chosen log-prob on average: sgdpo."), moves);
    }

    @Test
    void trajectoriesAreMeansOfChangesSinceEachRunsFirstEvaluation() {
        RunResult a = new RunResult("dpo", 1, null, null, new Path("/a"), outcome(0, 0, 0, 0, null),
                List.of(new Point(0, -10, -20), new Point(25, -11, -22)), false);
        RunResult b = new RunResult("dpo", 2, null, null, new Path("/b"), outcome(0, 0, 0, 0, null),
                List.of(new Point(0, -10, -20), new Point(25, -9, -24), new Point(50, -8, -25)), false);
        TreeMap<Long, double[]> mean = StudyStatistics.meanTrajectory(List.of(a, b));
        assertEquals(List.of(0L, 25L, 50L), List.copyOf(mean.keySet()));
        assertEquals(0.0, mean.get(0L)[0]);
        assertEquals(0.0, mean.get(25L)[0], 1e-12);
        assertEquals(-3.0, mean.get(25L)[1], 1e-12);
        assertEquals(2.0, mean.get(50L)[0], 1e-12);
    }

    @Test
    void writesTheReportAsideAndRefusesAFolderThatIsNotOne(@TempDir File dir) throws IOException {
        Config config = SgdpoConfig.load(null, Map.of("study.losses", "sgdpo,dpo", "study.seeds", "1,2"));
        StudySettings.Dataset d = new StudySettings.Dataset("hh", false, List.of("in.jsonl"), List.of(), config);
        StudySettings settings = new StudySettings(List.of("sgdpo", "dpo"), List.of(1L, 2L), Map.of(), List.of(d),
                new StudySettings.Sweep("hh", List.of(0.6, 1.0), List.of(0.8), List.of(1L)));
        Outcome reference = outcome(0, 0, -10, -12, null);
        List<RunResult> runs = List.of(run("sgdpo", 1, outcome(0.6, 0.2, -9.5, -12.5, null)),
                run("sgdpo", 2, outcome(0.8, 0.4, -9.7, -12.9, null)),
                run("dpo", 1, outcome(0.7, 0.3, -10.5, -13, null)), run("dpo", 2, outcome(0.7, 0.3, -10.1, -13, null)));
        List<RunResult> sweep = List.of(
                new RunResult("sgdpo", 1, 0.6, 0.8, new Path("/s1"), outcome(0.55, 0.1, -9, -12, null), List.of(), true),
                new RunResult("sgdpo", 1, 1.0, 0.8, new Path("/s2"), outcome(0.65, 0.1, -9, -12, null), List.of(), false));
        DatasetResult result = new DatasetResult(d, "test data", 900, 100, reference, runs, sweep);
        StudyReport.Study study = new StudyReport.Study("./sgdpo study --conf x", "abc", "2 cores", 1.5, settings,
                List.of(result), config);

        File out = new File(dir, "report");
        org.apache.hadoop.fs.Path md = StudyReport.write(new Configuration(), study, out.getPath());
        String text = Files.readString(new File(md.toUri().getPath()).toPath());
        assertTrue(text.contains("| sgdpo | 0.700 ± 0.141 |"), text);
        assertTrue(text.contains("| dpo | 0.700 ± 0.000 |"), text);
        assertTrue(text.contains("Command: `./sgdpo study --conf x`"), text);
        assertTrue(text.contains("1 of the 6 training runs continued from checkpoints"), text);
        assertTrue(text.contains("Highest eval reward accuracy at r1/r2 = 1.0/0.8 (0.650)"), text);
        assertTrue(new File(out, "trajectories-hh.png").length() > 0);
        JsonNode json = new ObjectMapper().readTree(new File(out, StudyReport.JSON_FILE));
        JsonNode sg = json.path("datasets").get(0).path("summary").path("sgdpo");
        assertEquals(0.7, sg.path("reward_accuracy").path("mean").asDouble(), 1e-12);
        assertEquals(0.4, sg.path("delta_logp_chosen").path("mean").asDouble(), 1e-9);
        assertEquals(4, json.path("datasets").get(0).path("runs").size());
        assertEquals(2, json.path("datasets").get(0).path("sweep").size());
        assertTrue(new File(out, StudyReport.CONFIG_FILE).length() > 0);

        // a rerun replaces its own report; a folder holding anything else is refused, untouched
        StudyReport.write(new Configuration(), study, out.getPath());
        File other = new File(dir, "other");
        assertTrue(new File(other, "keep.txt").getParentFile().mkdirs());
        Files.writeString(new File(other, "keep.txt").toPath(), "x");
        IOException e = assertThrows(IOException.class,
                () -> StudyReport.write(new Configuration(), study, other.getPath()));
        assertTrue(e.getMessage().contains("not a study report"), e.getMessage());
        assertTrue(new File(other, "keep.txt").isFile());
    }
}
