package io.sgdpo.nn.gpt2;

import io.sgdpo.nn.WholeModelPasses;
import java.util.Map;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.AddOp;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.MulOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * {@link Gpt2Model}'s forward and backward passes written out with libnd4j's ops ({@link
 * WholeModelPasses}) instead of run from its SameDiff graph, which stays the model's definition and
 * the path of what these passes do not take. The function is the graph's, by its ops in its order,
 * with these differences:
 * <ul>
 *   <li>The token embedding is a row lookup ({@link WholeModelPasses}).</li>
 *   <li>The layer norms' statistics are products by a column of 1/d ({@link
 *       WholeModelPasses#layerNorm}).</li>
 *   <li>The fused q/k/v projection's output is copied into query, key and value rows, whose heads
 *       the attention's products take where they lie ({@link WholeModelPasses#headProduct}).</li>
 * </ul>
 * The backward pass starts from what the training forward pass kept: SameDiff's ran the whole
 * forward pass again and kept every intermediate of both. T is the input's, any length up to the
 * model's: the positions are the table's first T rows.
 */
final class Gpt2Passes extends WholeModelPasses {

    private static final long serialVersionUID = 1L;
    private static final double GELU_SCALE = Math.sqrt(2 / Math.PI);
    private static final double GELU_CUBE = 0.044715;

    /** What a training forward pass keeps of one block: rows unless noted. */
    private static final class Kept {
        Normalised norm1;
        INDArray h;
        Attention attention;
        INDArray attended;
        Normalised norm2;
        INDArray h2;
        /** The MLP's input to gelu_new, {@code u = h2 W_fc + b}, and {@code tanh(sqrt(2/pi) (u + 0.044715 u^3))}. */
        INDArray u;
        INDArray tanh;
        /** {@code gelu_new(u)}, the projection's input. */
        INDArray activation;
    }

    private transient Kept[] blocks;
    private transient Normalised finalNorm;

