package io.sgdpo.nn;

import java.util.Map;
import org.deeplearning4j.nn.conf.layers.samediff.SDLayerParams;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Adds a learned embedding of each position 0..T-1 to the token embeddings {@code [mb, d, T]}. */
public class PositionEmbedding extends CompensatedSameDiffLayer {

    private static final long serialVersionUID = 1L;

    private PositionEmbedding() {
        // for JSON deserialisation
    }

    public PositionEmbedding(int dModel, int length) {
        super(dModel, length);
    }

    @Override
    protected SDVariable defineBody(SameDiff sd, SDVariable input, Map<String, SDVariable> params) {
        return input.add(params.get("wpos"));
    }

    @Override
    public void defineParameters(SDLayerParams params) {
        params.addWeightParam("wpos", 1, modelWidth, length);
    }

    @Override
    public void initializeParameters(Map<String, INDArray> params) {
        Init.gpt2(params);
    }
}
