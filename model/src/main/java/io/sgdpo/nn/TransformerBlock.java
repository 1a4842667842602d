package io.sgdpo.nn;

import java.util.Map;
import org.deeplearning4j.nn.conf.layers.samediff.SDLayerParams;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * One pre-norm GPT block over {@code [mb, d, T]}:
 * <pre>
 *   x = x + W_o . attention(LN1(x))        causal multi-head self-attention, heads of size d/h
 *   x = x + W_2 . gelu(W_1 . LN2(x) + b_1) + b_2
 * </pre>
 * Attention is {@link CausalAttention} with as many key/value heads as query heads, the queries
 * scaled before their product with the keys (as {@link DecoderStep} does in generation).
 */
public class TransformerBlock extends CompensatedSameDiffLayer {

    private static final long serialVersionUID = 1L;
    private int heads;
    private int hidden;

    private TransformerBlock() {
        // for JSON deserialisation
    }

    /**
     * @param dModel model width d, divisible by heads
     * @param heads  number of attention heads
     * @param length sequence length T the block is built for
     */
    public TransformerBlock(int dModel, int heads, int length) {
        super(dModel, length);
        if (dModel % heads != 0) {
            throw new IllegalArgumentException("model.dModel (" + dModel + ") must be divisible by model.heads (" + heads + ")");
        }
        this.modelWidth = dModel;
        this.heads = heads;
        this.length = length;
        this.hidden = 4 * dModel;
    }

    @Override
    protected SDVariable defineBody(SameDiff sd, SDVariable input, Map<String, SDVariable> p) {
        SDVariable x = toRows(input, modelWidth);
        SDVariable h = layerNorm(sd, x, p.get("gln1"), p.get("bln1"), modelWidth);
        CausalAttention attention = new CausalAttention(sd, heads, heads, modelWidth / heads, length, input.dataType());
        SDVariable q = h.mmul(p.get("wq")).add(p.get("bq")).mul(attention.queryScale());
        SDVariable k = h.mmul(p.get("wk")).add(p.get("bk"));
        SDVariable v = h.mmul(p.get("wv")).add(p.get("bv"));
        x = x.add(attention.apply(sd, q, k, v).mmul(p.get("wo")).add(p.get("bo")));

        SDVariable h2 = layerNorm(sd, x, p.get("gln2"), p.get("bln2"), modelWidth);
        SDVariable mlp = sd.nn().gelu(h2.mmul(p.get("w1")).add(p.get("b1"))).mmul(p.get("w2")).add(p.get("b2"));
        return fromRows(x.add(mlp), modelWidth, length);
    }

    /** Layer norm of rows {@code [n, d]} over d, with gain and bias of shape {@code [1, d]}. */
    static SDVariable layerNorm(SameDiff sd, SDVariable rows, SDVariable gain, SDVariable bias, int dModel) {
        return sd.nn().layerNorm(rows, gain.reshape(dModel), bias.reshape(dModel), false, 1);
    }

    @Override
    public void defineParameters(SDLayerParams params) {
        params.addWeightParam("gln1", 1, modelWidth);
        params.addBiasParam("bln1", 1, modelWidth);
        for (String name : new String[] {"q", "k", "v", "o"}) {
            params.addWeightParam("w" + name, modelWidth, modelWidth);
            params.addBiasParam("b" + name, 1, modelWidth);
        }
        params.addWeightParam("gln2", 1, modelWidth);
        params.addBiasParam("bln2", 1, modelWidth);
        params.addWeightParam("w1", modelWidth, hidden);
        params.addBiasParam("b1", 1, hidden);
        params.addWeightParam("w2", hidden, modelWidth);
        params.addBiasParam("b2", 1, modelWidth);
    }

    @Override
    public void initializeParameters(Map<String, INDArray> params) {
        Init.gpt2(params);
    }

    public int getHeads() {
        return heads;
    }

    public void setHeads(int heads) {
        this.heads = heads;
    }

    public int getHidden() {
        return hidden;
    }

    public void setHidden(int hidden) {
        this.hidden = hidden;
    }

    @Override
    public boolean equals(Object other) {
        return super.equals(other) && heads == ((TransformerBlock) other).heads
                && hidden == ((TransformerBlock) other).hidden;
    }

    @Override
    public int hashCode() {
        return 31 * super.hashCode() + java.util.Objects.hash(heads, hidden);
    }
}
