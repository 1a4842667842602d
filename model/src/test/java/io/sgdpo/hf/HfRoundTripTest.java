package io.sgdpo.hf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.sgdpo.config.SgdpoConfig;
import io.sgdpo.nn.Decoder;
import io.sgdpo.nn.DecoderConfig;
import io.sgdpo.nn.LanguageModels;
import io.sgdpo.nn.Optimization;
import io.sgdpo.nn.PairExample;
import io.sgdpo.nn.PairedBatch;
import io.sgdpo.nn.SftLoss;
import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.Path;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.learning.config.Adam;

/**
 * Import and export are inverse: import -> export -> import gives bit-identical parameters and an
 * F32 export holds every input tensor byte for byte (the same numbers copied, no arithmetic), a
 * BF16 export re-imports within BF16 rounding, a trained model survives export, and the layouts
 * transformers' checkpoints come in (prefix or not, buffers, shards, a redundant tied head) all
 * import to the same parameters.
 */
class HfRoundTripTest {

    @TempDir
    File tmp;

    private Path out(String name) {
        return new Path(new File(tmp, name).toURI().toString());
    }

    private static HfModels.Imported load(Path dir, int length) throws IOException {
        return HfModels.load(Fixtures.local(), dir, length);
    }

    private static float[] params(ComputationGraph graph) {
        return graph.params().toFloatVector();
    }

    /** Raw bytes of every tensor of a safetensors file, by name. */
    private static Map<String, byte[]> rawTensors(File file) throws IOException {
        SafeTensors.Header h = SafeTensors.readHeader(Fixtures.local(), new Path(file.toURI().toString()));
        Map<String, byte[]> raw = new LinkedHashMap<>();
        try (RandomAccessFile f = new RandomAccessFile(file, "r")) {
            for (SafeTensors.Tensor t : h.tensors().values()) {
                byte[] bytes = new byte[(int) (t.end() - t.begin())];
                f.seek(h.dataStart() + t.begin());
                f.readFully(bytes);
                raw.put(t.name(), bytes);
            }
        }
        return raw;
    }

    @Test
    void f32ExportOfEachFixtureIsTheInputByteForByte() throws IOException {
        for (String fixture : List.of(Fixtures.STORIES, Fixtures.GPT2, Fixtures.QWEN2)) {
            HfModels.Imported first = load(Fixtures.path(fixture), 16);
            Path exported = out(fixture);
            HfModels.export(first.graph(), first.origin(), Fixtures.local(), exported, "f32");
            File dir = new File(exported.toUri());
            // bit-identity: the same float32 numbers copied twice
            HfModels.Imported second = load(exported, 16);
            assertArrayEquals(params(first.graph()), params(second.graph()), fixture);
            assertEquals(first.origin().file("tokenizer.json").length, second.origin().file("tokenizer.json").length);
            Map<String, byte[]> input = rawTensors(new File(Fixtures.dir(fixture), HfModels.WEIGHTS));
            Map<String, byte[]> output = rawTensors(new File(dir, HfModels.WEIGHTS));
            assertEquals(input.keySet(), output.keySet(), fixture + ": the same tensor names");
            for (String name : input.keySet()) {
                assertArrayEquals(input.get(name), output.get(name), fixture + ": " + name);
            }
            JsonNode config = Fixtures.JSON.readTree(new File(dir, HfOrigin.CONFIG));
            assertEquals("float32", config.get("torch_dtype").asText());
            assertEquals(first.origin().config(), config, fixture + ": config.json as it came");
            for (String name : first.origin().files().keySet()) {
                if (!name.equals(HfOrigin.CONFIG)) {
                    assertArrayEquals(first.origin().file(name), Files.readAllBytes(new File(dir, name).toPath()), name);
                }
            }
            assertTrue(new File(dir, HfOrigin.GENERATION_CONFIG).isFile(), fixture + ": generation_config.json");
        }
    }

