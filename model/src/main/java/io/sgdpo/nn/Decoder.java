package io.sgdpo.nn;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.conf.dropout.Dropout;
import org.deeplearning4j.nn.conf.layers.EmbeddingSequenceLayer;
import org.deeplearning4j.nn.conf.layers.RnnOutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.weights.WeightInitDistribution;
import org.deeplearning4j.nn.conf.distribution.NormalDistribution;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.lossfunctions.ILossFunction;

/**
 * The GPT-style decoder as a DL4J {@link ComputationGraph}:
 * <pre>
 *   tokens [mb, 1, T] -> embed (token embedding) -> pos (learned positions)
 *     -> block0 ... block{L-1} (causal self-attention + MLP, pre-norm) -> norm (final layer norm)
 *     -> lm (linear to vocabulary logits; the loss applies the softmax)
 * </pre>
 * The output layer's loss is a parameter: a {@link PairedPreferenceLoss} for preference
 * training, a token-level loss for SFT.
 */
public final class Decoder {

    /** Name of the graph's input. */
    public static final String INPUT = "tokens";
    /** Name of the output layer (vocabulary logits). */
    public static final String OUTPUT = "lm";

    static {
        SameDiffLogFilter.install();
    }

    /** Drops SameDiff's per-op "Added differentiated op" lines from standard output (once per JVM). */
    public static void silenceSameDiffLog() {
        SameDiffLogFilter.install();
    }

    private Decoder() {
    }

    /** The graph configuration of a decoder with the given output loss and updater. */
    public static ComputationGraphConfiguration configuration(DecoderConfig c, ILossFunction outputLoss,
                                                              IUpdater updater, DataType type) {
        int d = c.dModel();
        int t = c.maxLength();
        ComputationGraphConfiguration.GraphBuilder g = new NeuralNetConfiguration.Builder()
                .seed(c.seed())
                .dataType(type)
                .updater(updater)
                .weightInit(new WeightInitDistribution(new NormalDistribution(0, Init.STD)))
                .graphBuilder()
                .addInputs(INPUT)
                .addLayer("embed", new EmbeddingSequenceLayer.Builder().nIn(c.vocabSize()).nOut(d).inputLength(t)
                        .hasBias(false).build(), INPUT)
                .addLayer("pos", new PositionEmbedding(d, t), "embed");
        String previous = "pos";
        for (int i = 0; i < c.layers(); i++) {
            g.addLayer("block" + i, new TransformerBlock(d, c.heads(), t), previous);
            previous = "block" + i;
        }
        g.addLayer("norm", new FinalLayerNorm(d, t), previous);
        RnnOutputLayer.Builder head = new RnnOutputLayer.Builder(outputLoss).nIn(d).nOut(c.vocabSize())
                .activation(Activation.IDENTITY).dataFormat(RNNFormat.NCW);
        if (c.dropout() > 0) {
            head.dropOut(new Dropout(1.0 - c.dropout())); // DL4J takes the retain probability
        }
        g.addLayer(OUTPUT, head.build(), "norm");
        return g.setOutputs(OUTPUT).build();
    }

    /** A freshly initialised decoder. */
    public static ComputationGraph create(DecoderConfig c, ILossFunction outputLoss, IUpdater updater, DataType type) {
        ComputationGraph graph = new ComputationGraph(configuration(c, outputLoss, updater, type));
        graph.init();
        return graph;
    }
}
