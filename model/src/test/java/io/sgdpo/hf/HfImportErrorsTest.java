package io.sgdpo.hf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.util.LinkedHashMap;
import java.util.function.Consumer;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every fault of a Hugging Face folder is refused with a message naming the file and the fault,
 * nothing is returned, and (checked with a file system that counts reads) no tensor data was read:
 * everything is validated from config.json, the tokenizer and the safetensors headers first.
 */
class HfImportErrorsTest {

    @TempDir
    File tmp;

    /** Imports {@code folder}, expecting a refusal that names {@code file} and {@code fault}. */
    private static HfFormatException refused(File folder, String file, String fault, int maxLength) throws IOException {
        ReadCountingFileSystem fs = new ReadCountingFileSystem(Fixtures.local());
        HfFormatException e = assertThrows(HfFormatException.class,
                () -> HfModels.load(fs, new Path(folder.toURI().toString()), maxLength));
        assertTrue(e.getMessage().contains(file), "names " + file + ": " + e.getMessage());
        assertTrue(e.getMessage().contains(fault), "names the fault '" + fault + "': " + e.getMessage());
        File weights = new File(folder, HfModels.WEIGHTS);
        if (weights.isFile() && weights.length() >= 8) {
            long header;
            try (RandomAccessFile f = new RandomAccessFile(weights, "r")) {
                header = Long.reverseBytes(f.readLong());
            }
            assertTrue(fs.bytesRead(HfModels.WEIGHTS) <= 8 + Math.max(0, Math.min(header, weights.length())),
                    "read " + fs.bytesRead(HfModels.WEIGHTS) + " bytes of tensor data before refusing");
        }
        return e;
    }

    private File withConfig(String fixture, Consumer<ObjectNode> edit) throws IOException {
        File folder = Fixtures.copy(fixture, tmp);
        Fixtures.editJson(new File(folder, HfOrigin.CONFIG), edit);
        return folder;
    }

    @Test
    void unknownModelTypeIsRefused() throws IOException {
        refused(withConfig(Fixtures.STORIES, c -> c.put("model_type", "falcon")), "config.json", "model_type 'falcon'", 8);
    }

    @Test
    void llamaFieldsThatAreNotImplementedAreRefused() throws IOException {
        refused(withConfig(Fixtures.STORIES, c -> c.putObject("rope_scaling").put("type", "linear").put("factor", 2.0)),
                "config.json", "rope_scaling", 8);
        refused(withConfig(Fixtures.STORIES, c -> c.put("hidden_act", "gelu")), "config.json", "hidden_act 'gelu'", 8);
        refused(withConfig(Fixtures.STORIES, c -> c.put("attention_bias", true)), "config.json", "attention_bias", 8);
        refused(withConfig(Fixtures.STORIES, c -> c.put("mlp_bias", true)), "config.json", "mlp_bias", 8);
        refused(withConfig(Fixtures.STORIES, c -> c.put("rope_interleaved", true)), "config.json", "rope_interleaved",
                8);
        refused(withConfig(Fixtures.STORIES, c -> c.put("quantization_config", "x")), "config.json",
                "quantization_config", 8);
        refused(withConfig(Fixtures.STORIES, c -> c.put("some_new_field", 1)), "config.json", "some_new_field", 8);
    }

    @Test
    void slidingWindowsAreRefused() throws IOException {
        refused(withConfig(Fixtures.QWEN2, c -> c.put("use_sliding_window", true)), "config.json",
                "use_sliding_window", 8);
        refused(withConfig(Fixtures.STORIES, c -> c.put("model_type", "mistral").put("sliding_window", 4096)),
                "config.json", "sliding_window", 8);
    }

    @Test
    void mistralWithoutSlidingWindowIsALlama() throws IOException {
        File folder = withConfig(Fixtures.STORIES, c -> c.put("model_type", "mistral").putNull("sliding_window"));
        HfModels.Imported m = HfModels.load(Fixtures.local(), new Path(folder.toURI().toString()), 8);
        HfModels.Imported reference = HfModels.load(Fixtures.local(), Fixtures.path(Fixtures.STORIES), 8);
        assertEquals(reference.graph().params(), m.graph().params());
    }

