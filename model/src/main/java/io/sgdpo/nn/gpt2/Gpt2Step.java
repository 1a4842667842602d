package io.sgdpo.nn.gpt2;

import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.interval;

import io.sgdpo.nn.IncrementalDecoder;
import io.sgdpo.nn.KvCache;
import io.sgdpo.nn.StepProducts;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * {@link Gpt2Model}'s incremental step: the math of {@link Gpt2Block} (LayerNorm with the model's
 * epsilon, the fused c_attn projection, gelu_new), learned positions, ln_f and the head tied to
 * wte, on the graph's parameter arrays.
 */
public final class Gpt2Step extends IncrementalDecoder {

    private static final double GELU_SCALE = Math.sqrt(2 / Math.PI);

    private final Gpt2Config c;
    private final Map<String, INDArray> p;

    /**
     * @param c      the model's sizes
     * @param params its parameters by name ({@link Gpt2Model#defineParameters})
     */
    public Gpt2Step(Gpt2Config c, Map<String, INDArray> params) {
        this.c = c;
        this.p = params;
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
        return c.heads();
    }

    @Override
    protected int headSize() {
        return c.headSize();
    }

    @Override
    public int maxPositions() {
        return c.positions();
    }

    @Override
    protected DataType dataType() {
        return p.get(Gpt2Model.WTE).dataType();
    }

    @Override
    protected INDArray hidden(KvCache cache, int[] ids, int[] positions) {
        INDArray x = Nd4j.pullRows(p.get(Gpt2Model.WTE), 1, ids).addi(Nd4j.pullRows(p.get(Gpt2Model.WPE), 1, positions));
        int d = c.width();
        double queryScale = 1.0 / Math.sqrt(c.headSize());
        for (int i = 0; i < c.layers(); i++) {
            INDArray h = layerNorm(x, param(i, Gpt2Block.LN1_GAIN), param(i, Gpt2Block.LN1_BIAS));
            INDArray qkv = conv1d(h, param(i, Gpt2Block.ATTN), param(i, Gpt2Block.ATTN_BIAS));
            INDArray q = qkv.get(all(), interval(0, d)).mul(queryScale);
            INDArray k = qkv.get(all(), interval(d, 2 * d)).dup('c');
            INDArray v = qkv.get(all(), interval(2 * d, 3 * d)).dup('c');
            x.addi(conv1d(cache.attend(i, q, k, v), param(i, Gpt2Block.ATTN_PROJ), param(i, Gpt2Block.ATTN_PROJ_BIAS)));
            INDArray h2 = layerNorm(x, param(i, Gpt2Block.LN2_GAIN), param(i, Gpt2Block.LN2_BIAS));
            INDArray inner = geluNew(conv1d(h2, param(i, Gpt2Block.FC), param(i, Gpt2Block.FC_BIAS)));
            x.addi(conv1d(inner, param(i, Gpt2Block.MLP_PROJ), param(i, Gpt2Block.MLP_PROJ_BIAS)));
        }
        return layerNorm(x, p.get(Gpt2Model.LNF_GAIN), p.get(Gpt2Model.LNF_BIAS));
    }

    @Override
    protected INDArray head(INDArray hidden) {
        return StepProducts.timesTransposed(hidden, p.get(Gpt2Model.WTE));
    }

    private INDArray param(int block, String part) {
        return p.get(Gpt2Block.param(block, part));
    }

    /** GPT-2's Conv1D: {@code x W + b}, W {@code [in, out]}. */
    private static INDArray conv1d(INDArray rows, INDArray weight, INDArray bias) {
        return StepProducts.affine(rows, weight, bias);
    }

    /** LayerNorm over d: (x - mean) / sqrt(var + eps) * gain + bias, var the biased variance. */
    private INDArray layerNorm(INDArray rows, INDArray gain, INDArray bias) {
        INDArray centred = rows.subColumnVector(rows.mean(true, 1));
        INDArray deviation = Transforms.sqrt(centred.mul(centred).mean(true, 1).addi(c.layerNormEps()), false);
        return centred.diviColumnVector(deviation).muliRowVector(gain).addiRowVector(bias);
    }

    /** transformers' gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
    private static INDArray geluNew(INDArray x) {
        INDArray inner = x.mul(x).muli(x).muli(0.044715).addi(x).muli(GELU_SCALE);
        return Transforms.tanh(inner, false).addi(1.0).muli(x).muli(0.5);
    }
}
