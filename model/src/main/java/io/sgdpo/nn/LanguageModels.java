package io.sgdpo.nn;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import io.sgdpo.config.ConfigurationException;
import io.sgdpo.nn.gpt2.Gpt2Config;
import io.sgdpo.nn.gpt2.Gpt2Model;
import io.sgdpo.nn.llama.LlamaConfig;
import io.sgdpo.nn.llama.LlamaModel;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.GradientNormalization;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.BaseOutputLayer;
import org.deeplearning4j.nn.conf.layers.RnnLossLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.lossfunctions.ILossFunction;

/**
 * The one place every stage builds, describes and converts a language model, whatever its
 * architecture ({@link Architecture}):
 * <ul>
 *   <li>{@code decoder}: the graph {@code tokens -> embed -> pos -> block0.. -> norm -> lm} of
 *       {@link Decoder};</li>
 *   <li>{@code llama}, {@code gpt2}: the graph {@code tokens -> model -> lm}, the whole model one
 *       {@link LanguageModelLayer} and {@code lm} a parameter-free loss layer over its logits
 *       {@code [mb, V, T]}.</li>
 * </ul>
 * Either way the output layer is named {@link Decoder#OUTPUT}, takes the project's losses with
 * the identity activation, and produces logits {@code [mb, V, T]}.
 */
public final class LanguageModels {

    /** Name of the whole-model layer of a llama or gpt2 graph. */
    public static final String MODEL = "model";

    static {
        SameDiffLogFilter.install();
    }

    private LanguageModels() {
    }

    /**
     * The sizes of a model built by this project, read from its graph configuration (e.g. of a
     * checkpoint).
     *
     * @throws IllegalArgumentException if the configuration is not one of this project's models
     */
    public static ModelShape describe(ComputationGraphConfiguration conf) {
        LanguageModelLayer layer = wholeModel(conf);
        if (layer != null) {
            return layer.shape();
        }
        DecoderConfig d = Decoder.describe(conf, 0, 0);
        return new ModelShape(Architecture.DECODER, d.vocabSize(), d.maxLength(), d.dModel(), d.layers());
    }

    /**
     * Whether the model takes rows shorter than its length, so that a minibatch can be padded to its
     * own longest row ({@link PairedBatch#forModel}): the decoder does ({@link Decoder#takesShorterRows}),
     * and so do llama and gpt2, whose passes are written out ({@link WholeModelPasses}; their SameDiff
     * graphs are built for one length).
     */
    public static boolean takesShorterRows(ComputationGraphConfiguration conf) {
        return wholeModel(conf) != null || Decoder.takesShorterRows(conf);
    }

    /** The whole-model layer of a llama or gpt2 graph, or null for a decoder (or anything else). */
    public static LanguageModelLayer wholeModel(ComputationGraphConfiguration conf) {
        if (conf.getVertices().get(MODEL) instanceof LayerVertex lv
                && lv.getLayerConf().getLayer() instanceof LanguageModelLayer layer) {
            return layer;
        }
        return null;
    }

    /** The loss of a model's output layer ({@link Decoder#OUTPUT}), for every architecture. */
    public static ILossFunction outputLoss(ComputationGraphConfiguration conf) {
        if (conf.getVertices().get(Decoder.OUTPUT) instanceof LayerVertex lv) {
            if (lv.getLayerConf().getLayer() instanceof BaseOutputLayer output) {
                return output.getLossFn();
            }
            if (lv.getLayerConf().getLayer() instanceof RnnLossLayer output) {
                return output.getLossFn();
            }
        }
        throw new IllegalArgumentException("the graph has no output layer named " + Decoder.OUTPUT);
    }

    /**
     * A new model with another output loss and optimisation whose parameters are a copy of
     * {@code source}'s (e.g. preference training initialised from an SFT checkpoint or an imported
     * model).
     *
     * @param dropout dropout before the output projection; only the decoder has it, so it must be
     *                0 for llama and gpt2
     * @throws ConfigurationException naming {@code model.dropout} when it is not supported
     */
    public static ComputationGraph withLoss(ComputationGraph source, ILossFunction outputLoss,
                                            Optimization optimization, double dropout) {
        LanguageModelLayer layer = wholeModel(source.getConfiguration());
        if (layer == null) {
            return Decoder.withLoss(source, outputLoss, optimization, dropout);
        }
        requireNoDropout(layer.architecture(), dropout);
        ComputationGraph graph = new ComputationGraph(configuration(layer.withLength(layer.getLength()), outputLoss,
                optimization, source.params().dataType(), source.getConfiguration().getDefaultConfiguration().getSeed()));
        graph.init(source.params().dup(), false);
        return graph;
    }

