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
        return configuration(c, outputLoss, new Optimization(updater, 0, 0), type);
    }

    /** The graph configuration with an optimizer, gradient clipping and weight decay. */
    public static ComputationGraphConfiguration configuration(DecoderConfig c, ILossFunction outputLoss,
                                                              Optimization optimization, DataType type) {
        int d = c.dModel();
        int t = c.maxLength();
        NeuralNetConfiguration.Builder base = LanguageModels.builder(c.seed(), type, optimization)
                .weightInit(new WeightInitDistribution(new NormalDistribution(0, Init.STD)));
        ComputationGraphConfiguration.GraphBuilder g = base
                .graphBuilder()
                .addInputs(INPUT)
                .addLayer("embed", new EmbeddingSequenceLayer.Builder().nIn(c.vocabSize()).nOut(d).inputLength(t)
                        .inferInputLength(true).hasBias(false).build(), INPUT)
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
        g.addLayer(OUTPUT, VocabularyHead.of(head.build()), "norm");
        return g.setOutputs(OUTPUT).build();
    }

    /**
     * The sizes of a decoder built by {@link #configuration}, read back from its graph (e.g. a
     * checkpoint); dropout and seed as given.
     */
    public static DecoderConfig describe(ComputationGraphConfiguration conf, double dropout, long seed) {
        var embed = (EmbeddingSequenceLayer) layer(conf, "embed");
        var pos = (PositionEmbedding) layer(conf, "pos");
        int layers = 0;
        while (conf.getVertices().containsKey("block" + layers)) {
            layers++;
        }
        if (layers == 0) {
            throw new IllegalArgumentException("not a decoder built by this project: no transformer blocks");
        }
        var block = (TransformerBlock) layer(conf, "block0");
        return new DecoderConfig((int) embed.getNIn(), (int) embed.getNOut(), layers, block.getHeads(), pos.getLength(),
                dropout, seed);
    }

    /**
     * Whether the decoder takes rows shorter than its length T: its position embedding, blocks and
     * final norm take any length up to T ({@link DirectPasses}), and its token embedding does when it
     * infers the length from its input (DL4J's default, which every decoder of this project was built
     * with). DL4J's embedding then records the last input's length in the layer's configuration
     * ({@code inputLength}), which nothing reads: the decoder's T is the position embedding's.
     */
    static boolean takesShorterRows(ComputationGraphConfiguration conf) {
        return ((EmbeddingSequenceLayer) layer(conf, "embed")).isInferInputLength();
    }

    private static org.deeplearning4j.nn.conf.layers.Layer layer(ComputationGraphConfiguration conf, String name) {
        var vertex = conf.getVertices().get(name);
        if (!(vertex instanceof org.deeplearning4j.nn.conf.graph.LayerVertex lv)) {
            throw new IllegalArgumentException("not a decoder built by this project: no layer '" + name + "'");
        }
        return lv.getLayerConf().getLayer();
    }

    /**
     * A new decoder with another output loss and updater whose parameters are a copy of
     * {@code source}'s (e.g. preference training initialised from an SFT checkpoint).
     */
    public static ComputationGraph withLoss(ComputationGraph source, ILossFunction outputLoss,
                                            Optimization optimization, double dropout) {
        DecoderConfig c = describe(source.getConfiguration(), dropout, source.getConfiguration().getDefaultConfiguration()
                .getSeed());
        ComputationGraph graph = new ComputationGraph(configuration(c, outputLoss, optimization,
                source.params().dataType()));
        graph.init(source.params().dup(), false);
        return graph;
    }

    /** A freshly initialised decoder. */
    public static ComputationGraph create(DecoderConfig c, ILossFunction outputLoss, IUpdater updater, DataType type) {
        ComputationGraph graph = new ComputationGraph(configuration(c, outputLoss, updater, type));
        graph.init();
        return graph;
    }
}
