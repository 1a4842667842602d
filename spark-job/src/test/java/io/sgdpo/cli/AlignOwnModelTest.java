package io.sgdpo.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sgdpo.hf.SafeTensors;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The "align your own model" path on the command line, end to end on Spark local[2] with the real
 * pretrained stories260K folder: prep with the model's tokenizer, ref-logps with the imported
 * model (no SFT), SGDPO training with ParameterAveraging, eval, export, then generate from the
 * exported folder. Also {@code generate} against llama2.c's own greedy output.
 *
 * <p>The pairs are in the model's own domain (story openings; the chosen ending happy, the
 * rejected one sad), so that a few dozen steps visibly align it: on HH-RLHF pairs this 260K
 * children's-story model stays near chance after 30 steps (eval reward accuracy 0.51, margin
 * +0.006), which would make a test of learning a coin toss. Prep of HH pairs with this tokenizer
 * is {@code PrepModelTokenizerTest}'s.
 */
@Tag("spark")
class AlignOwnModelTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static Path tmp;

    @BeforeAll
    static void makeTmp() throws Exception {
        tmp = Files.createTempDirectory("sgdpo-align-own");
    }

    @AfterAll
    static void removeTmp() throws Exception {
        try (Stream<Path> s = Files.walk(tmp)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    static Path sharedModel(String name) {
        String root = System.getProperty("sgdpo.shared.models");
        if (root == null) {
            fail("system property sgdpo.shared.models is not set (the parent pom sets it to ../shared/models)");
        }
        Path p = Path.of(root, name);
        if (!Files.isRegularFile(p.resolve("config.json"))) {
            fail("shared model folder missing: " + p);
        }
        return p;
    }

    private static CliRun ok(String... args) {
        CliRun r = CliRun.of(args);
        assertEquals(0, r.code(), String.join(" ", args) + "\n" + r.err() + r.out());
        return r;
    }

    /** Greedy text is a function of integer ids and an argmax: compared exactly. */
    @Test
    void generatePrintsLlama2cGreedyTextForEveryReferencePrompt() throws Exception {
        Path model = sharedModel("stories260K");
        JsonNode ref = JSON.readTree(model.resolve("reference.json").toFile());
        for (JsonNode p : ref.path("prompts")) {
            CliRun r = ok("generate", "--model", model.toString(), "--prompt", p.path("text").asText(),
                    "--max-new-tokens", Integer.toString(p.path("greedy_ids").size()), "-Dmodel.maxLength=64");
            assertEquals(p.path("greedy_text").asText() + System.lineSeparator(), r.out());
        }
        CliRun seeded = ok("generate", "--model", model.toString(), "--prompt", "Once upon a time",
                "--temperature", "1.0", "--top-k", "20", "--seed", "5", "--max-new-tokens", "20",
                "-Dmodel.maxLength=64");
        assertEquals(seeded.out(), ok("generate", "--model", model.toString(), "--prompt", "Once upon a time",
                "--temperature", "1.0", "--top-k", "20", "--seed", "5", "--max-new-tokens", "20",
                "-Dmodel.maxLength=64").out(), "the same seed gives the same sample");
        CliRun bad = CliRun.of("generate", "--model", tmp.resolve("nothing-here").toString(), "--prompt", "x");
        assertTrue(bad.code() != 0 && bad.err().contains("nothing-here"), bad.err());
    }

    @Test
    void prepRefLogpsTrainEvalExportFromAHuggingFaceFolder() throws Exception {
        String model = sharedModel("stories260K").toString();
        File pairs = storyPairs(tmp.resolve("stories.jsonl"));
        String prep = tmp.resolve("prep").toString();
        String ref = tmp.resolve("ref").toString();
        String run = tmp.resolve("run").toString();
        String exported = tmp.resolve("exported").toString();
        String[] sizes = {"-Dprep.maxPromptLength=48", "-Dprep.maxTotalLength=80", "-Dmodel.maxLength=80",
            "-Dprep.evalFraction=0.15", "-Dprep.maxRejectFraction=0.5", "-Dspark.master=local[2]"};

        ok(concat(new String[] {"prep", "--input", pairs.getAbsolutePath(), "--output", prep, "--tokenizer-from",
            model}, sizes));
        JsonNode prepManifest = JSON.readTree(new File(prep, "_manifest.json"));
        assertEquals("model", prepManifest.path("tokenizer").path("type").asText());

        ok(concat(new String[] {"ref-logps", "--data", prep, "--model", model, "--output", ref}, sizes));
        ok(concat(new String[] {"train", "--data", ref, "--init", model, "--output", run, "-Dtrain.maxSteps=15",
            "-Dtrain.batchSize=4", "-Dtrain.learningRate=2e-3", "-Dtrain.logEvery=5", "-Dtrain.evalEvery=15",
            "-Dtrain.checkpointEvery=15", "-Dloss.beta=0.5"}, sizes));
        List<JsonNode> rows = Files.readAllLines(Path.of(run, "metrics", "train.jsonl")).stream()
                .map(AlignOwnModelTest::json).toList();
        rows.stream().filter(r -> r.has("eval_rewards/accuracies")).forEach(r -> System.out.printf(
                "align-own-model: step %d eval_rewards/accuracies %.3f eval_rewards/margins %.4f%n",
                r.path("step").asInt(), r.path("eval_rewards/accuracies").asDouble(),
                r.path("eval_rewards/margins").asDouble()));
        // Step 0 compares the imported model with itself (rewards exactly 0, see Evaluation), so
        // "above step 0" alone would be met by any positive accuracy: the aligned model must prefer
        // the chosen ending of nearly every held-out pair, by a clear mean margin.
        double first = rows.get(0).path("eval_rewards/accuracies").asDouble();
        JsonNode last = rows.get(rows.size() - 1);
        assertEquals(15, last.path("step").asInt());
        double end = last.path("eval_rewards/accuracies").asDouble();
        assertTrue(end > first && end >= 0.9, "eval reward accuracy " + first + " at step 0 -> " + end
                + " at step 15");
        assertTrue(last.path("eval_rewards/margins").asDouble() > 0.5, "eval reward margin at step 15: "
                + last.path("eval_rewards/margins"));
        String checkpoint = last.path("checkpoint").asText();

        ok(concat(new String[] {"eval", "--data", ref, "--model", checkpoint, "--output", run + "/eval",
            "-Deval.prompts=2", "-Deval.samples=1", "-Deval.maxNewTokens=8"}, sizes));
        assertTrue(new File(run, "eval/eval.json").isFile());

        ok("export", "--model", checkpoint, "--output", exported);
        for (String f : new String[] {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
            "tokenizer_config.json"}) {
            assertTrue(Files.isRegularFile(Path.of(exported, f)), f + " exported");
        }
        SafeTensors.Header original = header(Path.of(model, "model.safetensors"));
        SafeTensors.Header aligned = header(Path.of(exported, "model.safetensors"));
        assertEquals(describe(original), describe(aligned), "the same tensors: names, dtypes, shapes");
        assertFalse(Arrays.equals(data(original), data(aligned)), "training changed the weights");
        CliRun again = CliRun.of("export", "--model", checkpoint, "--output", exported);
        assertEquals(Sgdpo.EXIT_FAILED, again.code(), "an existing export is never overwritten: " + again.err());

        CliRun text = ok("generate", "--model", exported, "--prompt", "Once upon a time", "--max-new-tokens", "8",
                "-Dmodel.maxLength=64");
        assertTrue(text.out().startsWith("Once upon a time"), text.out());
    }

    /**
     * 300 preference pairs of story openings (10 names x 6 animals x 5 places): the chosen ending
     * happy, the rejected one sad, each in one of three wordings.
     */
    private static File storyPairs(Path file) throws IOException {
        String[] names = {"Lily", "Tom", "Sue", "Ben", "Mia", "Max", "Anna", "Sam", "Lucy", "Tim"};
        String[] animals = {"cat", "dog", "bird", "bunny", "frog", "bear"};
        String[] places = {"park", "forest", "garden", "beach", "river"};
        String[] happy = {" %s played with a friend and was very happy.", " %s found a big red ball and smiled.",
            " %s had a fun day and laughed a lot."};
        String[] sad = {" %s was all alone and very sad.", " %s lost the red ball and cried.",
            " %s had a bad day and felt angry."};
        List<String> lines = new java.util.ArrayList<>();
        int i = 0;
        for (String name : names) {
            for (String animal : animals) {
                for (String place : places) {
                    ObjectNode pair = JSON.createObjectNode();
                    pair.put("prompt", "Once upon a time, " + name + " the " + animal + " went to the " + place + ".");
                    pair.put("chosen", String.format(happy[i % 3], name));
                    pair.put("rejected", String.format(sad[(i / 3) % 3], name));
                    lines.add(JSON.writeValueAsString(pair));
                    i++;
                }
            }
        }
        Files.write(file, lines);
        return file.toFile();
    }

    private static SafeTensors.Header header(Path file) throws IOException {
        return SafeTensors.readHeader(FileSystem.getLocal(new Configuration()),
                new org.apache.hadoop.fs.Path(file.toUri()));
    }

    /** name: dtype [shape] of every tensor, sorted by name. */
    private static List<String> describe(SafeTensors.Header h) {
        return h.tensors().values().stream().map(t -> t.name() + ": " + t.dtype() + " " + Arrays.toString(t.shape()))
                .sorted().toList();
    }

    /** The tensor bytes of a file, in name order. */
    private static byte[] data(SafeTensors.Header h) throws IOException {
        byte[] file = Files.readAllBytes(Path.of(h.file().toUri()));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (SafeTensors.Tensor t : h.tensors().values().stream()
                .sorted(Comparator.comparing(SafeTensors.Tensor::name)).toList()) {
            out.write(file, (int) (h.dataStart() + t.begin()), (int) (t.end() - t.begin()));
        }
        return out.toByteArray();
    }

    private static JsonNode json(String line) {
        try {
            return JSON.readTree(line);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static String[] concat(String[] a, String[] b) {
        String[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
