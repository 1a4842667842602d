package io.sgdpo.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sgdpo.online.FrontierJob;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code sgdpo frontier} end to end at a tiny size on stories260K: story prompts, on-policy pairs,
 * prep, ref-logps, one beta and one seed of SGDPO and DPO, held-out sampling, the table and plot.
 */
@Tag("spark")
class FrontierCliTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void aTinyFrontierRunsEndToEnd(@TempDir Path dir) throws Exception {
        Path lexicon = Path.of(System.getProperty("user.dir")).getParent().resolve("conf/reward-sentiment.txt");
        Path out = dir.resolve("frontier");
        String[] args = {"frontier", "--model", AlignOwnModelTest.sharedModel("stories260K").toString(),
            "--work", dir.resolve("work").toString(), "--output", out.toString(),
            "-Dfrontier.losses=sgdpo,dpo", "-Dfrontier.betas=0.1", "-Dfrontier.seeds=1",
            "-Dfrontier.trainPrompts=24", "-Dfrontier.heldOutPrompts=4", "-Dfrontier.heldOutSamples=2",
            "-Dsample.k=3", "-Dsample.maxNewTokens=12", "-Dreward.lexicon=" + lexicon,
            "-Dmodel.maxLength=40", "-Dprep.maxPromptLength=24", "-Dprep.maxTotalLength=40",
            "-Dprep.evalFraction=0.2", "-Dprep.maxRejectFraction=0.5",
            "-Dtrain.maxSteps=4", "-Dtrain.batchSize=2", "-Dtrain.logEvery=2", "-Dtrain.evalEvery=4",
            "-Dtrain.checkpointEvery=4", "-Dspark.master=local[2]"};
        CliRun r = CliRun.of(args);
        assertEquals(0, r.code(), r.err() + r.out());
        assertTrue(r.out().contains("frontier: run 2/2 dpo-beta0.1-seed1"), r.out());

        List<String> lines = Files.readAllLines(out.resolve(FrontierJob.POINTS));
        assertEquals(3, lines.size(), "the reference, then one policy per loss");
        JsonNode reference = JSON.readTree(lines.get(0));
        // The reference scored against itself: the same forward pass twice, so every log-ratio is exactly 0.
        assertEquals(0.0, reference.path("kl").asDouble());
        for (String line : lines) {
            JsonNode p = JSON.readTree(line);
            assertTrue(Double.isFinite(p.path("reward").asDouble()) && Double.isFinite(p.path("kl").asDouble()), line);
            List<String> samples = Files.readAllLines(out.resolve(p.path("samples").asText()));
            assertEquals(4 * 2, samples.size(), "every held-out prompt x samples");
            double reward = 0;
            double kl = 0;
            for (String s : samples) {
                JsonNode x = JSON.readTree(s);
                reward += x.path("reward").asDouble();
                kl += x.path("logp").asDouble() - x.path("ref_logp").asDouble();
            }
            // The point is the mean of its samples file, summed in the same order: bit-identical.
            assertEquals(reward / samples.size(), p.path("reward").asDouble(), line);
            assertEquals(kl / samples.size(), p.path("kl").asDouble(), line);
        }
        JsonNode sgdpo = JSON.readTree(lines.get(1));
        double change = sgdpo.path("chosenChange").asDouble();
        assertTrue(Double.isFinite(change) && change != 0, "eval log-prob change from step 0 to the end: " + lines.get(1));
        String table = Files.readString(out.resolve(FrontierJob.TABLE));
        assertTrue(table.contains("| sgdpo | 0.1 | 1 |") && table.contains("| dpo | 0.1 | 1 |"), table);
        assertTrue(Files.size(out.resolve(FrontierJob.PLOT)) > 1000, "plot written");
        assertTrue(Files.readString(out.resolve(FrontierJob.CONFIG)).contains("trainPrompts"));
        assertTrue(table.contains("## sgdpo at equal KL") && table.contains("| seed 1 | 0.00 - "), table);
        assertTrue(table.contains("| sgdpo-beta0.1-seed1 | ") && table.contains("| dpo-beta0.1-seed1 | "), table);

        // --report writes the report again from points.jsonl and config.conf alone: the same table.
        Files.delete(out.resolve(FrontierJob.TABLE));
        Files.delete(out.resolve(FrontierJob.PLOT));
        CliRun again = CliRun.of("frontier", "--report", out.toString(), "-Dspark.master=local[1]");
        assertEquals(0, again.code(), again.err() + again.out());
        assertEquals(table, Files.readString(out.resolve(FrontierJob.TABLE)));
        assertTrue(Files.size(out.resolve(FrontierJob.PLOT)) > 1000, "plot written again");
        CliRun none = CliRun.of("frontier", "--report", dir.resolve("work").toString(), "-Dspark.master=local[1]");
        assertEquals(Sgdpo.EXIT_USAGE, none.code(), none.err());
        assertTrue(none.err().contains(FrontierJob.POINTS), none.err());

        // The same command again, as after a crash: the second run's samples are gone (as if it had
        // stopped while sampling), so it alone is trained and sampled again; the first is kept as
        // it was, and every point is the same as before (bit-identical: the same files, summed in
        // the same order; the second run is the same computation replayed on this machine).
        Files.delete(dir.resolve("work/samples/dpo-beta0.1-seed1.jsonl"));
        CliRun resumed = CliRun.of(args);
        assertEquals(0, resumed.code(), resumed.err() + resumed.out());
        assertTrue(resumed.out().contains("run 1/2 sgdpo-beta0.1-seed1: trained and sampled before"), resumed.out());
        assertTrue(resumed.out().contains("frontier: run 2/2 dpo-beta0.1-seed1 ("), resumed.out());
        assertTrue(!resumed.out().contains("sample-pairs:"), "the pairs were kept: " + resumed.out());
        assertEquals(lines, Files.readAllLines(out.resolve(FrontierJob.POINTS)));

        // Other settings in the same work folder: an error naming its settings file, nothing changed.
        String[] other = java.util.Arrays.copyOf(args, args.length + 1);
        other[args.length] = "-Dfrontier.evalSeed=12";
        CliRun mismatch = CliRun.of(other);
        assertEquals(Sgdpo.EXIT_USAGE, mismatch.code(), mismatch.err() + mismatch.out());
        assertTrue(mismatch.err().contains(FrontierJob.WORK_SETTINGS), mismatch.err());
        assertEquals(lines, Files.readAllLines(out.resolve(FrontierJob.POINTS)));
    }
}
