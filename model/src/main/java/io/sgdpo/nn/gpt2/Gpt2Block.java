package io.sgdpo.nn.gpt2;

import io.sgdpo.nn.CausalAttention;
import java.util.Map;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;

/**
 * One GPT-2 block over rows {@code [mb*T, d]} (transformers' GPT2Block):
 * <pre>
 *   x = x + c_proj(attention(split(c_attn(ln_1(x)))))
 *   x = x + mlp.c_proj(gelu_new(c_fc(ln_2(x))))
 * </pre>
 * Weights are stored {@code [in, out]}, as GPT-2's Conv1D stores them, so rows multiply them
 * directly and the checkpoint's tensors are used as they are. {@code c_attn} is one fused
 * projection whose output columns are q, k and v in that order. Parameter names:
 * {@code l<i><Part>}, e.g. {@code l0Attn} ({@link #param}).
 */
final class Gpt2Block {

    static final String LN1_GAIN = "Ln1Gain";
    static final String LN1_BIAS = "Ln1Bias";
    static final String ATTN = "Attn";
    static final String ATTN_BIAS = "AttnBias";
    static final String ATTN_PROJ = "AttnProj";
    static final String ATTN_PROJ_BIAS = "AttnProjBias";
    static final String LN2_GAIN = "Ln2Gain";
    static final String LN2_BIAS = "Ln2Bias";
    static final String FC = "Fc";
    static final String FC_BIAS = "FcBias";
    static final String MLP_PROJ = "MlpProj";
    static final String MLP_PROJ_BIAS = "MlpProjBias";
    private static final double GELU_SCALE = Math.sqrt(2 / Math.PI);

    private Gpt2Block() {
    }

    /** The name of parameter {@code part} of block {@code index}. */
    static String param(int index, String part) {
        return "l" + index + part; // no '_': DL4J splits "layer_param" keys at the last '_'
    }

    static SDVariable apply(SameDiff sd, SDVariable x, Map<String, SDVariable> p, int index, Gpt2Config c,
                            CausalAttention attention) {
        SDVariable h = layerNorm(sd, x, p.get(param(index, LN1_GAIN)), p.get(param(index, LN1_BIAS)),
                c.layerNormEps());
        SDVariable qkv = conv1d(sd, h, p.get(param(index, ATTN)), p.get(param(index, ATTN_BIAS)));
        SDVariable[] split = sd.split(qkv, 3, 1);
        SDVariable attended = attention.apply(sd, split[0].mul(attention.queryScale()), split[1], split[2]);
        x = x.add(conv1d(sd, attended, p.get(param(index, ATTN_PROJ)), p.get(param(index, ATTN_PROJ_BIAS))));

        SDVariable h2 = layerNorm(sd, x, p.get(param(index, LN2_GAIN)), p.get(param(index, LN2_BIAS)),
                c.layerNormEps());
        SDVariable inner = geluNew(sd, conv1d(sd, h2, p.get(param(index, FC)), p.get(param(index, FC_BIAS))));
        return x.add(conv1d(sd, inner, p.get(param(index, MLP_PROJ)), p.get(param(index, MLP_PROJ_BIAS))));
    }

    /** GPT-2's Conv1D: {@code x W + b}, W stored {@code [in, out]}. */
    static SDVariable conv1d(SameDiff sd, SDVariable rows, SDVariable weight, SDVariable bias) {
        return sd.mmul(rows, weight).add(bias);
    }

    /**
     * LayerNorm of rows {@code [n, d]} over d with the model's epsilon (ND4J's layer-norm op has no
     * epsilon parameter): (x - mean) / sqrt(var + eps) * gain + bias, var the biased variance.
     */
    static SDVariable layerNorm(SameDiff sd, SDVariable rows, SDVariable gain, SDVariable bias, double eps) {
        SDVariable centred = rows.sub(rows.mean(true, 1));
        SDVariable variance = centred.mul(centred).mean(true, 1);
        return centred.mul(sd.math().rsqrt(variance.add(eps))).mul(gain).add(bias);
    }

    /** transformers' gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
    static SDVariable geluNew(SameDiff sd, SDVariable x) {
        SDVariable cube = x.mul(x).mul(x);
        SDVariable inner = x.add(cube.mul(0.044715)).mul(GELU_SCALE);
        return x.mul(0.5).mul(sd.math().tanh(inner).add(1.0));
    }
}
