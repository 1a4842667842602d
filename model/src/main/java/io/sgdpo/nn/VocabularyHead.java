package io.sgdpo.nn;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.Collection;
import java.util.Map;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.RNNFormat;
import org.deeplearning4j.nn.conf.layers.LayerValidation;
import org.deeplearning4j.nn.conf.layers.RnnOutputLayer;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.params.DefaultParamInitializer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.deeplearning4j.util.TimeSeriesUtils;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The {@link Decoder}'s vocabulary head: DL4J's {@code RnnOutputLayer} (same parameters, loss,
 * gradients and checkpoint fields) whose logits {@code [2B x T, V]} are column-major. DL4J's layer
 * asks for row-major logits, and ND4J's {@code mmuli} then multiplies into a column-major temporary
 * and copies it into them element by element, once for the gradient and once for the score of every
 * step: 8% of the mid shape's training step. Here the product goes straight into the column-major
 * array, by the same sgemm call on the same operands, so the logits are DL4J's bit for bit
 * ({@code VocabularyHeadTest}); the loss's read-out ({@link TokenLogProbs}) works on that layout.
 * In training with a {@link ResponseTokenLoss} the product is taken for the response tokens' rows
 * only ({@link Impl}).
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

    /**
     * DL4J's {@code RnnOutputLayer} with the logits' product taken into a column-major array, and,
     * in training with a {@link ResponseTokenLoss}, for the response tokens' rows alone: the logits
     * {@code [S, V]} of those S rows, the loss's gradient over them, the weight's gradient from
     * them and the gradient to the layer below scattered back to their rows (zero elsewhere, as the
     * full product gives for rows whose logits' gradient is zero). Inference, masks and other losses
     * take every row.
     */
    static final class Impl extends org.deeplearning4j.nn.layers.recurrent.RnnOutputLayer {

        private static final long serialVersionUID = 1L;

        /**
         * The loss value the last backward pass of the response rows took with its gradient, the
         * 3-D input and the labels it was for, until the score of that pass reads it (NaN: none).
         */
        private transient double backpropLoss = Double.NaN;
        private transient INDArray backpropInput;
        private transient INDArray backpropLabels;

        Impl(NeuralNetConfiguration conf, DataType dataType) {
            super(conf, dataType);
        }

        /**
         * DL4J computes a training step's score after its backward pass, from the logits again: here,
         * when the backward pass just before took the response rows' loss for the same input and
         * labels, the score is that value (the same logits, the same loss; the head's product and
         * read-out are not taken a second time; with dropout on the head's input, the loss of the
         * dropped-out pass the gradient is of). Otherwise, DL4J's own.
         */
        @Override
        public double computeScore(double fullNetRegTerm, boolean training, LayerWorkspaceMgr workspaceMgr) {
            double loss = backpropLoss;
            boolean sameStep = training && input != null && input == backpropInput && labels == backpropLabels;
            forgetBackpropLoss();
            if (!sameStep || Double.isNaN(loss)) {
                return super.computeScore(fullNetRegTerm, training, workspaceMgr);
            }
            double score = conf().isMiniBatch() ? loss / getInputMiniBatchSize() : loss;
            this.score = score + fullNetRegTerm;
            return this.score;
        }

        private void forgetBackpropLoss() {
            backpropLoss = Double.NaN;
            backpropInput = null;
            backpropLabels = null;
        }

        @Override
        protected Pair<INDArray, INDArray> preOutputWithPreNorm(boolean training, boolean forBackprop,
                                                                LayerWorkspaceMgr workspaceMgr) {
            INDArray weight = getParam(DefaultParamInitializer.WEIGHT_KEY);
            if (!ownProduct() || input.rank() != 2 || input.columns() != weight.rows()) {
                return super.preOutputWithPreNorm(training, forBackprop, workspaceMgr); // and its errors
            }
            assertInputSet(forBackprop);
            applyDropOutIfNecessary(training, workspaceMgr);
            int[] rows = training ? responseRows() : null;
            INDArray logits = product(rows == null ? input : Nd4j.pullRows(input, 1, rows), workspaceMgr);
            if (maskArray != null) {
                applyMask(logits);
            }
            return new Pair<>(logits, logits);
        }

        @Override
        public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
            forgetBackpropLoss();
            int[] rows = ownProduct() && input.rank() == 3 ? responseRows() : null;
            if (rows == null) {
                return super.backpropGradient(epsilon, workspaceMgr);
            }
            INDArray weight = getParam(DefaultParamInitializer.WEIGHT_KEY);
            INDArray input3d = input;
            Gradient gradient = new DefaultGradient();
            INDArray epsilon2d;
            try {
                input = TimeSeriesUtils.reshape3dTo2d(input3d, workspaceMgr, ArrayType.BP_WORKING_MEM);
                applyDropOutIfNecessary(true, workspaceMgr);
                INDArray inputRows = Nd4j.pullRows(input, 1, rows);
                Pair<Double, INDArray> lossAndDelta = layerConf().getLossFn().computeGradientAndScore(
                        getLabels2d(workspaceMgr, ArrayType.BP_WORKING_MEM), product(inputRows, workspaceMgr),
                        layerConf().getActivationFn(), null, false);
                INDArray delta = lossAndDelta.getSecond();
                INDArray weightGradient = gradientViews.get(DefaultParamInitializer.WEIGHT_KEY);
                Nd4j.gemm(inputRows.castTo(weightGradient.dataType()), delta, weightGradient, true, false, 1.0, 0.0);
                gradient.gradientForVariable().put(DefaultParamInitializer.WEIGHT_KEY, weightGradient);
                if (hasBias()) {
                    INDArray biasGradient = gradientViews.get(DefaultParamInitializer.BIAS_KEY);
                    delta.sum(biasGradient, 0);
                    gradient.gradientForVariable().put(DefaultParamInitializer.BIAS_KEY, biasGradient);
                }
                INDArray epsilonRows = weight.mmuli(delta.transpose(), Nd4j.createUninitialized(delta.dataType(),
                        new long[] {weight.size(0), delta.size(0)}, 'f')).transpose();
                epsilon2d = workspaceMgr.create(ArrayType.ACTIVATION_GRAD, delta.dataType(),
                        new long[] {input.size(0), weight.size(0)}, 'c');
                Nd4j.exec(DynamicCustomOp.builder("scatter_upd")
                        .addInputs(epsilon2d, Nd4j.createFromArray(rows), epsilonRows).addOutputs(epsilon2d).build());
                epsilon2d = backpropDropOutIfPresent(epsilon2d);
                backpropLoss = lossAndDelta.getFirst();
                backpropInput = input3d;
                backpropLabels = labels;
            } finally {
                input = input3d;
            }
            weightNoiseParams.clear();
            return new Pair<>(gradient, TimeSeriesUtils.reshape2dTo3d(epsilon2d, input3d.size(0), workspaceMgr,
                    ArrayType.ACTIVATION_GRAD));
        }

        /** The head's own product applies: no layer norm or weight noise, the NCW layout, an input. */
        private boolean ownProduct() {
            return !hasLayerNorm() && layerConf().getWeightNoise() == null && input != null
                    && layerConf().getRnnDataFormat() == RNNFormat.NCW;
        }

        /**
         * The response tokens' label rows when the labels are set, unmasked, and the loss reads
         * those rows alone; else null (every row).
         */
        private int[] responseRows() {
            if (labels == null || maskArray != null || !(layerConf().getLossFn() instanceof ResponseTokenLoss)) {
                return null;
            }
            return MinibatchView.responseRows(labels.rank() == 3 ? TimeSeriesUtils.reshape3dTo2d(labels) : labels);
        }

        private INDArray product(INDArray rows, LayerWorkspaceMgr workspaceMgr) {
            INDArray weight = getParam(DefaultParamInitializer.WEIGHT_KEY);
            return VocabularyHead.product(rows, weight, hasBias() ? getParam(DefaultParamInitializer.BIAS_KEY) : null,
                    workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, weight.dataType(),
                            new long[] {rows.size(0), weight.size(1)}, 'f'));
        }
    }
}