    @Test
    void bf16ExportReimportsWithinBf16Rounding() throws IOException {
        HfModels.Imported first = load(Fixtures.path(Fixtures.QWEN2), 16);
        HfModels.export(first.graph(), first.origin(), Fixtures.local(), out("bf16"), "bf16");
        assertEquals("bfloat16", Fixtures.JSON.readTree(new File(tmp, "bf16/config.json")).get("torch_dtype").asText());
        SafeTensors.Header h = SafeTensors.readHeader(Fixtures.local(), new Path(out("bf16"), HfModels.WEIGHTS));
        assertTrue(h.tensors().values().stream().allMatch(t -> t.dtype() == SafeTensors.DType.BF16));
        float[] a = params(first.graph());
        float[] b = params(load(out("bf16"), 16).graph());
        int changed = 0;
        for (int i = 0; i < a.length; i++) {
            // round to nearest: at most half a unit in the last of bf16's 8 significant bits
            assertTrue(Math.abs(a[i] - b[i]) <= Math.abs(a[i]) * 0x1p-8f, "element " + i + ": " + a[i] + " -> " + b[i]);
            changed += a[i] != b[i] ? 1 : 0;
        }
        assertTrue(changed > a.length / 2, "float32 values were rounded");
    }

    /**
     * A model whose parameters changed (three Adam steps with the SFT loss) exports and re-imports
     * to the same parameters, bit for bit, and so to the same log-probs: the same float32
     * computation on the same numbers (asserted within 1e-6 all the same).
     */
    @Test
    void trainedModelExportsAndScoresTheSame() throws IOException {
        int length = 32;
        HfModels.Imported imported = load(Fixtures.path(Fixtures.STORIES), length);
        ComputationGraph trained = LanguageModels.withLoss(imported.graph(), new SftLoss(),
                new Optimization(new Adam(1e-3), 0, 0), 0);
        var batch = new PairedBatch(length, 0).buildSequences(List.of(
                new PairExample("a", new int[] {1, 403, 407}, new int[] {261, 378, 432}, new int[] {261}),
                new PairExample("b", new int[] {1, 317}, new int[] {269, 368, 302}, new int[] {269})), DataType.FLOAT);
        for (int step = 0; step < 3; step++) {
            trained.fit(batch);
        }
        assertFalse(Arrays.equals(params(imported.graph()), params(trained)), "training changed the parameters");
        HfModels.export(trained, imported.origin(), Fixtures.local(), out("trained"), "f32");
        HfModels.Imported back = load(out("trained"), length);
        assertArrayEquals(params(trained), params(back.graph()));
        assertNotEquals(imported.identity(), back.identity());
        for (JsonNode entry : Fixtures.reference(Fixtures.STORIES).get("logprobs")) {
            int[] ids = Arrays.copyOf(Fixtures.ints(entry.get("ids")), 20);
            double[] expected = Fixtures.tokenLogProbs(trained, length, ids);
            double[] actual = Fixtures.tokenLogProbs(back.graph(), length, ids);
            for (int t = 0; t < expected.length; t++) {
                assertEquals(expected[t], actual[t], 1e-6, "token " + t);
            }
        }
    }

    private static Config model(String architecture, boolean qkvBias) {
        return ConfigFactory.parseMap(Map.of("model.architecture", architecture, "model.dModel", 16,
                "model.heads", 4, "model.kvHeads", architecture.equals("llama") ? 2 : 0, "model.maxLength", 12,
                "model.qkvBias", qkvBias)).withFallback(SgdpoConfig.reference()).getConfig("model");
    }

