package io.sgdpo.nn;

import io.sgdpo.loss.PairLogProbs;
import java.util.ArrayList;
import java.util.List;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.RnnOutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.params.DefaultParamInitializer;
import org.deeplearning4j.util.TimeSeriesUtils;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Per-token log-probs of each pair's chosen and rejected response (prompt masked)
 * under a decoder, by a forward pass. It lays out the minibatch with {@link PairedBatch} and reads
 * it with {@link PairedView}, exactly as the training loss does, so the reference pass,
 * evaluation and training share one implementation.
 */
public final class SequenceLogProbs {

    private SequenceLogProbs() {
    }

    /**
     * @return one {@link PairLogProbs} per pair, in order, whose policy arrays are the decoder's
     *         per-token log-probs (reference arrays as the pairs carry them, else zeros)
     */
    public static List<PairLogProbs> of(ComputationGraph decoder, PairedBatch batcher, List<PairExample> pairs) {
        return of(decoder, batcher.build(pairs, decoder.params().dataType()));
    }

    /**
     * The same, with the pilots the loss draws at (seed, step) and the pairs' reference log-probs:
     * what the loss sees when it trains on these pairs at that step (for metrics).
     */
    public static List<PairLogProbs> of(ComputationGraph decoder, PairedBatch batcher, List<PairExample> pairs,
                                        io.sgdpo.loss.PreferenceLoss loss, long seed, long step) {
        return of(decoder, batcher.build(pairs, loss, seed, step, decoder.params().dataType()));
    }

    private static List<PairLogProbs> of(ComputationGraph decoder, DataSet batch) {
        try (MemoryWorkspace readOut = PassWorkspace.open(READ_OUT_ID)) {
            INDArray labels2d = TimeSeriesUtils.reshape3dTo2d(batch.getLabels());
            GraphVertex head = head(decoder);
            int hiddenLayer = headInputLayer(decoder, head);
            if (hiddenLayer < 0) {
                return new ArrayList<>(PairedView.of(labels2d, logits2d(decoder, batch.getFeatures())).pairs());
            }
            // the head's product for the response tokens' rows only, as in training (VocabularyHead)
            INDArray hidden2d = hidden2d(decoder, hiddenLayer, batch.getFeatures());
            INDArray responseRows = Nd4j.pullRows(hidden2d, 1, MinibatchView.responseRows(labels2d));
            return new ArrayList<>(PairedView.of(labels2d, headProduct(head, responseRows)).pairs());
        }
    }

    /** The workspace of a pass's logits and read-out ({@link PassWorkspace}). */
    static final String READ_OUT_ID = "SGDPO_SEQUENCE_READ_OUT";

    /**
     * The logits {@code [mb*T, V]}, row i + t*mb for example i at position t (DL4J's 3-D to 2-D
     * layout), of a forward pass without gradient.
     *
     * <p>For a {@link Decoder}, whose head is an {@code RnnOutputLayer} ({@link VocabularyHead})
     * with identity activation, the head's product is taken here, straight into that column-major
     * layout: the same sgemm on the same operands as the layer's, so the same numbers. DL4J's own
     * inference path copies the logits out of its workspace, again into the detached output, and
     * {@code reshape3dTo2d} copies them back to column-major (with DL4J's own output layer, a
     * fourth pass: the product through a column-major temporary into a row-major array): passes
     * over the {@code [mb*T, V]} logits (103 MB at the GPT-2 shape) which took about a third of the
     * reference pass there. Any other graph goes through {@code output}.
     */
    static INDArray logits2d(ComputationGraph decoder, INDArray features) {
        GraphVertex head = head(decoder);
        int hiddenLayer = headInputLayer(decoder, head);
        if (hiddenLayer < 0) {
            MemoryWorkspace current = Nd4j.getMemoryManager().getCurrentWorkspace();
            return TimeSeriesUtils.reshape3dTo2d(decoder.output(false, current, features)[0]);
        }
        return headProduct(head, hidden2d(decoder, hiddenLayer, features));
    }

    private static GraphVertex head(ComputationGraph decoder) {
        return decoder.getVertex(decoder.getConfiguration().getNetworkOutputs().get(0));
    }

    /** The activations {@code [mb*T, d]} that feed the head (DL4J's 3-D to 2-D layout). */
    private static INDArray hidden2d(ComputationGraph decoder, int hiddenLayer, INDArray features) {
        Layer hiddenOf = decoder.getLayers()[hiddenLayer];
        INDArray hidden;
        try (MemoryWorkspace none = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            hidden = decoder.feedForward(new INDArray[] {features}, hiddenLayer, false)
                    .get(hiddenOf.conf().getLayer().getLayerName());
        }
        return TimeSeriesUtils.reshape3dTo2d(hidden);
    }

    /** The head's logits of the given rows of activations, column-major {@code [rows, V]}. */
    private static INDArray headProduct(GraphVertex head, INDArray hidden2d) {
        INDArray weight = head.getLayer().getParam(DefaultParamInitializer.WEIGHT_KEY);
        INDArray bias = head.getLayer().getParam(DefaultParamInitializer.BIAS_KEY);
        return VocabularyHead.product(hidden2d, weight, bias,
                Nd4j.createUninitialized(weight.dataType(), new long[] {hidden2d.size(0), weight.size(1)}, 'f'));
    }

    /**
     * Index in {@code getLayers()} of the one layer that feeds the head, when the head is an
     * {@code RnnOutputLayer} (NCW, identity activation, no weight noise) taking it without a
     * preprocessor; else -1.
     */
    private static int headInputLayer(ComputationGraph decoder, GraphVertex head) {
        if (!(head.getLayer() instanceof org.deeplearning4j.nn.layers.recurrent.RnnOutputLayer)
                || !(decoder.getConfiguration().getVertices().get(head.getVertexName()) instanceof LayerVertex vertex)
                || vertex.getPreProcessor() != null || head.getInputVertices().length != 1) {
            return -1;
        }
        RnnOutputLayer conf = (RnnOutputLayer) vertex.getLayerConf().getLayer();
        if (!(conf.getActivationFn() instanceof ActivationIdentity) || conf.getWeightNoise() != null
                || conf.getRnnDataFormat() != RNNFormat.NCW) {
            return -1;
        }
        GraphVertex input = decoder.getVertices()[head.getInputVertices()[0].getVertexIndex()];
        Layer[] layers = decoder.getLayers();
        for (int i = 0; i < layers.length; i++) {
            if (input.hasLayer() && layers[i] == input.getLayer()) {
                return i;
            }
        }
        return -1;
    }
}