    Gpt2Passes(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    private Gpt2Config config() {
        return ((Gpt2Model) layerConf()).config();
    }

    @Override
    protected String embeddingParam() {
        return Gpt2Model.WTE;
    }

    @Override
    protected String headParam() {
        return Gpt2Model.WTE;
    }

    @Override
    protected INDArray hiddenStates(INDArray x, ArrayType kept, LayerWorkspaceMgr mgr) {
        ArrayType keep = kept == null ? ArrayType.FF_WORKING_MEM : kept;
        ArrayType work = ArrayType.FF_WORKING_MEM;
        Gpt2Config c = config();
        DataType type = x.dataType();
        long n = x.size(0);
        int d = c.width();
        int length = passLength();
        INDArray byExample = x.reshape('c', n / length, length, d);
        Nd4j.exec(new AddOp(byExample, positions(getParam(Gpt2Model.WPE), length).reshape(1, length, d), byExample));
        Kept[] kepts = new Kept[c.layers()];
        for (int i = 0; i < c.layers(); i++) {
            Kept b = new Kept();
            b.h = newRows(mgr, keep, type, n, d);
            b.norm1 = layerNorm(x, param(i, Gpt2Block.LN1_GAIN), param(i, Gpt2Block.LN1_BIAS), b.h, c.layerNormEps(),
                    mgr, keep);
            INDArray qkv = conv1d(b.h, i, Gpt2Block.ATTN, Gpt2Block.ATTN_BIAS, newRows(mgr, work, type, n, 3L * d));
            INDArray q = newRows(mgr, keep, type, n, d).assign(qkv.get(NDArrayIndex.all(), NDArrayIndex.interval(0, d)))
                    .muli(queryScale(c));
            INDArray k = newRows(mgr, keep, type, n, d).assign(qkv.get(NDArrayIndex.all(), NDArrayIndex.interval(d,
                    2 * d)));
            INDArray v = newRows(mgr, keep, type, n, d).assign(qkv.get(NDArrayIndex.all(), NDArrayIndex.interval(2 * d,
                    3 * d)));
            b.attended = newRows(mgr, keep, type, n, d);
            b.attention = attend(q, k, v, c.heads(), b.attended, mgr, keep);
            x.addi(conv1d(b.attended, i, Gpt2Block.ATTN_PROJ, Gpt2Block.ATTN_PROJ_BIAS,
                    newRows(mgr, work, type, n, d)));

            b.h2 = newRows(mgr, keep, type, n, d);
            b.norm2 = layerNorm(x, param(i, Gpt2Block.LN2_GAIN), param(i, Gpt2Block.LN2_BIAS), b.h2, c.layerNormEps(),
                    mgr, keep);
            b.u = conv1d(b.h2, i, Gpt2Block.FC, Gpt2Block.FC_BIAS, newRows(mgr, keep, type, n, c.inner()));
            b.tanh = newRows(mgr, keep, type, n, c.inner());
            b.activation = newRows(mgr, keep, type, n, c.inner());
            geluNew(b.u, b.tanh, b.activation);
            x.addi(conv1d(b.activation, i, Gpt2Block.MLP_PROJ, Gpt2Block.MLP_PROJ_BIAS,
                    newRows(mgr, work, type, n, d)));
            kepts[i] = b;
        }
        INDArray normed = newRows(mgr, keep, type, n, d);
        Normalised last = layerNorm(x, getParam(Gpt2Model.LNF_GAIN), getParam(Gpt2Model.LNF_BIAS), normed,
                c.layerNormEps(), mgr, keep);
        if (kept != null) {
            blocks = kepts;
            finalNorm = last;
        }
        return normed;
    }

    @Override
    protected INDArray hiddenStatesBackward(INDArray dHidden, Map<String, INDArray> g, LayerWorkspaceMgr mgr) {
        ArrayType work = ArrayType.BP_WORKING_MEM;
        Gpt2Config c = config();
        DataType type = dHidden.dataType();
        long n = dHidden.size(0);
        int d = c.width();
        int length = passLength();
        INDArray dx = newRows(mgr, work, type, n, d);
        layerNormBackward(finalNorm, getParam(Gpt2Model.LNF_GAIN), dHidden, dx, g.get(Gpt2Model.LNF_GAIN),
                g.get(Gpt2Model.LNF_BIAS), mgr);
        INDArray branch = newRows(mgr, work, type, n, d);
        for (int i = c.layers() - 1; i >= 0; i--) {
            Kept b = blocks[i];
            // x2 = x1 + gelu_new(u) W_proj + b_proj,  u = h2 W_fc + b_fc
            INDArray du = conv1dBackward(b.activation, dx, i, Gpt2Block.MLP_PROJ, Gpt2Block.MLP_PROJ_BIAS, g,
                    newRows(mgr, work, type, n, c.inner()), 0.0);
            du.muli(geluNewSlope(b.u, b.tanh, newRows(mgr, work, type, n, c.inner()),
                    newRows(mgr, work, type, n, c.inner())));
            INDArray dh2 = conv1dBackward(b.h2, du, i, Gpt2Block.FC, Gpt2Block.FC_BIAS, g,
                    newRows(mgr, work, type, n, d), 0.0);
            dx.addi(layerNormBackward(b.norm2, param(i, Gpt2Block.LN2_GAIN), dh2, branch,
                    g.get(Gpt2Block.param(i, Gpt2Block.LN2_GAIN)), g.get(Gpt2Block.param(i, Gpt2Block.LN2_BIAS)), mgr));
            // x1 = x + attended W_attnproj + b,  q, k, v = h W_attn + b split in three, q scaled
            INDArray dAttended = conv1dBackward(b.attended, dx, i, Gpt2Block.ATTN_PROJ, Gpt2Block.ATTN_PROJ_BIAS, g,
                    newRows(mgr, work, type, n, d), 0.0);
            INDArray dqkv = newRows(mgr, work, type, n, 3L * d);
            INDArray dq = dqkv.get(NDArrayIndex.all(), NDArrayIndex.interval(0, d));
            INDArray dk = dqkv.get(NDArrayIndex.all(), NDArrayIndex.interval(d, 2 * d));
            INDArray dv = dqkv.get(NDArrayIndex.all(), NDArrayIndex.interval(2 * d, 3 * d));
            INDArray dQueries = newRows(mgr, work, type, n, d);
            INDArray dKeys = newRows(mgr, work, type, n, d);
            INDArray dValues = newRows(mgr, work, type, n, d);
            attendBackward(b.attention, dAttended, c.heads(), dQueries, dKeys, dValues, mgr);
            dq.assign(dQueries).muli(queryScale(c));
            dk.assign(dKeys);
            dv.assign(dValues);
            INDArray dh = conv1dBackward(b.h, dqkv, i, Gpt2Block.ATTN, Gpt2Block.ATTN_BIAS, g,
                    newRows(mgr, work, type, n, d), 0.0);
            dx.addi(layerNormBackward(b.norm1, param(i, Gpt2Block.LN1_GAIN), dh, branch,
                    g.get(Gpt2Block.param(i, Gpt2Block.LN1_GAIN)), g.get(Gpt2Block.param(i, Gpt2Block.LN1_BIAS)), mgr));
        }
        INDArray wpeGradient = g.get(Gpt2Model.WPE);
        wpeGradient.assign(0.0);
        dx.reshape('c', n / length, length, d).sum(positions(wpeGradient, length).reshape(length, d), 0);
        return dx;
    }

    @Override
    protected void forgetBlocks() {
        blocks = null;
        finalNorm = null;
    }

    /** The attention's factor on the queries, 1 / sqrt(head size) ({@link io.sgdpo.nn.CausalAttention#queryScale}). */
    private static double queryScale(Gpt2Config c) {
        return 1.0 / Math.sqrt(c.headSize());
    }

    private INDArray param(int block, String part) {
        return getParam(Gpt2Block.param(block, part));
    }

    /** The first T rows of the position table {@code [positions, d]} (or of its gradient). */
    private static INDArray positions(INDArray table, int length) {
        return table.get(NDArrayIndex.interval(0, length), NDArrayIndex.all());
    }

    /** GPT-2's Conv1D {@code in W + b} into {@code out}, W stored {@code [in, out]}. */
    private INDArray conv1d(INDArray in, int block, String weight, String bias, INDArray out) {
        return linear(in, param(block, weight), false, param(block, bias), out);
    }

    /** Of {@link #conv1d}: W's and b's gradients into {@code g}, and {@code dIn = keep dIn + dOut W^T}. */
    private INDArray conv1dBackward(INDArray in, INDArray dOut, int block, String weight, String bias,
                                    Map<String, INDArray> g, INDArray dIn, double keep) {
        return linearBackward(in, dOut, param(block, weight), false, g.get(Gpt2Block.param(block, weight)),
                g.get(Gpt2Block.param(block, bias)), dIn, keep);
    }

    /**
     * transformers' gelu_new of {@code u} into {@code out}, as {@link Gpt2Block#geluNew} computes it:
     * {@code t = tanh(sqrt(2/pi) (u + 0.044715 u^3))} into {@code tanh}, then {@code 0.5 u (1 + t)}.
     */
    private static void geluNew(INDArray u, INDArray tanh, INDArray out) {
        Nd4j.exec(new MulOp(u, u, tanh));
        tanh.muli(u).muli(GELU_CUBE).addi(u).muli(GELU_SCALE);
        Transforms.tanh(tanh, false);
        // (1 + t) u 0.5: the graph's 0.5 u (1 + t), as a factor 0.5 rounds the same anywhere
        out.assign(tanh).addi(1.0).muli(u).muli(0.5);
    }

    /**
     * gelu_new's derivative at {@code u} into {@code out}: {@code 0.5 (1 + t + u (1 - t^2)
     * sqrt(2/pi) (1 + 3 * 0.044715 u^2))}, t the kept tanh; {@code scratch} of the same shape.
     */
    private static INDArray geluNewSlope(INDArray u, INDArray tanh, INDArray out, INDArray scratch) {
        Nd4j.exec(new MulOp(tanh, tanh, scratch));
        scratch.rsubi(1.0);
        Nd4j.exec(new MulOp(u, u, out));
        out.muli(3 * GELU_CUBE).addi(1.0).muli(GELU_SCALE).muli(u).muli(scratch);
        return out.addi(tanh).addi(1.0).muli(0.5);
    }
}