    /** Models trained from scratch export with a config.json generated from their sizes. */
    @Test
    void modelsFromScratchExportWithAGeneratedConfig() throws IOException {
        for (String architecture : List.of("llama", "qwen2", "gpt2")) {
            boolean bias = architecture.equals("qwen2");
            ComputationGraph graph = LanguageModels.create(model(bias ? "llama" : architecture, bias), 40, new SftLoss(),
                    new Optimization(new Adam(1e-3), 0, 0), DataType.FLOAT);
            HfModels.export(graph, null, Fixtures.local(), out(architecture), "f32");
            File dir = new File(tmp, architecture);
            assertEquals(List.of(HfOrigin.CONFIG, HfOrigin.GENERATION_CONFIG, HfModels.WEIGHTS),
                    HfModels.names(Fixtures.local(), out(architecture)));
            assertEquals(architecture, Fixtures.JSON.readTree(new File(dir, HfOrigin.CONFIG)).get("model_type").asText());
            HfModels.Imported back = load(out(architecture), 12);
            assertArrayEquals(params(graph), params(back.graph()), architecture);
            assertEquals(LanguageModels.wholeModel(graph.getConfiguration()).withLength(12), // sizes, not updaters
                    LanguageModels.wholeModel(back.graph().getConfiguration()).withLength(12), architecture);
        }
    }

    @Test
    void decoderIsRefusedAndExistingTargetsAreNeverOverwritten() throws IOException {
        ComputationGraph decoder = Decoder.create(new DecoderConfig(10, 8, 1, 2, 6, 0.0, 1), new SftLoss(),
                new Adam(1e-3), DataType.FLOAT);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> HfModels.export(decoder, null, Fixtures.local(), out("decoder"), "f32"));
        assertTrue(e.getMessage().contains("decoder architecture has no Hugging Face counterpart"), e.getMessage());
        assertFalse(new File(tmp, "decoder").exists());

