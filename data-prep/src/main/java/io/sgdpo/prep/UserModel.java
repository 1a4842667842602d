package io.sgdpo.prep;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import io.sgdpo.checkpoint.ModelSource;
import io.sgdpo.checkpoint.TrainingState;
import io.sgdpo.config.ConfigurationException;
import io.sgdpo.hf.HfModels;
import io.sgdpo.hf.HfOrigin;
import io.sgdpo.nn.LanguageModels;
import io.sgdpo.nn.ModelShape;
import io.sgdpo.output.AtomicOutput;
import io.sgdpo.prep.tokenize.ModelTokenizer;
import io.sgdpo.prep.tokenize.TokenCodec;
import io.sgdpo.prep.tokenize.TokenizerMatch;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.deeplearning4j.nn.graph.ComputationGraph;

/**
 * A model a user handed to a stage ({@code sft --init}, {@code ref-logps --model}, {@code train
 * --init}, {@code eval --model}, {@code generate}, {@code export}): a Hugging Face folder or a
 * checkpoint, on any Hadoop URI, opened through {@link ModelSource}, with the checks and the
 * tokenizer every stage needs from it.
 *
 * @param uri    the path as given
 * @param source what was opened: the graph, the Hugging Face origin (null for a model trained from
 *               scratch), the identity, and the training state of a checkpoint
 */
public record UserModel(String uri, ModelSource source) {

    /**
     * Opens {@code uri}. A Hugging Face folder is built for the sequence length
     * {@code model.maxLength}; a checkpoint keeps the length it was trained with.
     *
     * @throws IOException naming the path and what a valid model looks like
     */
    public static UserModel open(String uri, Configuration hadoop, Config config) throws IOException {
        Path path = new Path(uri);
        boolean huggingFace = HfModels.isHfFolder(path.getFileSystem(hadoop), path);
        return new UserModel(uri, ModelSource.open(uri, hadoop, huggingFace ? config.getInt("model.maxLength") : 0));
    }

    public ComputationGraph graph() {
        return source.graph();
    }

    /** The sizes of the model's graph. */
    public ModelShape shape() {
        return LanguageModels.describe(source.graph().getConfiguration());
    }

    /** The Hugging Face folder's files the model came from, or null. */
    public HfOrigin origin() {
        return source.origin();
    }

    /** The training state of a checkpoint, or null for a Hugging Face folder. */
    public TrainingState state() {
        return source.state();
    }

    /** The model's identity (SHA-256 of its weights' files), for manifests and fingerprints. */
    public String identity() {
        return source.identity();
    }

    /** The tokenizer the model came with (from its Hugging Face origin), or null. */
    public TokenCodec tokenizer() {
        HfOrigin o = origin();
        if (o == null || o.file(ModelTokenizer.TOKENIZER_JSON) == null) {
            return null;
        }
        return ModelTokenizer.of(uri, o.file(ModelTokenizer.TOKENIZER_JSON), o.file(ModelTokenizer.CONFIG),
                o.file(ModelTokenizer.TOKENIZER_CONFIG));
    }

    /**
     * Refuses data tokenized for another model, naming both tokenizers (see {@link TokenizerMatch}).
     *
     * @throws ConfigurationException when they differ
     */
    public void requireTokenizer(TokenCodec data, String dataDir) {
        HfOrigin o = origin();
        TrainingState s = state();
        TokenizerMatch.require(data, dataDir, shape().vocabSize(),
                o == null ? null : o.file(ModelTokenizer.TOKENIZER_JSON),
                s == null ? null : s.extra().get(TokenizerMatch.STATE_KEY), uri);
    }

    /**
     * Writes the model as a Hugging Face folder (see {@link HfModels#export}) with its provenance
     * as {@value Provenance#FILE}.
     *
     * @param provenance the model's {@link #provenance}
     * @return the qualified output folder
     */
    public String export(String output, String dtype, ObjectNode provenance, Configuration hadoop)
            throws IOException {
        AtomicOutput.Location out = AtomicOutput.locate(output, hadoop);
        HfModels.export(graph(), origin(), out.fs(), out.path(), dtype,
                Map.of(Provenance.FILE, Provenance.render(provenance).getBytes(StandardCharsets.UTF_8)));
        return out.path().toString();
    }

    /** The chain of manifests behind this model (see {@link Provenance}). */
    public ObjectNode provenance(Configuration hadoop) throws IOException {
        return Provenance.of(source.path().getFileSystem(hadoop), source);
    }
}