    /**
     * The same model (parameters, loss, optimizer and its state) built for another sequence length
     * T; {@code source} itself when T is unchanged. Only llama and gpt2 models can: the decoder's
     * learned positions have exactly T rows.
     *
     * @throws IllegalArgumentException for a decoder of another length, or a length beyond the
     *                                  model's maximum positions
     */
    public static ComputationGraph withLength(ComputationGraph source, int length) {
        ModelShape shape = describe(source.getConfiguration());
        if (shape.maxLength() == length) {
            return source;
        }
        LanguageModelLayer layer = wholeModel(source.getConfiguration());
        if (layer == null) {
            throw new IllegalArgumentException("a decoder built for sequence length " + shape.maxLength()
                    + " cannot run at " + length + ": its learned positions have exactly that many rows"
                    + " (set model.maxLength = " + shape.maxLength() + ")");
        }
        if (length < 1 || length > layer.maxPositions()) {
            throw new IllegalArgumentException("sequence length " + length + " outside 1.." + layer.maxPositions()
                    + " (the model's maximum positions)");
        }
        ComputationGraphConfiguration conf = ComputationGraphConfiguration.fromJson(source.getConfiguration().toJson());
        // a copy keeps what the graph builder put into the layer (name, updater, regularisation, clipping)
        LanguageModelLayer rebuilt = (LanguageModelLayer) wholeModel(conf).clone();
        rebuilt.setLength(length);
        ((LayerVertex) conf.getVertices().get(MODEL)).getLayerConf().setLayer(rebuilt);
        ComputationGraph graph = new ComputationGraph(conf);
        graph.init(source.params().dup(), false);
        if (source.getUpdater(false) != null && source.getUpdater(false).getStateViewArray() != null) {
            graph.getUpdater().getStateViewArray().assign(source.getUpdater(false).getStateViewArray());
        }
        return graph;
    }

    /**
     * A freshly initialised model of architecture {@code model.architecture}, sized by the {@code
     * model} block (documented in reference.conf).
     *
     * @param modelBlock the {@code model} block of the configuration
     * @param vocabSize  number of token ids (from the data, not from config)
     * @throws ConfigurationException naming the offending {@code model.*} key
     */
    public static ComputationGraph create(Config modelBlock, int vocabSize, ILossFunction outputLoss,
                                          Optimization optimization, DataType type) {
        ComputationGraphConfiguration conf;
        try {
            conf = configuration(modelBlock, vocabSize, outputLoss, optimization, type);
        } catch (ConfigException e) {
            throw new ConfigurationException("model block: " + e.getMessage(), e);
        }
        ComputationGraph graph = new ComputationGraph(conf);
        graph.init();
        return graph;
    }

    private static ComputationGraphConfiguration configuration(Config m, int vocabSize, ILossFunction outputLoss,
                                                               Optimization optimization, DataType type) {
        Architecture architecture = Architecture.fromConfigName(m.getString("architecture"));
        int d = m.getInt("dModel");
        int heads = m.getInt("heads");
        int kvHeads = m.getInt("kvHeads") == 0 ? heads : m.getInt("kvHeads");
        int ffn = m.getInt("ffnHidden");
        int length = m.getInt("maxLength");
        long seed = m.getLong("seed");
        double dropout = m.getDouble("dropout");
        try {
            switch (architecture) {
                case DECODER -> {
                    if (kvHeads != heads) {
                        throw new ConfigurationException("model.kvHeads must be 0 or model.heads for the decoder"
                                + " architecture (it has no grouped-query attention), got " + m.getInt("kvHeads"));
                    }
                    if (ffn != 0 && ffn != 4 * d) {
                        throw new ConfigurationException("model.ffnHidden must be 0 or 4 * model.dModel (" + 4 * d
                                + ") for the decoder architecture, got " + ffn);
                    }
                    return Decoder.configuration(DecoderConfig.fromConfig(m, vocabSize), outputLoss, optimization,
                            type);
                }
                case LLAMA -> {
                    requireNoDropout(architecture, dropout);
                    requireDivisible(d, heads);
                    LlamaConfig c = new LlamaConfig(vocabSize, d, ffn == 0 ? llamaFfn(d) : ffn, m.getInt("layers"),
                            heads, kvHeads, d / heads, m.getDouble("normEps"), m.getDouble("ropeTheta"),
                            m.getBoolean("tieEmbeddings"), m.getBoolean("qkvBias"), length);
                    return configuration(new LlamaModel(c, length), outputLoss, optimization, type, seed);
                }
                case GPT2 -> {
                    requireNoDropout(architecture, dropout);
                    if (kvHeads != heads) {
                        throw new ConfigurationException("model.kvHeads must be 0 or model.heads for gpt2, got "
                                + m.getInt("kvHeads"));
                    }
                    if (!m.getBoolean("tieEmbeddings") || m.getBoolean("qkvBias")) {
                        throw new ConfigurationException("gpt2 always ties its head to the embedding and always has"
                                + " q/k/v biases: model.tieEmbeddings must be true and model.qkvBias (a llama setting)"
                                + " false");
                    }
                    Gpt2Config c = new Gpt2Config(vocabSize, d, m.getInt("layers"), heads, ffn == 0 ? 4 * d : ffn,
                            length, m.getDouble("normEps"));
                    return configuration(new Gpt2Model(c, length), outputLoss, optimization, type, seed);
                }
                default -> throw new IllegalStateException(architecture.toString());
            }
        } catch (ConfigurationException e) {
            throw e;
        } catch (IllegalArgumentException e) {
            throw new ConfigurationException("model block (architecture " + architecture.configName() + "): "
                    + e.getMessage(), e);
        }
    }