        HfModels.Imported m = load(Fixtures.path(Fixtures.STORIES), 8);
        File taken = new File(tmp, "taken");
        taken.mkdirs();
        Files.writeString(new File(taken, "keep.txt").toPath(), "mine");
        IOException refused = assertThrows(IOException.class,
                () -> HfModels.export(m.graph(), m.origin(), Fixtures.local(), out("taken"), "f32"));
        assertTrue(refused.getMessage().contains("not an empty directory"), refused.getMessage());
        assertEquals(List.of("keep.txt"), Arrays.asList(taken.list()));
        assertThrows(IllegalArgumentException.class,
                () -> HfModels.export(m.graph(), m.origin(), Fixtures.local(), out("f16"), "f16"));
        new File(tmp, "empty").mkdirs();
        HfModels.export(m.graph(), m.origin(), Fixtures.local(), out("empty"), "f32"); // an empty target is fine
        assertTrue(Arrays.stream(tmp.list()).noneMatch(n -> n.startsWith("_tmp")), "temporary folders left");
    }

    /** The hub's GPT-2 layout: no "transformer." prefix, causal-mask buffers in the file. */
    @Test
    void gpt2WithoutPrefixAndWithMaskBuffersImportsTheSame() throws IOException {
        File folder = Fixtures.copy(Fixtures.GPT2, tmp);
        LinkedHashMap<String, Fixtures.Values> renamed = new LinkedHashMap<>();
        Fixtures.readTensors(new File(folder, HfModels.WEIGHTS)).forEach((name, v) ->
                renamed.put(name.substring("transformer.".length()), v));
        renamed.put("h.0.attn.bias", new Fixtures.Values(new long[] {1, 1, 4, 4}, new float[16]));
        renamed.put("h.1.attn.masked_bias", new Fixtures.Values(new long[] {}, new float[] {-1e4f}));
        Fixtures.writeTensors(new File(folder, HfModels.WEIGHTS), renamed);
        assertArrayEquals(params(load(Fixtures.path(Fixtures.GPT2), 8).graph()),
                params(load(new Path(folder.toURI().toString()), 8).graph()));
    }

    /** A tied head written anyway is accepted when it is the embedding, refused when it is not. */
    @Test
    void redundantTiedHeadMustBeTheEmbedding() throws IOException {
        File folder = Fixtures.copy(Fixtures.STORIES, tmp);
        LinkedHashMap<String, Fixtures.Values> tensors = Fixtures.readTensors(new File(folder, HfModels.WEIGHTS));
        Fixtures.Values embedding = tensors.get("model.embed_tokens.weight");
        tensors.put("lm_head.weight", new Fixtures.Values(embedding.shape(), embedding.data().clone()));
        Fixtures.writeTensors(new File(folder, HfModels.WEIGHTS), tensors);
        Path dir = new Path(folder.toURI().toString());
        assertArrayEquals(params(load(Fixtures.path(Fixtures.STORIES), 8).graph()), params(load(dir, 8).graph()));

        float[] other = embedding.data().clone();
        other[5] += 1;
        tensors.put("lm_head.weight", new Fixtures.Values(embedding.shape(), other));
        Fixtures.writeTensors(new File(folder, HfModels.WEIGHTS), tensors);
        HfFormatException e = assertThrows(HfFormatException.class, () -> load(dir, 8));
        assertTrue(e.getMessage().contains("lm_head.weight differs from the embedding"), e.getMessage());
    }

    /** Sharded weights: the same parameters as one file; an index that disagrees with its shards is refused. */
    @Test
    void shardedWeightsImportTheSameAndBadIndexesAreRefused() throws IOException {
        File folder = Fixtures.copy(Fixtures.STORIES, tmp);
        LinkedHashMap<String, Fixtures.Values> all = Fixtures.readTensors(new File(folder, HfModels.WEIGHTS));
        new File(folder, HfModels.WEIGHTS).delete();
        LinkedHashMap<String, Fixtures.Values> first = new LinkedHashMap<>();
        LinkedHashMap<String, Fixtures.Values> second = new LinkedHashMap<>();
        var index = Fixtures.JSON.createObjectNode();
        index.putObject("metadata").put("total_size", 0);
        var map = index.putObject("weight_map");
        int i = 0;
        for (var e : all.entrySet()) {
            boolean one = i++ % 2 == 0;
            (one ? first : second).put(e.getKey(), e.getValue());
            map.put(e.getKey(), one ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors");
        }
        Fixtures.writeTensors(new File(folder, "model-00001-of-00002.safetensors"), first);
        Fixtures.writeTensors(new File(folder, "model-00002-of-00002.safetensors"), second);
        File indexFile = new File(folder, HfModels.INDEX);
        Fixtures.JSON.writeValue(indexFile, index);
        Path dir = new Path(folder.toURI().toString());
        HfModels.Imported sharded = load(dir, 8);
        HfModels.Imported single = load(Fixtures.path(Fixtures.STORIES), 8);
        assertArrayEquals(params(single.graph()), params(sharded.graph()));
        assertNotEquals(single.identity(), sharded.identity());

        String one = "model-00001-of-00002.safetensors";
        String two = "model-00002-of-00002.safetensors";
        map.put("model.norm.weight", map.get("model.norm.weight").asText().equals(one) ? two : one); // the wrong one
        Fixtures.JSON.writeValue(indexFile, index);
        HfFormatException wrongShard = assertThrows(HfFormatException.class, () -> load(dir, 8));
        assertTrue(wrongShard.getMessage().contains("'model.norm.weight' is not listed in"), wrongShard.getMessage());
        map.put("model.norm.weight", "model-00003-of-00002.safetensors");
        Fixtures.JSON.writeValue(indexFile, index);
        HfFormatException missing = assertThrows(HfFormatException.class, () -> load(dir, 8));
        assertTrue(missing.getMessage().contains("shard 'model-00003-of-00002.safetensors' is missing"),
                missing.getMessage());
    }

    @Test
    void identityCoversConfigAndWeights() throws IOException {
        String identity = load(Fixtures.path(Fixtures.STORIES), 8).identity();
        assertEquals(64, identity.length());
        assertEquals(identity, load(Fixtures.path(Fixtures.STORIES), 16).identity(), "independent of the length");
        File folder = Fixtures.copy(Fixtures.STORIES, tmp);
        Fixtures.editJson(new File(folder, HfOrigin.CONFIG), c -> c.put("eos_token_id", 3));
        assertNotEquals(identity, load(new Path(folder.toURI().toString()), 8).identity());
    }
}
