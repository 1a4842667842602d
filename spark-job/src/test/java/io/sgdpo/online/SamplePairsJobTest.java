package io.sgdpo.online;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import io.sgdpo.config.ConfigurationException;
import io.sgdpo.config.SgdpoConfig;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code sample-pairs} on the pretrained stories260K with Spark local[2]: the same seed and
 * partitioning give identical samples (bit-identical: the same computation replayed), every prompt
 * ends as a pair, a tie or a failure, each recorded reward is the reward of its recorded text, and
 * a bad reward file is an error naming its line.
 */
@Tag("spark")
class SamplePairsJobTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static SparkSession spark;

    @BeforeAll
    static void startSpark() {
        spark = SparkSession.builder().master("local[2]").appName("sample-pairs-test")
                .config("spark.ui.enabled", "false").getOrCreate();
    }

    @AfterAll
    static void stopSpark() {
        spark.stop();
    }

    private static String model() {
        String root = System.getProperty("sgdpo.shared.models");
        assertTrue(root != null, "system property sgdpo.shared.models is not set (the parent pom sets it)");
        return Path.of(root, "stories260K").toString();
    }

    private static Config config(Path words, long seed) {
        Map<String, String> o = new HashMap<>(Map.of("model.maxLength", "48", "sample.k", "3",
                "sample.maxNewTokens", "10", "sample.partitions", "2", "sample.rowsPerPass", "8",
                "reward.lexicon", words.toString()));
        o.put("sample.seed", Long.toString(seed));
        return SgdpoConfig.load(null, o);
    }

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
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
        List<String> in = List.of(prompts.toString());

        SamplePairsJob.Result r = SamplePairsJob.run(spark, in, model(), null, dir.resolve("first").toString(),
                config(words, 5), quiet);
        SamplePairsJob.run(spark, in, model(), null, dir.resolve("second").toString(), config(words, 5), quiet);
        SamplePairsJob.run(spark, in, model(), null, dir.resolve("other").toString(), config(words, 6), quiet);

        Path first = dir.resolve("first");
        String samples = Files.readString(first.resolve(SamplePairsJob.SAMPLES));
        assertEquals(samples, Files.readString(dir.resolve("second").resolve(SamplePairsJob.SAMPLES)),
                "same seed, same samples");
        assertEquals(Files.readString(first.resolve(SamplePairsJob.PAIRS)),
                Files.readString(dir.resolve("second").resolve(SamplePairsJob.PAIRS)));
        assertNotEquals(samples, Files.readString(dir.resolve("other").resolve(SamplePairsJob.SAMPLES)),
                "another seed, other samples");

        JsonNode counts = JSON.readTree(first.resolve(SamplePairsJob.MANIFEST).toFile()).path("counts");
        assertEquals(9, counts.path("prompts").asInt());
        assertEquals(3, counts.path("failures").asInt(), "blank, duplicate id, too long");
        assertEquals(6 * 3, counts.path("samples").asInt());
        List<String> pairs = Files.readAllLines(first.resolve(SamplePairsJob.PAIRS));
        assertEquals(pairs.size(), counts.path("pairs").asInt());
        assertEquals(r.pairs(), pairs.size());
        assertEquals(9, counts.path("pairs").asInt() + counts.path("ties").asInt() + counts.path("failures").asInt());
        Set<String> reasons = new HashSet<>();
        for (String line : Files.readAllLines(first.resolve(SamplePairsJob.REJECTS))) {
            JsonNode x = JSON.readTree(line);
            reasons.add(x.path("prompt_id").asText() + ": " + x.path("reason").asText().split(" ")[0]);
        }
        assertEquals(Set.of("blank: missing", "p0: duplicate", "long: prompt"), reasons);

        // The recorded reward is the reward of the recorded text: the same arithmetic, bit-identical.
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
    void aBadRewardFileIsAnErrorNamingTheLineAndWritesNothing(@TempDir Path dir) throws Exception {
        Path prompts = dir.resolve("prompts.jsonl");
        Files.write(prompts, List.of("{\"prompt\": \"Once upon a time\"}"));
        Path words = dir.resolve("words.txt");
        Files.write(words, List.of("happy 1.0", "sad -1.0 extra"));
        ConfigurationException e = assertThrows(ConfigurationException.class, () -> SamplePairsJob.run(spark,
                List.of(prompts.toString()), model(), null, dir.resolve("out").toString(), config(words, 1),
                new PrintStream(new ByteArrayOutputStream())));
        assertTrue(e.getMessage().startsWith(words + ":2: "), e.getMessage());
        assertFalse(Files.exists(dir.resolve("out")), "nothing written");
    }
}