    /** Llama's MLP width by default: 8d/3 rounded up to a multiple of 8 (as many weights as a 4d GELU MLP). */
    static int llamaFfn(int d) {
        return (8 * d / 3 + 7) / 8 * 8;
    }

    private static void requireDivisible(int d, int heads) {
        if (heads < 1 || d % heads != 0) {
            throw new ConfigurationException("model.heads must be >= 1 and divide model.dModel (" + d + "), got "
                    + heads);
        }
    }

    private static void requireNoDropout(Architecture architecture, double dropout) {
        if (dropout != 0) {
            throw new ConfigurationException("model.dropout must be 0 for the " + architecture.configName()
                    + " architecture (DL4J applies no dropout inside its single SameDiff layer), got " + dropout);
        }
    }

    /**
     * Matrix-multiply FLOPs of one forward pass per token (2 per multiply-add: projections, MLP,
     * attention over T keys, output head), for MFU figures.
     */
    public static long forwardFlopsPerToken(ComputationGraphConfiguration conf) {
        LanguageModelLayer layer = wholeModel(conf);
        return layer != null ? layer.forwardFlopsPerToken() : Decoder.describe(conf, 0, 0).forwardFlopsPerToken();
    }

    /** {@link #forwardFlopsPerToken(ComputationGraphConfiguration)} of a graph. */
    public static long forwardFlopsPerToken(ComputationGraph graph) {
        return forwardFlopsPerToken(graph.getConfiguration());
    }

    /**
     * The graph {@code tokens -> model -> lm}: the whole model as one layer, then a parameter-free
     * loss layer over its logits {@code [mb, V, T]} (identity activation, NCW, as the decoder's
     * output layer).
     */
    public static ComputationGraphConfiguration configuration(LanguageModelLayer model, ILossFunction outputLoss,
                                                              Optimization optimization, DataType type, long seed) {
        return builder(seed, type, optimization)
                .graphBuilder()
                .addInputs(Decoder.INPUT)
                .addLayer(MODEL, model, Decoder.INPUT)
                .addLayer(Decoder.OUTPUT, new RnnLossLayer.Builder(outputLoss).activation(Activation.IDENTITY)
                        .dataFormat(RNNFormat.NCW).build(), MODEL)
                .setOutputs(Decoder.OUTPUT)
                .build();
    }

    /**
     * A graph of {@code model} whose parameters are {@code params} (not initialised randomly), e.g.
     * to load a checkpoint's tensors into.
     */
    public static ComputationGraph withParameters(LanguageModelLayer model, INDArray params, ILossFunction outputLoss,
                                                  Optimization optimization, long seed) {
        ComputationGraph graph = new ComputationGraph(configuration(model, outputLoss, optimization, params.dataType(),
                seed));
        graph.init(params, false);
        return graph;
    }

    /** The global settings of every graph: seed, data type, updater, clipping, weight decay. */
    static NeuralNetConfiguration.Builder builder(long seed, DataType type, Optimization optimization) {
        NeuralNetConfiguration.Builder base = new NeuralNetConfiguration.Builder()
                .seed(seed)
                .dataType(type)
                .updater(optimization.updater());
        if (optimization.clipL2PerLayer() > 0) {
            base.gradientNormalization(GradientNormalization.ClipL2PerLayer)
                    .gradientNormalizationThreshold(optimization.clipL2PerLayer());
        }
        if (optimization.weightDecay() > 0) {
            base.weightDecay(optimization.weightDecay(), true);
        }
        return base;
    }
}
