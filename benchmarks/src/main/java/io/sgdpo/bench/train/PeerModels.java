package io.sgdpo.bench.train;

import io.sgdpo.nn.LanguageModels;
import io.sgdpo.nn.Optimization;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.lossfunctions.ILossFunction;

/**
 * Builds the project's model of a {@link PeerShape} through {@link LanguageModels#create}, the
 * factory every stage uses: the gpt shapes are this project's {@link io.sgdpo.nn.Decoder}, the
 * llama shapes its {@code llama} architecture.
 */
public final class PeerModels {

    private PeerModels() {
    }

    /** A freshly initialised float32 model of the shape with the given output loss and optimizer. */
    public static ComputationGraph create(PeerShape shape, ILossFunction loss, Optimization optimization) {
        return LanguageModels.create(shape.modelBlock(), shape.vocab(), loss, optimization, DataType.FLOAT);
    }
}
