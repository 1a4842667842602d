package io.sgdpo.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sgdpo.config.ConfigurationException;
import io.sgdpo.config.SgdpoConfig;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The generated task: disjoint prompts, the asked-for carry share and noise, correct gold answers. */
class ArithmeticTaskTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    File dir;

    private static ArithmeticTask.Settings settings(Map<String, String> overrides) {
        return ArithmeticTask.Settings.of(SgdpoConfig.load(null, overrides).getConfig("demo.task"));
    }

    private ArithmeticTask.Files write(String sub, ArithmeticTask.Settings s) throws IOException {
        return ArithmeticTask.write(FileSystem.getLocal(new Configuration()), new Path(new File(dir, sub).toURI()), s);
    }

    private static List<JsonNode> lines(Path file) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        for (String line : Files.readAllLines(new File(file.toUri()).toPath())) {
            out.add(JSON.readTree(line));
        }
        return out;
    }

    private static int sum(String prompt) {
        String[] parts = prompt.substring(0, prompt.length() - 1).split("\\+");
        return Integer.parseInt(parts[0]) + Integer.parseInt(parts[1]);
    }

    private static boolean carries(String prompt) {
        String[] parts = prompt.substring(0, prompt.length() - 1).split("\\+");
        return Integer.parseInt(parts[0]) % 10 + Integer.parseInt(parts[1]) >= 10;
    }

    @Test
    void setsAreDisjointWithTheAskedCarryShareNoiseAndAnswers() throws IOException {
        ArithmeticTask.Settings s = settings(Map.of("demo.task.sftExamples", "3000", "demo.task.preferencePairs", "1000",
                "demo.task.heldOutPrompts", "400", "demo.task.sftNoise", "0.6", "demo.task.carryFraction", "0.5"));
        ArithmeticTask.Files f = write("a", s);
        List<JsonNode> sft = lines(f.sft());
        List<JsonNode> prefs = lines(f.preferences());
        List<JsonNode> gold = lines(f.gold());
        assertEquals(3000, sft.size());
        assertEquals(1000, prefs.size());
        assertEquals(400, gold.size());

        Set<String> prompts = new HashSet<>();
        for (List<JsonNode> set : List.of(sft, prefs, gold)) {
            long carrying = 0;
            for (JsonNode n : set) {
                String p = n.get("prompt").asText();
                assertTrue(p.matches("\\d{1,5}\\+1="), p);
                assertTrue(prompts.add(p), "prompt repeated across or within sets: " + p);
                carrying += carries(p) ? 1 : 0;
            }
            assertEquals(set.size() / 2, carrying, "half of each set carries");
        }
        for (JsonNode n : prefs) {
            String p = n.get("prompt").asText();
            assertEquals(Integer.toString(sum(p)), n.get("chosen").asText(), p);
            assertNotEquals(n.get("chosen").asText(), n.get("rejected").asText(), p);
            if (carries(p)) {
                assertEquals(Integer.toString(sum(p) - 10), n.get("rejected").asText(), "dropped carry rejected: " + p);
            }
        }
        for (JsonNode n : gold) {
            assertEquals(Integer.toString(sum(n.get("prompt").asText())), n.get("answer").asText());
        }
        int noisy = 0;
        int carrying = 0;
        for (JsonNode n : sft) {
            String p = n.get("prompt").asText();
            String target = n.get("chosen").asText();
            if (carries(p)) {
                carrying++;
                if (target.equals(Integer.toString(sum(p) - 10))) {
                    noisy++;
                } else {
                    assertEquals(Integer.toString(sum(p)), target, p);
                }
            } else {
                assertEquals(Integer.toString(sum(p)), target, "only carrying answers are noisy: " + p);
            }
        }
        // 1500 Bernoulli(0.6) draws: 4 standard deviations is about 0.05
        assertEquals(0.6, noisy / (double) carrying, 0.05);
    }

    @Test
    void sameSeedSameFilesOtherSeedOtherFiles() throws IOException {
        ArithmeticTask.Settings s = settings(Map.of("demo.task.sftExamples", "200", "demo.task.preferencePairs", "200",
                "demo.task.heldOutPrompts", "50"));
        ArithmeticTask.Files a = write("a", s);
        ArithmeticTask.Files b = write("b", s);
        ArithmeticTask.Files c = write("c", settings(Map.of("demo.task.sftExamples", "200",
                "demo.task.preferencePairs", "200", "demo.task.heldOutPrompts", "50", "demo.task.seed", "8")));
        assertEquals(lines(a.sft()), lines(b.sft()));
        assertEquals(lines(a.preferences()), lines(b.preferences()));
        assertEquals(lines(a.gold()), lines(b.gold()));
        assertNotEquals(lines(a.preferences()), lines(c.preferences()));
    }

    @Test
    void impossibleSettingsAreErrorsNamingTheKey() {
        ConfigurationException e = assertThrows(ConfigurationException.class,
                () -> settings(Map.of("demo.task.sftNoise", "1.5")));
        assertTrue(e.getMessage().contains("demo.task.sftNoise"), e.getMessage());
        e = assertThrows(ConfigurationException.class, () -> write("x", settings(Map.of("demo.task.sftExamples",
                "40000"))));
        assertTrue(e.getMessage().contains("sftExamples"), e.getMessage());
    }
}
