package io.sgdpo.checkpoint;

import io.sgdpo.hf.HfModels;
import io.sgdpo.hf.HfOrigin;
import io.sgdpo.nn.LanguageModels;
import java.io.IOException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.deeplearning4j.nn.graph.ComputationGraph;

/**
 * A model given by the user: a checkpoint of this project or a Hugging Face folder, opened the same
 * way by every stage.
 *
 * @param graph       the model, built for the requested sequence length
 * @param origin      the Hugging Face folder it came from (directly, or through the checkpoint of an
 *                    imported model), or null
 * @param identity    its identity in manifests: SHA-256 of model.zip for a checkpoint
 *                    ({@link Checkpoints#identity}), the import identity for a Hugging Face folder
 *                    ({@link HfModels.Imported#identity})
 * @param huggingFace whether it was a Hugging Face folder
 * @param state       the training state of a checkpoint, null for a Hugging Face folder
 * @param path        where it was read from
 */
public record ModelSource(ComputationGraph graph, HfOrigin origin, String identity, boolean huggingFace,
                          TrainingState state, Path path) {

    private static final String VALID = "a model is a checkpoint directory of this project (" + Checkpoints.MODEL
            + " and " + Checkpoints.STATE + ") or a Hugging Face folder (" + HfOrigin.CONFIG + " and "
            + HfModels.WEIGHTS + " or " + HfModels.INDEX + ")";

    /**
     * Opens a model given as a Hadoop URI or local path.
     *
     * @param maxLength sequence length T the graph must be built for ({@code model.maxLength}); a
     *                  llama or gpt2 checkpoint of another length is rebuilt for it, a decoder
     *                  checkpoint must have it; 0 keeps a checkpoint's own length
     * @throws IOException naming the path and what a valid model looks like
     */
    public static ModelSource open(String uri, Configuration hconf, int maxLength) throws IOException {
        Path path = new Path(uri);
        FileSystem fs = path.getFileSystem(hconf);
        if (!fs.exists(path)) {
            throw new IOException("model " + uri + " does not exist; " + VALID);
        }
        if (fs.isFile(new Path(path, Checkpoints.MODEL))) {
            Checkpoints.Loaded loaded = Checkpoints.load(fs, path);
            ComputationGraph graph = loaded.graph();
            if (maxLength > 0) {
                try {
                    graph = LanguageModels.withLength(graph, maxLength);
                } catch (IllegalArgumentException e) {
                    throw new IOException("checkpoint " + uri + ": " + e.getMessage(), e);
                }
            }
            return new ModelSource(graph, loaded.origin(), Checkpoints.identity(fs, path), false, loaded.state(), path);
        }
        if (HfModels.isHfFolder(fs, path)) {
            if (maxLength <= 0) {
                throw new IllegalArgumentException("a Hugging Face model needs the sequence length to build it for"
                        + " (model.maxLength), got " + maxLength);
            }
            HfModels.Imported imported = HfModels.load(fs, path, maxLength);
            return new ModelSource(imported.graph(), imported.origin(), imported.identity(), true, null, path);
        }
        throw new IOException("model " + uri + " is neither a checkpoint nor a Hugging Face folder; " + VALID);
    }
}
