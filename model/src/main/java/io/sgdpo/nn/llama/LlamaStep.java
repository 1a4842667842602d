package io.sgdpo.nn.llama;

import io.sgdpo.nn.IncrementalDecoder;
import io.sgdpo.nn.KvCache;
import io.sgdpo.nn.StepProducts;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * {@link LlamaModel}'s incremental step: the math of {@link LlamaBlock} (RMSNorm, q/k/v with their
 * optional biases, rotary positions in the rotate-half layout, grouped-query attention, SwiGLU), the
 * final RMSNorm and the head, tied or untied, on the graph's parameter arrays. The rotation angles
 * are {@link Rope}'s, computed for the positions of the step only (a model may allow tens of
 * thousands).
 */
public final class LlamaStep extends IncrementalDecoder {

    private final LlamaConfig c;
    private final Map<String, INDArray> p;
    private final INDArray rotateHalf; // [headDim, headDim]: x R = (-x[n/2:], x[:n/2])
    private final double[] frequencies; // per dimension j of a head: theta^(-2 (j mod n/2) / n)

    /**
     * @param c      the model's sizes
     * @param params its parameters by name ({@link LlamaModel#defineParameters})
     */
    public LlamaStep(LlamaConfig c, Map<String, INDArray> params) {
        this.c = c;
        this.p = params;
        int n = c.headDim();
        int half = n / 2;
        double[] permutation = new double[n * n];
        for (int j = 0; j < half; j++) {
            permutation[(j + half) * n + j] = -1;
            permutation[j * n + j + half] = 1;
        }
        this.rotateHalf = Nd4j.create(permutation, new long[] {n, n}, 'c').castTo(dataType());
        this.frequencies = new double[n];
        for (int j = 0; j < n; j++) {
            frequencies[j] = Math.pow(c.ropeTheta(), -2.0 * (j % half) / n);
        }
    }

    @Override
    protected int layers() {
        return c.layers();
    }

    @Override
    protected int heads() {
        return c.heads();
    }

    @Override
    protected int kvHeads() {
        return c.kvHeads();
    }

    @Override
    protected int headSize() {
        return c.headDim();
    }

    @Override
    public int maxPositions() {
        return c.maxPositions();
    }

    @Override
    protected DataType dataType() {
        return p.get(LlamaModel.EMBED).dataType();
    }

    @Override
    protected INDArray hidden(KvCache cache, int[] ids, int[] positions) {
        INDArray x = Nd4j.pullRows(p.get(LlamaModel.EMBED), 1, ids);
        double queryScale = 1.0 / Math.sqrt(c.headDim());
        INDArray[] angles = angles(positions, 1.0);
        INDArray[] queryAngles = angles(positions, queryScale);
        for (int i = 0; i < c.layers(); i++) {
            INDArray h = rmsNorm(x, param(i, LlamaBlock.ATTN_NORM));
            INDArray q = linear(h, param(i, LlamaBlock.Q), param(i, LlamaBlock.Q_BIAS));
            INDArray k = linear(h, param(i, LlamaBlock.K), param(i, LlamaBlock.K_BIAS));
            INDArray v = linear(h, param(i, LlamaBlock.V), param(i, LlamaBlock.V_BIAS));
            INDArray attended = cache.attend(i, rotate(q, c.heads(), queryAngles), rotate(k, c.kvHeads(), angles), v);
            x.addi(linear(attended, param(i, LlamaBlock.O), null));
            INDArray h2 = rmsNorm(x, param(i, LlamaBlock.MLP_NORM));
            INDArray gate = linear(h2, param(i, LlamaBlock.GATE), null);
            INDArray up = linear(h2, param(i, LlamaBlock.UP), null);
            INDArray swiglu = gate.muli(Transforms.sigmoid(gate, true)).muli(up);
            x.addi(linear(swiglu, param(i, LlamaBlock.DOWN), null));
        }
        return rmsNorm(x, p.get(LlamaModel.NORM));
    }

    @Override
    protected INDArray head(INDArray hidden) {
        return linear(hidden, p.get(c.tiedEmbeddings() ? LlamaModel.EMBED : LlamaModel.HEAD), null);
    }

    private INDArray param(int block, String part) {
        return p.get(LlamaBlock.param(block, part));
    }

    /** cos and sin {@code [m, 1, headDim]} of each position's angles, times {@code scale}. */
    private INDArray[] angles(int[] positions, double scale) {
        int n = c.headDim();
        double[] cos = new double[positions.length * n];
        double[] sin = new double[positions.length * n];
        for (int t = 0; t < positions.length; t++) {
            for (int j = 0; j < n; j++) {
                double angle = positions[t] * frequencies[j];
                cos[t * n + j] = Math.cos(angle) * scale;
                sin[t * n + j] = Math.sin(angle) * scale;
            }
        }
        long[] shape = {positions.length, 1, n};
        return new INDArray[] {Nd4j.create(cos, shape, 'c').castTo(dataType()),
                Nd4j.create(sin, shape, 'c').castTo(dataType())};
    }

    /** Rows {@code [m, heads*headDim]} rotated: x cos + rotate_half(x) sin, per head. */
    private INDArray rotate(INDArray rows, int heads, INDArray[] angles) {
        long m = rows.size(0);
        int n = c.headDim();
        INDArray x = rows.reshape(m, heads, n);
        INDArray rotated = StepProducts.times(rows.reshape(m * heads, n), rotateHalf).reshape(m, heads, n);
        return x.mul(angles[0]).addi(rotated.muli(angles[1])).reshape(m, (long) heads * n);
    }

    /** RMSNorm of rows {@code [m, d]}: x / sqrt(mean(x^2) + eps) * gain. */
    private INDArray rmsNorm(INDArray rows, INDArray gain) {
        INDArray rms = Transforms.sqrt(rows.mul(rows).mean(true, 1).addi(c.rmsNormEps()), false);
        return rows.divColumnVector(rms).muliRowVector(gain);
    }

    /** {@code x W^T (+ b)}, W {@code [out, in]} as torch's nn.Linear. */
    private static INDArray linear(INDArray rows, INDArray weight, INDArray bias) {
        INDArray y = StepProducts.timesTransposed(rows, weight);
        return bias == null ? y : y.addiRowVector(bias);
    }
}
