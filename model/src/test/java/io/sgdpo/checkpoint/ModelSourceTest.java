package io.sgdpo.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sgdpo.nn.Decoder;
import io.sgdpo.nn.DecoderConfig;
import io.sgdpo.nn.LanguageModels;
import io.sgdpo.nn.Optimization;
import io.sgdpo.nn.SftLoss;
import io.sgdpo.nn.llama.LlamaConfig;
import io.sgdpo.nn.llama.LlamaModel;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.learning.config.Adam;

/**
 * One entry point for "a model given by the user": checkpoints (decoder or llama) and Hugging Face
 * folders (see HfHdfsTest for one on HDFS), and errors that say what a valid model looks like.
 */
class ModelSourceTest {

    @TempDir
    File dir;

    private Path save(ComputationGraph graph, String name) throws IOException {
        Path root = new Path(new File(dir, name).toURI().toString());
        return new Checkpoints(root.getFileSystem(new Configuration()), root).save(graph, TrainingState.initial(9));
    }

    @Test
    void checkpointsOpenWithTheirIdentityAndState() throws IOException {
        ComputationGraph decoder = Decoder.create(new DecoderConfig(10, 8, 1, 2, 6, 0.0, 1), new SftLoss(),
                new Adam(1e-3), DataType.FLOAT);
        Path saved = save(decoder, "decoder");
        FileSystem fs = saved.getFileSystem(new Configuration());
        ModelSource source = ModelSource.open(saved.toString(), new Configuration(), 6);
        assertFalse(source.huggingFace());
        assertNull(source.origin());
        assertEquals(TrainingState.initial(9), source.state());
        assertEquals(Checkpoints.identity(fs, saved), source.identity());
        assertEquals(decoder.params(), source.graph().params());
        assertEquals(decoder.params(), ModelSource.open(saved.toString(), new Configuration(), 0).graph().params());
        IOException e = assertThrows(IOException.class, () -> ModelSource.open(saved.toString(), new Configuration(), 8));
        assertTrue(e.getMessage().contains(saved.toString()) && e.getMessage().contains("model.maxLength = 6"),
                e.getMessage());
    }

    /** A llama checkpoint is rebuilt for the requested sequence length, parameters unchanged. */
    @Test
    void llamaCheckpointRebuildsForTheRequestedLength() throws IOException {
        LlamaModel layer = new LlamaModel(new LlamaConfig(11, 8, 12, 1, 2, 1, 4, 1e-5, 1e4, true, false, 32), 8);
        ComputationGraph graph = new ComputationGraph(LanguageModels.configuration(layer, new SftLoss(),
                new Optimization(new Adam(1e-3), 0, 0), DataType.FLOAT, 1));
        graph.init();
        ModelSource source = ModelSource.open(save(graph, "llama").toString(), new Configuration(), 20);
        assertEquals(20, LanguageModels.describe(source.graph().getConfiguration()).maxLength());
        assertEquals(graph.params(), source.graph().params());
    }

    @Test
    void anythingElseIsRefusedWithWhatAValidModelIs() throws IOException {
        File empty = new File(dir, "empty");
        empty.mkdirs();
        Files.writeString(new File(empty, "readme.txt").toPath(), "not a model");
        for (File f : new File[] {empty, new File(dir, "missing")}) {
            IOException e = assertThrows(IOException.class, () -> ModelSource.open(f.getPath(), new Configuration(), 8));
            assertTrue(e.getMessage().contains(f.getPath()), e.getMessage());
            assertTrue(e.getMessage().contains("checkpoint directory") && e.getMessage().contains("config.json"),
                    e.getMessage());
        }
    }
}
