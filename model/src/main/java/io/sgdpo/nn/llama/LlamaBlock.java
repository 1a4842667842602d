package io.sgdpo.nn.llama;

import io.sgdpo.nn.CausalAttention;
import io.sgdpo.nn.LanguageModelLayer;
import java.util.Map;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;

/**
 * One Llama decoder block over rows {@code [mb*T, d]} (transformers' LlamaDecoderLayer):
 * <pre>
 *   x = x + o_proj(attention(rope(q_proj(h)), rope(k_proj(h)), v_proj(h))),   h = RMSNorm(x)
 *   x = x + down_proj(silu(gate_proj(h2)) * up_proj(h2)),                   h2 = RMSNorm(x)
 * </pre>
 * Weights are stored {@code [out, in]} as torch's nn.Linear, so they are the checkpoint's tensors
 * as they are. Parameter names: {@code l<i><Part>}, e.g. {@code l0Q} ({@link #param}).
 */
final class LlamaBlock {

    static final String ATTN_NORM = "AttnNorm";
    static final String Q = "Q";
    static final String K = "K";
    static final String V = "V";
    static final String Q_BIAS = "QBias";
    static final String K_BIAS = "KBias";
    static final String V_BIAS = "VBias";
    static final String O = "O";
    static final String MLP_NORM = "MlpNorm";
    static final String GATE = "Gate";
    static final String UP = "Up";
    static final String DOWN = "Down";

    private LlamaBlock() {
    }

    /** The name of parameter {@code part} of block {@code index}. */
    static String param(int index, String part) {
        return "l" + index + part; // no '_': DL4J splits "layer_param" keys at the last '_'

    }

    static SDVariable apply(SameDiff sd, SDVariable x, Map<String, SDVariable> p, int index, LlamaConfig c,
                            Rope rope, CausalAttention attention) {
        SDVariable h = rmsNorm(sd, x, p.get(param(index, ATTN_NORM)), c.rmsNormEps());
        SDVariable q = LanguageModelLayer.linear(sd, h, p.get(param(index, Q)), p.get(param(index, Q_BIAS)));
        SDVariable k = LanguageModelLayer.linear(sd, h, p.get(param(index, K)), p.get(param(index, K_BIAS)));
        SDVariable v = LanguageModelLayer.linear(sd, h, p.get(param(index, V)), p.get(param(index, V_BIAS)));
        SDVariable attended = attention.apply(sd, rope.applyToQueries(q, c.heads()), rope.apply(k, c.kvHeads()), v);
        x = x.add(LanguageModelLayer.linear(sd, attended, p.get(param(index, O)), null));

        SDVariable h2 = rmsNorm(sd, x, p.get(param(index, MLP_NORM)), c.rmsNormEps());
        SDVariable gate = LanguageModelLayer.linear(sd, h2, p.get(param(index, GATE)), null);
        SDVariable up = LanguageModelLayer.linear(sd, h2, p.get(param(index, UP)), null);
        SDVariable silu = gate.mul(sd.nn().sigmoid(gate));
        return x.add(LanguageModelLayer.linear(sd, silu.mul(up), p.get(param(index, DOWN)), null));
    }

    /** RMSNorm of rows {@code [n, d]}: x / sqrt(mean(x^2) + eps) * gain, gain {@code [1, d]}. */
    static SDVariable rmsNorm(SameDiff sd, SDVariable rows, SDVariable gain, double eps) {
        SDVariable meanSquare = rows.mul(rows).mean(true, 1);
        return rows.mul(sd.math().rsqrt(meanSquare.add(eps))).mul(gain);
    }
}
