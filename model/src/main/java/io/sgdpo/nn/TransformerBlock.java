package io.sgdpo.nn;

import java.util.Map;
import org.deeplearning4j.nn.conf.layers.samediff.SDLayerParams;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * One pre-norm GPT block over {@code [mb, d, T]}:
 * <pre>
 *   x = x + W_o . attention(LN1(x))        causal multi-head self-attention, heads of size d/h
 *   x = x + W_2 . gelu(W_1 . LN2(x) + b_1) + b_2
 * </pre>
 * Attention runs as batched rank-3 matrix products over {@code [mb*h, T, d/h]} (DL4J's tensorMmul
 * has a broken backward pass); the causal mask is a constant additive bias of -1e9 above the
 * diagonal, so a token never sees later positions, padding included.
 *
 * <p>Not {@link CausalAttention}, which the imported architectures use: the same attention laid out
 * through it rounds differently in float32 (measured: another gold score in the cluster test), and
 * the figures the README records for the decoder (demo, study, cluster) come from this layout.
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
        SDVariable q = h.mmul(p.get("wq")).add(p.get("bq"));
        SDVariable k = h.mmul(p.get("wk")).add(p.get("bk"));
        SDVariable v = h.mmul(p.get("wv")).add(p.get("bv"));
        SDVariable attended = attention(sd, splitHeads(q), splitHeads(k), splitHeads(v), input.dataType());
        x = x.add(mergeHeads(attended).mmul(p.get("wo")).add(p.get("bo")));

        SDVariable h2 = layerNorm(sd, x, p.get("gln2"), p.get("bln2"), modelWidth);
        SDVariable mlp = sd.nn().gelu(h2.mmul(p.get("w1")).add(p.get("b1"))).mmul(p.get("w2")).add(p.get("b2"));
        return fromRows(x.add(mlp), modelWidth, length);
    }

    private SDVariable attention(SameDiff sd, SDVariable q, SDVariable k, SDVariable v, DataType type) {
        SDVariable scores = sd.mmul(q, k, false, true, false).mul(1.0 / Math.sqrt(modelWidth / (double) heads));
        SDVariable masked = scores.add(sd.constant(CausalAttention.causalBias(1, length, type)));
        SDVariable weights = sd.nn().softmax(masked, 2);
        return sd.mmul(weights, v);
    }

    /** Rows {@code [mb*T, d]} to {@code [mb*h, T, d/h]}. */
    private SDVariable splitHeads(SDVariable rows) {
        int headSize = modelWidth / heads;
        return rows.reshape(-1, length, heads, headSize).permute(0, 2, 1, 3).reshape(-1, length, headSize);
    }

    /** {@code [mb*h, T, d/h]} back to rows {@code [mb*T, d]}. */
    private SDVariable mergeHeads(SDVariable perHead) {
        int headSize = modelWidth / heads;
        return perHead.reshape(-1, heads, length, headSize).permute(0, 2, 1, 3).reshape(-1, modelWidth);
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
