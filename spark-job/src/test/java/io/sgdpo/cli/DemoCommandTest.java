package io.sgdpo.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sgdpo.train.HhSlice;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code sgdpo demo} end to end at a tiny size: every stage's output, a summary that agrees with
 * the evaluations it quotes, preference training that moves the reward accuracy, a rerun that
 * reuses finished work, real data through {@code --data}, and early config errors.
 */
@Tag("spark")
class DemoCommandTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String[] TINY = {"-Dspark.master=local[2]", "-Ddemo.task.sftExamples=600",
        "-Ddemo.task.preferencePairs=400", "-Ddemo.task.heldOutPrompts=40", "-Dsft.epochs=2", "-Dtrain.maxSteps=30",
        "-Dtrain.evalEvery=10", "-Dtrain.checkpointEvery=10", "-Deval.samples=1", "-Deval.prompts=2"};

    @TempDir
    File work;

    private static CliRun demo(File out, String... extra) {
        List<String> args = new ArrayList<>(List.of("demo", "--output", out.getAbsolutePath()));
        args.addAll(List.of(extra));
        return CliRun.of(args.toArray(String[]::new));
    }

    private static String[] concat(String[] a, String... b) {
        return Stream.concat(Stream.of(a), Stream.of(b)).toArray(String[]::new);
    }

    private static JsonNode json(File f) throws IOException {
        assertTrue(f.isFile(), "missing " + f);
        return JSON.readTree(f);
    }

    private static boolean carries(String prompt) {
        String[] parts = prompt.substring(0, prompt.length() - 1).split("\\+");
        return Integer.parseInt(parts[0]) % 10 + Integer.parseInt(parts[1]) >= 10;
    }

    private static List<String> tableRows(File summary) throws IOException {
        return Files.readAllLines(summary.toPath()).stream()
                .filter(l -> l.startsWith("| ") && !l.startsWith("| policy")).toList();
    }

    @Test
    void generatedTaskRunsEveryStageAndARerunReusesTheFinishedWork() throws IOException {
        File out = new File(work, "demo");
        CliRun first = demo(out, TINY);
        assertEquals(0, first.code(), first.err() + first.out());

        // every input record is accounted for by prep
        for (String set : List.of("sft", "preferences")) {
            long lines = Files.lines(new File(out, "data/" + set + ".jsonl").toPath()).count();
            JsonNode counts = json(new File(out, "prep/" + set + "/_manifest.json")).path("counts");
            assertEquals(lines, counts.path("read").asLong(), set);
            assertEquals(lines, counts.path("kept").asLong() + counts.path("rejected").asLong(), set);
        }
        assertTrue(new File(out, "ref/_manifest.json").isFile());
        String report = Files.readString(new File(out, "report/report.md").toPath());
        assertTrue(report.contains("sgdpo") && report.contains("dpo"), report);

        List<String> rows = tableRows(new File(out, "summary.md"));
        assertEquals(3, rows.size(), "reference, sgdpo, dpo: " + rows);
        List<String> policies = List.of("reference (SFT)", "sgdpo", "dpo");
        List<File> evals = List.of(new File(out, "eval/reference"), new File(out, "runs/sgdpo/eval"),
                new File(out, "runs/dpo/eval"));
        for (int i = 0; i < 3; i++) {
            JsonNode eval = json(new File(evals.get(i), "eval.json"));
            String[] cells = rows.get(i).split("\\|");
            assertEquals(policies.get(i), cells[1].strip());
            assertEquals(40, eval.path("gold").path("prompts").asInt());
            assertEquals(String.format(Locale.ROOT, "%.3f", eval.path("gold").path("exact_match").asDouble()),
                    cells[2].strip(), "the summary quotes the evaluation's gold exact match");
            List<JsonNode> gold = new ArrayList<>();
            for (String line : Files.readAllLines(new File(evals.get(i), "gold.jsonl").toPath())) {
                gold.add(JSON.readTree(line));
            }
            assertEquals(40, gold.size());
            List<JsonNode> carrying = gold.stream().filter(g -> carries(g.path("prompt").asText())).toList();
            assertEquals(20, carrying.size(), "half the held-out prompts carry");
            assertEquals(String.format(Locale.ROOT, "%.3f",
                    carrying.stream().filter(g -> g.path("correct").asBoolean()).count() / 20.0), cells[3].strip(),
                    "exact match on the carrying prompts");
            assertEquals(2, Files.lines(new File(evals.get(i), "generations.jsonl").toPath()).count());
            if (i > 0) {
                double accuracy = eval.path("metrics").path("eval_rewards/accuracies").asDouble();
                assertEquals(String.format(Locale.ROOT, "%.3f", accuracy), cells[5].strip());
                // Step 0: the policy is the checkpoint that scored the reference log-probs, so it is
                // compared with itself in one forward pass: rewards exactly 0, hence accuracy exactly 0
                // (strictly chosen > rejected) on any CPU. Against the stored log-probs, which another
                // batching computed, float32 rounding alone would make a CPU-dependent share of the
                // pairs "accurate" (0.34 on an AVX-512 EPYC).
                JsonNode step0 = JSON.readTree(Files.readAllLines(
                        new File(out, "runs/" + policies.get(i) + "/metrics/train.jsonl").toPath()).get(0));
                assertEquals(0.0, step0.path("eval_rewards/accuracies").asDouble());
                assertEquals(0.0, step0.path("eval_rewards/margins").asDouble());
                assertEquals(0.0, step0.path("eval_rewards/chosen").asDouble());
                assertTrue(accuracy > 0.5, policies.get(i) + " learned to prefer the correct sums: " + accuracy);
                assertTrue(new File(out, "runs/" + policies.get(i) + "/checkpoints/step-0000000030").isDirectory());
            } else {
                // sgdpo eval of the checkpoint that scored the data compares it with itself: rewards 0
                assertEquals(0.0, eval.path("metrics").path("eval_rewards/accuracies").asDouble());
                assertEquals(0.0, eval.path("metrics").path("eval_rewards/margins").asDouble());
            }
        }
        String dpoEval = Files.readString(new File(out, "runs/dpo/eval/eval.json").toPath());

        CliRun second = demo(out, TINY);
        assertEquals(0, second.code(), second.err() + second.out());
        assertTrue(second.out().contains("up to date: file:" + new File(out, "prep/sft").getAbsolutePath()),
                second.out());
        assertTrue(second.out().contains("up to date: " + new File(out, "sft").getAbsolutePath()), second.out());
        assertTrue(second.out().contains("resuming"), second.out());
        assertFalse(second.out().contains("sft: epoch 1"), "no SFT epoch is retrained");
        // Exact: the same checkpoint, pairs and batches, evaluated again in this JVM.
        assertEquals(dpoEval, Files.readString(new File(out, "runs/dpo/eval/eval.json").toPath()),
                "the same checkpoint evaluates to the same numbers");
    }

    @Test
    void realDataGoesThroughTheSamePipelineWithoutAGoldColumn() throws IOException {
        File slice = HhSlice.write(work, 160);
        File out = new File(work, "hh");
        CliRun run = demo(out, "--data", slice.getAbsolutePath(), "-Dspark.master=local[2]",
                "-Dprep.maxPromptLength=24", "-Dprep.maxTotalLength=48", "-Dtokenizer.vocabSize=200",
                "-Dprep.evalFraction=0.2", "-Dprep.maxRejectFraction=0.5", "-Dmodel.maxLength=48", "-Dmodel.dModel=32",
                "-Dmodel.layers=1", "-Dmodel.heads=2", "-Dsft.epochs=1", "-Dtrain.maxSteps=10", "-Dtrain.evalEvery=10",
                "-Dtrain.checkpointEvery=10", "-Deval.prompts=1", "-Deval.samples=1", "-Deval.maxNewTokens=8");
        assertEquals(0, run.code(), run.err() + run.out());
        JsonNode counts = json(new File(out, "prep/_manifest.json")).path("counts");
        assertEquals(160, counts.path("read").asLong());
        List<String> rows = tableRows(new File(out, "summary.md"));
        assertEquals(3, rows.size(), rows.toString());
        assertFalse(Files.readString(new File(out, "summary.md").toPath()).contains("gold"));
        assertTrue(json(new File(out, "runs/sgdpo/eval/eval.json")).path("gold").isMissingNode());
    }

    @Test
    void badSettingsFailBeforeAnyWorkNamingTheKey() {
        File out = new File(work, "bad");
        CliRun noise = demo(out, concat(TINY, "-Ddemo.task.sftNoise=2"));
        assertEquals(Sgdpo.EXIT_USAGE, noise.code());
        assertTrue(noise.err().contains("demo.task.sftNoise"), noise.err());
        CliRun loss = demo(out, concat(TINY, "-Ddemo.losses=sgdpo,dpx"));
        assertEquals(Sgdpo.EXIT_USAGE, loss.code());
        assertTrue(loss.err().contains("dpx"), loss.err());
        CliRun typo = demo(out, concat(TINY, "-Ddemo.task.sftNoyse=0.5"));
        assertEquals(Sgdpo.EXIT_USAGE, typo.code());
        assertTrue(typo.err().contains("demo.task.sftNoyse"), typo.err());
        assertFalse(new File(out, "sft").exists(), "nothing was trained");
    }
}
