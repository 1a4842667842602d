package io.sgdpo.nn;

import java.util.Map;
import org.deeplearning4j.nn.conf.layers.samediff.SDLayerParams;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;

/** The layer norm after the last block (GPT-2's ln_f), over the model dimension of each token. */
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
}
