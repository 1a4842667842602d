package io.sgdpo.nn;

import java.util.Collection;
import java.util.Map;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.samediff.SameDiffLayer;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.controlflow.compat.StopGradient;

/**
 * Base of this project's SameDiff layers. DL4J 1.0.0-M2.1 feeds the external error of a
 * {@code SameDiffLayer} into its backward pass twice, so every gradient through such a layer comes
 * out exactly 2x. Each layer therefore returns {@code 0.5 z + 0.5 stopGradient(z)}: the same
 * value, half the gradient ({@link LanguageModelLayer} applies it inside, where it is cheaper).
 * {@code DecoderGradientCheckTest} and {@code ArchitectureGradientCheckTest} pin both facts; the
 * day DL4J fixes the bug, their tests with the compensation turned off fail and this class must go.
 *
 * <p>A layer may also write its passes out ({@link DirectPasses}); its SameDiff graph then stays
 * its definition and the path of what those passes do not take.
 */
public abstract class CompensatedSameDiffLayer extends SameDiffLayer {

    private static final long serialVersionUID = 1L;

    /** Whether to halve the gradient (true except in the test that pins the DL4J bug). */
    protected boolean compensateDoubledGradient = true;
    /** Model width d of the layer's input and output {@code [mb, d, T]}. */
    protected int modelWidth;
    /** Sequence length T the layer is built for. */
    protected int length;

    protected CompensatedSameDiffLayer() {
        // for JSON deserialisation
    }

    protected CompensatedSameDiffLayer(int modelWidth, int length) {
        this.modelWidth = modelWidth;
        this.length = length;
    }

    public int getModelWidth() {
        return modelWidth;
    }

    public void setModelWidth(int modelWidth) {
        this.modelWidth = modelWidth;
    }

    public int getLength() {
        return length;
    }

    public void setLength(int length) {
        this.length = length;
    }

    /** Same class and the same sizes: what DL4J's configuration equality must see. */
    @Override
    public boolean equals(Object other) {
        return other != null && other.getClass() == getClass() && super.equals(other)
                && modelWidth == ((CompensatedSameDiffLayer) other).modelWidth
                && length == ((CompensatedSameDiffLayer) other).length
                && compensateDoubledGradient == ((CompensatedSameDiffLayer) other).compensateDoubledGradient;
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(super.hashCode(), modelWidth, length, compensateDoubledGradient);
    }

    /**
     * The layer's implementation with its passes written out, or null (the default) for DL4J's,
     * which runs the SameDiff graph.
     */
    protected DirectPasses directPasses(NeuralNetConfiguration conf, DataType networkDataType) {
        return null;
    }

    @Override
    public Layer instantiate(NeuralNetConfiguration conf, Collection<TrainingListener> trainingListeners,
                             int layerIndex, INDArray layerParamsView, boolean initializeParams,
                             DataType networkDataType) {
        DirectPasses layer = directPasses(conf, networkDataType);
        if (layer == null) {
            return super.instantiate(conf, trainingListeners, layerIndex, layerParamsView, initializeParams,
                    networkDataType);
        }
        layer.setIndex(layerIndex);
        layer.setParamsViewArray(layerParamsView);
        layer.setParamTable(initializer().init(conf, layerParamsView, initializeParams));
        layer.setConf(conf);
        return layer;
    }

    /** The layer's function of its input {@code [mb, channels, T]} and parameters. */
    protected abstract SDVariable defineBody(SameDiff sd, SDVariable input, Map<String, SDVariable> params);

    @Override
    public final SDVariable defineLayer(SameDiff sd, SDVariable input, Map<String, SDVariable> params, SDVariable mask) {
        SDVariable z = defineBody(sd, input, params);
        return compensatesInside() ? z : halfGradient(sd, z);
    }

    /**
     * Whether {@link #defineBody} compensates the doubled gradient itself, with {@link
     * #halfGradient} on values that every path from the parameters and the input to the output
     * passes through exactly once (cheaper when the output is larger than they are). By default
     * the output is compensated.
     */
    protected boolean compensatesInside() {
        return false;
    }

    /** {@code 0.5 x + 0.5 stopGradient(x)}: the value of x with half its gradient (x itself when not compensating). */
    protected final SDVariable halfGradient(SameDiff sd, SDVariable x) {
        if (!compensateDoubledGradient) {
            return x;
        }
        SDVariable frozen = new StopGradient(sd, x).outputVariable();
        return x.mul(0.5).add(frozen.mul(0.5));
    }

    public boolean isCompensateDoubledGradient() {
        return compensateDoubledGradient;
    }

    public void setCompensateDoubledGradient(boolean compensate) {
        this.compensateDoubledGradient = compensate;
    }

    @Override
    public InputType getOutputType(int layerIndex, InputType inputType) {
        return inputType; // every layer here maps [mb, d, T] to [mb, d, T]
    }

    /** {@code [mb, d, T]} (DL4J's NCW) to rows {@code [mb*T, d]}, one per token. */
    static SDVariable toRows(SDVariable x, int dModel) {
        return x.permute(0, 2, 1).reshape(-1, dModel);
    }

    /** Rows {@code [mb*T, d]} back to {@code [mb, d, T]}. */
    static SDVariable fromRows(SDVariable rows, int dModel, int length) {
        return rows.reshape(-1, length, dModel).permute(0, 2, 1);
    }
}
