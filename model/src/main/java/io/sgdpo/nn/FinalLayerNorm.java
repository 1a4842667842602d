package io.sgdpo.nn;

import java.util.Map;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.samediff.SDLayerParams;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The layer norm after the last block (GPT-2's ln_f), over the model dimension of each token; DL4J
 * runs it as {@link Impl}, its passes written out.
 */
public class FinalLayerNorm extends CompensatedSameDiffLayer {

    private static final long serialVersionUID = 1L;

    private FinalLayerNorm() {
        // for JSON deserialisation
    }

    public FinalLayerNorm(int dModel, int length) {
        super(dModel, length);
    }

    @Override
    protected SDVariable defineBody(SameDiff sd, SDVariable input, Map<String, SDVariable> params) {
        SDVariable rows = toRows(input, modelWidth);
        SDVariable normed = TransformerBlock.layerNorm(sd, rows, params.get("gain"), params.get("bias"), modelWidth);
        return fromRows(normed, modelWidth, length);
    }

    @Override
    public void defineParameters(SDLayerParams params) {
        params.addWeightParam("gain", 1, modelWidth);
        params.addBiasParam("bias", 1, modelWidth);
    }

    @Override
    public void initializeParameters(Map<String, INDArray> params) {
        Init.gpt2(params);
    }

    @Override
    protected DirectPasses directPasses(NeuralNetConfiguration conf, DataType networkDataType) {
        return new Impl(conf, networkDataType);
    }

    /** The layer norm's passes written out ({@link DirectPasses#layerNorm}, {@link DirectPasses#layerNormBackward}). */
    static final class Impl extends DirectPasses {

        private static final long serialVersionUID = 1L;

        /** What the last training forward pass kept for the backward pass. */
        private transient Normalised normalised;

        Impl(NeuralNetConfiguration conf, DataType dataType) {
            super(conf, dataType);
        }

        @Override
        protected void forward(INDArray rows, INDArray out, ArrayType kept, LayerWorkspaceMgr mgr) {
            Normalised n = layerNorm(rows, getParam("gain"), getParam("bias"), out, mgr,
                    kept == null ? ArrayType.FF_WORKING_MEM : kept);
            normalised = kept == null ? null : n;
        }

        @Override
        protected void backward(INDArray dOut, INDArray dIn, Map<String, INDArray> g, LayerWorkspaceMgr mgr) {
            layerNormBackward(normalised, getParam("gain"), dOut, dIn, g.get("gain"), g.get("bias"), mgr);
        }

        @Override
        protected void forgetKept() {
            normalised = null;
        }
    }
}
