package io.sgdpo.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sgdpo.online.LexiconReward;
import io.sgdpo.online.SamplePairsJob;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code sgdpo sample-pairs} on the pretrained stories260K with Spark local[2]: the same seed and
 * partitioning give identical samples (bit-identical: the same computation replayed), every prompt
 * ends as a pair, a tie or a failure, and each recorded reward is the reward of its recorded text.
 */
class SamplePairsCliTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void samplesAreReproducibleAndEveryPromptIsAccountedFor(@TempDir Path dir) throws Exception {
        Path prompts = dir.resolve("prompts.jsonl");
        List<String> lines = new ArrayList<>();
        String[] names = {"Lily", "Tom", "Sue", "Ben", "Mia", "Max"};
        for (int i = 0; i < names.length; i++) {
            lines.add("{\"id\": \"p" + i + "\", \"prompt\": \"Once upon a time, " + names[i]
                    + " went to the park.\"}");
        }
        lines.add("{\"id\": \"blank\", \"prompt\": \"  \"}");
        lines.add("{\"id\": \"p0\", \"prompt\": \"A duplicate id.\"}");
        lines.add("{\"id\": \"long\", \"prompt\": \"" + "the big dog ran and ran ".repeat(12) + "\"}");
        Files.write(prompts, lines);
        Path words = dir.resolve("words.txt");
        Files.write(words, List.of("# test lexicon", "happy 1.0", "fun 1.0", "sad -1.0", "the 0.1"));
        String model = AlignOwnModelTest.sharedModel("stories260K").toString();

        String[] common = {"sample-pairs", "--input", prompts.toString(), "--model", model, "-Dmodel.maxLength=48",
            "-Dsample.k=3", "-Dsample.maxNewTokens=10", "-Dsample.partitions=2", "-Dsample.rowsPerPass=8",
            "-Dreward.lexicon=" + words, "-Dspark.master=local[2]"};
        Path first = dir.resolve("first");
        Path second = dir.resolve("second");
        Path otherSeed = dir.resolve("other-seed");
        ok(concat(common, "--output", first.toString(), "-Dsample.seed=5"));
        ok(concat(common, "--output", second.toString(), "-Dsample.seed=5"));
        ok(concat(common, "--output", otherSeed.toString(), "-Dsample.seed=6"));

        String samples = Files.readString(first.resolve(SamplePairsJob.SAMPLES));
        assertEquals(samples, Files.readString(second.resolve(SamplePairsJob.SAMPLES)), "same seed, same samples");
        assertEquals(Files.readString(first.resolve(SamplePairsJob.PAIRS)),
                Files.readString(second.resolve(SamplePairsJob.PAIRS)));
        assertNotEquals(samples, Files.readString(otherSeed.resolve(SamplePairsJob.SAMPLES)), "another seed differs");

        JsonNode counts = JSON.readTree(first.resolve(SamplePairsJob.MANIFEST).toFile()).path("counts");
        assertEquals(9, counts.path("prompts").asInt());
        assertEquals(3, counts.path("failures").asInt(), "blank, duplicate id, too long");
        assertEquals(6 * 3, counts.path("samples").asInt());
        List<String> pairs = Files.readAllLines(first.resolve(SamplePairsJob.PAIRS));
        assertEquals(pairs.size(), counts.path("pairs").asInt());
        assertEquals(9, counts.path("pairs").asInt() + counts.path("ties").asInt() + counts.path("failures").asInt());
        Set<String> reasons = new HashSet<>();
        for (String line : Files.readAllLines(first.resolve(SamplePairsJob.REJECTS))) {
            JsonNode r = JSON.readTree(line);
            reasons.add(r.path("prompt_id").asText() + ": " + r.path("reason").asText().split(" ")[0]);
        }
        assertEquals(Set.of("blank: missing", "p0: duplicate", "long: prompt"), reasons);

        LexiconReward reward = LexiconReward.parse(words.toString(), Files.readAllLines(words));
        for (String line : samples.split("\n")) {
            JsonNode s = JSON.readTree(line);
            assertEquals(reward.score(s.path("prompt").asText(), s.path("completion").asText()),
                    s.path("reward").asDouble(), line);
        }
        for (String line : pairs) {
            JsonNode p = JSON.readTree(line);
            assertTrue(p.path("chosen_reward").asDouble() > p.path("rejected_reward").asDouble(), line);
        }
    }

    @Test
    void aBadRewardFileIsAConfigErrorNamingTheLine(@TempDir Path dir) throws Exception {
        Path prompts = dir.resolve("prompts.jsonl");
        Files.write(prompts, List.of("{\"prompt\": \"Once upon a time\"}"));
        Path words = dir.resolve("words.txt");
        Files.write(words, List.of("happy 1.0", "sad -1.0 extra"));
        CliRun r = CliRun.of("sample-pairs", "--input", prompts.toString(), "--model",
                AlignOwnModelTest.sharedModel("stories260K").toString(), "--output", dir.resolve("out").toString(),
                "-Dreward.lexicon=" + words, "-Dspark.master=local[1]");
        assertEquals(Sgdpo.EXIT_USAGE, r.code(), r.err());
        assertTrue(r.err().contains(words + ":2: "), r.err());
        assertTrue(!Files.exists(dir.resolve("out")), "nothing written");
    }

    private static void ok(String... args) {
        CliRun r = CliRun.of(args);
        assertEquals(0, r.code(), String.join(" ", args) + "\n" + r.err() + r.out());
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