    @Test
    void gpt2FieldsThatAreNotImplementedAreRefused() throws IOException {
        refused(withConfig(Fixtures.GPT2, c -> c.put("scale_attn_by_inverse_layer_idx", true)), "config.json",
                "scale_attn_by_inverse_layer_idx", 8);
        refused(withConfig(Fixtures.GPT2, c -> c.put("reorder_and_upcast_attn", true)), "config.json",
                "reorder_and_upcast_attn", 8);
        refused(withConfig(Fixtures.GPT2, c -> c.put("activation_function", "gelu")), "config.json",
                "activation_function 'gelu'", 8);
    }

    @Test
    void sequenceLengthBeyondThePositionsIsRefused() throws IOException {
        refused(Fixtures.dir(Fixtures.QWEN2), "config.json", "max_position_embeddings = 256", 257);
        refused(Fixtures.dir(Fixtures.GPT2), "config.json", "n_positions = 128", 129);
    }

    @Test
    void tensorShapeDisagreeingWithTheConfigIsRefused() throws IOException {
        refused(withConfig(Fixtures.STORIES, c -> c.put("intermediate_size", 170)), HfModels.WEIGHTS,
                "has shape [172, 64] but config.json implies [170, 64]", 8);
    }

    @Test
    void missingTensorIsRefused() throws IOException {
        File folder = Fixtures.copy(Fixtures.STORIES, tmp);
        LinkedHashMap<String, Fixtures.Values> tensors = Fixtures.readTensors(new File(folder, HfModels.WEIGHTS));
        tensors.remove("model.layers.3.mlp.up_proj.weight");
        Fixtures.writeTensors(new File(folder, HfModels.WEIGHTS), tensors);
        refused(folder, folder.getName(), "missing tensor 'model.layers.3.mlp.up_proj.weight'", 8);
    }

    @Test
    void unexpectedTensorIsRefused() throws IOException {
        File folder = Fixtures.copy(Fixtures.STORIES, tmp);
        LinkedHashMap<String, Fixtures.Values> tensors = Fixtures.readTensors(new File(folder, HfModels.WEIGHTS));
        tensors.put("model.layers.0.self_attn.extra.weight", new Fixtures.Values(new long[] {2}, new float[2]));
        Fixtures.writeTensors(new File(folder, HfModels.WEIGHTS), tensors);
        refused(folder, HfModels.WEIGHTS, "unexpected tensor [model.layers.0.self_attn.extra.weight]", 8);
    }

    @Test
    void truncatedWeightsAreRefused() throws IOException {
        File folder = Fixtures.copy(Fixtures.STORIES, tmp);
        try (RandomAccessFile f = new RandomAccessFile(new File(folder, HfModels.WEIGHTS), "rw")) {
            f.setLength(f.length() - 100);
        }
        refused(folder, HfModels.WEIGHTS, "truncated", 8);
    }

    @Test
    void tokenizerWithMoreIdsThanTheVocabularyIsRefused() throws IOException {
        File folder = Fixtures.copy(Fixtures.STORIES, tmp);
        Fixtures.editJson(new File(folder, "tokenizer.json"), t -> ((com.fasterxml.jackson.databind.node.ArrayNode)
                t.withArray("added_tokens")).addObject().put("id", 512).put("content", "<extra>"));
        refused(folder, "tokenizer.json", "ids up to 512 (513 ids) but config.json says vocab_size 512", 8);
    }

    @Test
    void missingWeightsAndConfigAreRefused() throws IOException {
        File folder = Fixtures.copy(Fixtures.STORIES, tmp);
        new File(folder, HfModels.WEIGHTS).delete();
        refused(folder, folder.getName(), "no model.safetensors", 8);
        new File(folder, HfOrigin.CONFIG).delete();
        refused(folder, folder.getName(), "no config.json", 8);
    }
}
