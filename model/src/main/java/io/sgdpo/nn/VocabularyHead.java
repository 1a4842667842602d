package io.sgdpo.nn;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.Collection;
import java.util.Map;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.LayerValidation;
import org.deeplearning4j.nn.conf.layers.RnnOutputLayer;
import org.deeplearning4j.nn.params.DefaultParamInitializer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The {@link Decoder}'s vocabulary head: DL4J's {@code RnnOutputLayer} (same parameters, loss,
 * gradients and checkpoint fields) whose logits {@code [2B x T, V]} are column-major. DL4J's layer
 * asks for row-major logits, and ND4J's {@code mmuli} then multiplies into a column-major temporary
 * and copies it into them element by element, once for the gradient and once for the score of every
 * step: 8% of the mid shape's training step. Here the product goes straight into the column-major
 * array, by the same sgemm call on the same operands, so the logits are DL4J's bit for bit
 * ({@code VocabularyHeadTest}); the loss's read-out ({@link TokenLogProbs}) works on that layout.
 *
 * <p>Checkpoints name this class in their configuration; those written with DL4J's own layer load
 * as before and compute the same numbers.
 */
public class VocabularyHead extends RnnOutputLayer {

    private static final long serialVersionUID = 1L;

    /** For the JSON of saved configurations; build one with {@link #of}. */
    public VocabularyHead() {
    }

    /** The head configured as {@code built}: every field of DL4J's layer copied. */
    static VocabularyHead of(RnnOutputLayer built) {
        VocabularyHead head = new VocabularyHead();
        try {
            for (Class<?> c = RnnOutputLayer.class; c != Object.class; c = c.getSuperclass()) {
                for (Field f : c.getDeclaredFields()) {
                    if (!Modifier.isStatic(f.getModifiers())) {
                        f.setAccessible(true);
                        f.set(head, f.get(built));
                    }
                }
            }
        } catch (IllegalAccessException e) {
            throw new IllegalStateException("cannot copy the output layer's configuration", e);
        }
        return head;
    }

    @Override
    public Layer instantiate(NeuralNetConfiguration conf, Collection<TrainingListener> trainingListeners,
                             int layerIndex, INDArray layerParamsView, boolean initializeParams,
                             DataType networkDataType) {
        LayerValidation.assertNInNOutSet("VocabularyHead", getLayerName(), layerIndex, getNIn(), getNOut());
        Impl layer = new Impl(conf, networkDataType);
        layer.setListeners(trainingListeners);
        layer.setIndex(layerIndex);
        layer.setParamsViewArray(layerParamsView);
        Map<String, INDArray> params = initializer().init(conf, layerParamsView, initializeParams);
        layer.setParamTable(params);
        layer.setConf(conf);
        return layer;
    }

    /**
     * {@code hidden W + b} into {@code logits}, a column-major {@code [rows, V]} array: one sgemm
     * straight into it (the head's forward pass, and {@link SequenceLogProbs}'s read-out of a
     * decoder's head).
     *
     * @param bias {@code [1, V]}, or null for a head without one
     */
    static INDArray product(INDArray hidden, INDArray weight, INDArray bias, INDArray logits) {
        hidden.castTo(weight.dataType()).mmuli(weight, logits);
        return bias == null ? logits : logits.addiRowVector(bias);
    }

    /** DL4J's {@code RnnOutputLayer} with the logits' product taken into a column-major array. */
    static final class Impl extends org.deeplearning4j.nn.layers.recurrent.RnnOutputLayer {

        private static final long serialVersionUID = 1L;

        Impl(NeuralNetConfiguration conf, DataType dataType) {
            super(conf, dataType);
        }

        @Override
        protected Pair<INDArray, INDArray> preOutputWithPreNorm(boolean training, boolean forBackprop,
                                                                LayerWorkspaceMgr workspaceMgr) {
            INDArray weight = getParam(DefaultParamInitializer.WEIGHT_KEY);
            if (hasLayerNorm() || layerConf().getWeightNoise() != null || input == null || input.rank() != 2
                    || input.columns() != weight.rows()) {
                return super.preOutputWithPreNorm(training, forBackprop, workspaceMgr); // and its errors
            }
            assertInputSet(forBackprop);
            applyDropOutIfNecessary(training, workspaceMgr);
            INDArray logits = product(input, weight, hasBias() ? getParam(DefaultParamInitializer.BIAS_KEY) : null,
                    workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, weight.dataType(),
                            new long[] {input.size(0), weight.size(1)}, 'f'));
            if (maskArray != null) {
                applyMask(logits);
            }
            return new Pair<>(logits, logits);
        }
    }
}
