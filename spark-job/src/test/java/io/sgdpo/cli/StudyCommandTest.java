package io.sgdpo.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sgdpo.train.HhSlice;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code sgdpo study} end to end at a tiny size: two data sets (the generated task, and HH records
 * given as separate train and eval files), two losses with two seeds, a two-cell pilot-ratio sweep;
 * the report must quote the evaluations it was built from.
 */
@Tag("spark")
class StudyCommandTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    File work;

    private static JsonNode json(File f) throws IOException {
        assertTrue(f.isFile(), "missing " + f);
        return JSON.readTree(f);
    }

    @Test
    void everyLossAndSeedIsTrainedFromOneReferenceAndTheReportQuotesTheEvaluations() throws IOException {
        List<String> hh = Files.readAllLines(HhSlice.write(work, 200).toPath());
        File train = new File(work, "hh-train.jsonl");
        File eval = new File(work, "hh-eval.jsonl");
        Files.write(train.toPath(), hh.subList(0, 160));
        Files.write(eval.toPath(), hh.subList(160, 200));
        File conf = new File(work, "study.conf");
        Files.writeString(conf.toPath(), """
                study {
                  losses = [sgdpo, dpo]
                  seeds = [1, 2]
                  datasets = [
                    { name = arith, task = generated, settings {
                        include classpath("io/sgdpo/demo/generated.conf")
                        demo.task { sftExamples = 600, preferencePairs = 400, heldOutPrompts = 40 }
                        sft.epochs = 2
                        train { maxSteps = 20, evalEvery = 10, checkpointEvery = 10 }
                        eval { prompts = 1, samples = 1 } } }
                    { name = hh, train = ["%s"], eval = ["%s"], settings {
                        prep { maxPromptLength = 24, maxTotalLength = 48, evalFraction = 0.0, maxRejectFraction = 0.5 }
                        tokenizer.vocabSize = 200
                        model { maxLength = 48, dModel = 32, layers = 1, heads = 2 }
                        sft.epochs = 1
                        train { maxSteps = 10, evalEvery = 10, checkpointEvery = 10 }
                        eval { prompts = 1, samples = 1, maxNewTokens = 8 } } }
                  ]
                  sweep { dataset = arith, r1 = [0.6, 1.0], r2 = [1.0], seeds = [1] }
                }
                """.formatted(train.getAbsolutePath(), eval.getAbsolutePath()));
        File out = new File(work, "report");
        File runs = new File(work, "runs");
        CliRun run = CliRun.of("study", "--conf", conf.getAbsolutePath(), "--output", out.getAbsolutePath(),
                "--work", runs.getAbsolutePath(), "-Dspark.master=local[2]");
        assertEquals(0, run.code(), run.err() + run.out());
        assertTrue(run.out().contains("run 10/10"), "4 + 2 sweep runs on arith, 4 on hh: " + run.out());

        JsonNode study = json(new File(out, "study.json"));
        assertTrue(study.path("command").asText().contains("--conf " + conf.getAbsolutePath()));
        assertEquals(2, study.path("datasets").size());
        for (JsonNode d : study.path("datasets")) {
            String name = d.path("name").asText();
            File dir = new File(runs, name);
            JsonNode reference = json(new File(dir, "eval/reference/eval.json"));
            assertEquals("dpo", reference.path("loss").asText(), "every policy is scored with DPO's reward");
            assertEquals(4, d.path("runs").size());
            for (JsonNode r : d.path("runs")) {
                File runDir = new File(dir, "runs/" + r.path("loss").asText() + "-seed" + r.path("seed").asInt());
                assertEquals(false, r.path("resumed").asBoolean(true), "a first invocation trains every run itself");
                JsonNode evaluation = json(new File(runDir, "eval/eval.json"));
                assertEquals("dpo", evaluation.path("loss").asText());
                JsonNode m = evaluation.path("metrics");
                assertEquals(m.path("eval_rewards/accuracies").asDouble(), r.path("metrics").path("reward_accuracy")
                        .asDouble(), 1e-12, runDir.toString());
                assertEquals(m.path("eval_logps/chosen").asDouble()
                                - reference.path("metrics").path("eval_logps/chosen").asDouble(),
                        r.path("metrics").path("delta_logp_chosen").asDouble(), 1e-9, runDir.toString());
                JsonNode manifest = json(new File(runDir, "_manifest.json"));
                assertEquals(r.path("loss").asText(), manifest.path("config").path("loss").path("name").asText());
                assertEquals(r.path("seed").asLong(), manifest.path("config").path("train").path("seed").asLong());
                assertEquals(d.path("config").path("train").path("maxSteps").asInt(),
                        r.path("trajectory").get(r.path("trajectory").size() - 1).path("step").asInt(),
                        "equal steps for every run");
            }
            // the seed changes the run: data order (and SGDPO's pilots)
            assertNotEquals(d.path("runs").get(0).path("metrics").path("eval_logps_chosen").asDouble(),
                    d.path("runs").get(1).path("metrics").path("eval_logps_chosen").asDouble());
            JsonNode summary = d.path("summary").path("sgdpo").path("reward_accuracy");
            assertEquals((d.path("runs").get(0).path("metrics").path("reward_accuracy").asDouble()
                    + d.path("runs").get(1).path("metrics").path("reward_accuracy").asDouble()) / 2,
                    summary.path("mean").asDouble(), 1e-12);
            assertTrue(new File(out, "trajectories-" + name + ".png").length() > 0);
        }

        JsonNode arith = study.path("datasets").get(0);
        assertEquals(40, arith.path("reference").path("gold_prompts").asInt());
        assertEquals(2, arith.path("sweep").size());
        for (JsonNode cell : arith.path("sweep")) {
            JsonNode manifest = json(new File(cell.path("dir").asText().replaceFirst("^file:", ""), "_manifest.json"));
            assertEquals(cell.path("r1").asDouble(), manifest.path("config").path("loss").path("r1").asDouble());
            assertEquals(1.0, manifest.path("config").path("loss").path("r2").asDouble());
        }
        // the eval file goes whole into the eval split: HH's eval pairs are the eval file's kept records
        JsonNode hhSet = study.path("datasets").get(1);
        JsonNode counts = json(new File(runs, "hh/prep/_manifest.json")).path("counts");
        assertEquals(hhSet.path("eval_pairs").asLong(), counts.path("splits").path("eval").asLong());
        assertTrue(hhSet.path("eval_pairs").asLong() > 20 && hhSet.path("eval_pairs").asLong() <= 40,
                hhSet.toString());
        assertEquals(200, counts.path("read").asLong());

        String md = Files.readString(new File(out, "study.md").toPath());
        assertEquals(2, md.lines().filter(l -> l.startsWith("| sgdpo |")).count(), md);
        assertTrue(md.contains("SGDPO pilot ratios on arith"), md);
        assertTrue(json(new File(out, "config.json")).path("study").path("datasets").isArray());
    }

    @Test
    void aStudyWithoutAConfOrWithAMistakeIsAUsageError() throws IOException {
        CliRun none = CliRun.of("study");
        assertEquals(Sgdpo.EXIT_USAGE, none.code());
        assertTrue(none.err().contains("--conf"), none.err());
        File conf = new File(work, "bad.conf");
        Files.writeString(conf.toPath(), "study { datasets = [ { name = g, task = generated, tarin = [x] } ] }");
        CliRun bad = CliRun.of("study", "--conf", conf.getAbsolutePath(), "--output", new File(work, "o").getPath(),
                "-Dspark.master=local[1]");
        assertEquals(Sgdpo.EXIT_USAGE, bad.code());
        assertTrue(bad.err().contains("study.datasets[0].tarin"), bad.err());
        assertTrue(!new File(work, "o").exists(), "nothing written");
    }
}
