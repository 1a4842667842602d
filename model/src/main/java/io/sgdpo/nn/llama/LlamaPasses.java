package io.sgdpo.nn.llama;

import io.sgdpo.nn.WholeModelPasses;
import java.util.Map;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.floating.RSqrt;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.MulOp;
import org.nd4j.linalg.api.ops.impl.transforms.strict.Sigmoid;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * {@link LlamaModel}'s forward and backward passes written out with libnd4j's ops ({@link
 * WholeModelPasses}) instead of run from its SameDiff graph, which stays the model's definition and
 * the path of what these passes do not take. The function is the graph's, by its ops in its order,
 * with these differences:
 * <ul>
 *   <li>The embedding is a row lookup ({@link WholeModelPasses}).</li>
 *   <li>RMSNorm's mean square is a product by a column of 1/d ({@link WholeModelPasses#rowMeans}).</li>
 *   <li>Grouped key/value heads are repeated for their query heads, as transformers' {@code
 *       repeat_kv} does, and the repeated heads' gradients summed back; the attention's products go
 *       head by head to CBLAS where {@link WholeModelPasses#headProduct} can.</li>
 * </ul>
 * The backward pass starts from what the training forward pass kept: SameDiff's ran the whole
 * forward pass again and kept every intermediate of both. T is the input's, any length up to the
 * model's: the rotary tables are built for the pass's positions.
 */
final class LlamaPasses extends WholeModelPasses {

    private static final long serialVersionUID = 1L;

    /** An RMSNorm's input rows divided by their root mean square, and each row's 1 / rms {@code [n, 1]}. */
    private record Rms(INDArray normed, INDArray inverse) {
    }

    /** What a training forward pass keeps of one block: rows unless noted. */
    private static final class Kept {
        Rms attentionNorm;
        INDArray h;
        /** Queries after the rotation (and the attention's scale), keys after it and values, heads repeated. */
        Attention attention;
        INDArray attended;
        Rms mlpNorm;
        INDArray h2;
        INDArray gate;
        INDArray sigmoid;
        INDArray up;
        /** {@code silu(gate) * up}, the down projection's input. */
        INDArray product;
    }

    private transient Kept[] blocks;
    private transient Rms finalNorm;

    /** Rotary tables {@code [1, T, width]} of the last pass's T and type, for queries (scaled) and keys. */
    private transient INDArray queryCos;
    private transient INDArray querySin;
    private transient INDArray keyCos;
    private transient INDArray keySin;
    private transient INDArray rotateHalf;

    LlamaPasses(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    private LlamaModel model() {
        return (LlamaModel) layerConf();
    }

    @Override
    protected String embeddingParam() {
        return LlamaModel.EMBED;
    }

    @Override
    protected String headParam() {
        return model().isTiedEmbeddings() ? LlamaModel.EMBED : LlamaModel.HEAD;
    }

    @Override
    protected INDArray hiddenStates(INDArray x, ArrayType kept, LayerWorkspaceMgr mgr) {
        ArrayType keep = kept == null ? ArrayType.FF_WORKING_MEM : kept;
        ArrayType work = ArrayType.FF_WORKING_MEM;
        LlamaConfig c = model().config();
        DataType type = x.dataType();
        long n = x.size(0);
        int d = c.hiddenSize();
        int width = c.heads() * c.headDim();
        int rep = c.heads() / c.kvHeads();
        rotaryTables(c, passLength(), type);
        Kept[] kepts = new Kept[c.layers()];
        int kvWidth = c.kvHeads() * c.headDim();
        for (int i = 0; i < c.layers(); i++) {
            Kept b = new Kept();
            b.h = newRows(mgr, keep, type, n, d);
            b.attentionNorm = rmsNorm(x, param(i, LlamaBlock.ATTN_NORM), b.h, c.rmsNormEps(), mgr, keep);
            INDArray q = linear(b.h, i, LlamaBlock.Q, LlamaBlock.Q_BIAS, newRows(mgr, work, type, n, width));
            INDArray queries = rotate(q, queryCos, querySin, newRows(mgr, keep, type, n, width), mgr, work);
            INDArray k = linear(b.h, i, LlamaBlock.K, LlamaBlock.K_BIAS, newRows(mgr, work, type, n, kvWidth));
            INDArray rotatedK = rotate(k, keyCos, keySin, newRows(mgr, rep == 1 ? keep : work, type, n, kvWidth),
                    mgr, work);
            INDArray v = linear(b.h, i, LlamaBlock.V, LlamaBlock.V_BIAS, newRows(mgr, rep == 1 ? keep : work, type,
                    n, kvWidth));
            b.attended = newRows(mgr, keep, type, n, width);
            b.attention = attend(queries, repeatKv(rotatedK, rep, mgr, keep), repeatKv(v, rep, mgr, keep), c.heads(),
                    b.attended, mgr, keep);
            x.addi(linear(b.attended, i, LlamaBlock.O, null, newRows(mgr, work, type, n, d)));

            b.h2 = newRows(mgr, keep, type, n, d);
            b.mlpNorm = rmsNorm(x, param(i, LlamaBlock.MLP_NORM), b.h2, c.rmsNormEps(), mgr, keep);
            int ffn = c.intermediateSize();
            b.gate = linear(b.h2, i, LlamaBlock.GATE, null, newRows(mgr, keep, type, n, ffn));
            b.up = linear(b.h2, i, LlamaBlock.UP, null, newRows(mgr, keep, type, n, ffn));
            b.sigmoid = newRows(mgr, keep, type, n, ffn);
            Nd4j.exec(new Sigmoid(b.gate, b.sigmoid));
            b.product = newRows(mgr, keep, type, n, ffn);
            Nd4j.exec(new MulOp(b.gate, b.sigmoid, b.product));
            b.product.muli(b.up);
            x.addi(linear(b.product, i, LlamaBlock.DOWN, null, newRows(mgr, work, type, n, d)));
            kepts[i] = b;
        }
        INDArray normed = newRows(mgr, keep, type, n, d);
        Rms last = rmsNorm(x, getParam(LlamaModel.NORM), normed, c.rmsNormEps(), mgr, keep);
        if (kept != null) {
            blocks = kepts;
            finalNorm = last;
        }
        return normed;
    }

    @Override
    protected INDArray hiddenStatesBackward(INDArray dHidden, Map<String, INDArray> g, LayerWorkspaceMgr mgr) {
        ArrayType work = ArrayType.BP_WORKING_MEM;
        LlamaConfig c = model().config();
        DataType type = dHidden.dataType();
        long n = dHidden.size(0);
        int d = c.hiddenSize();
        int width = c.heads() * c.headDim();
        int kvWidth = c.kvHeads() * c.headDim();
        int rep = c.heads() / c.kvHeads();
        INDArray dx = newRows(mgr, work, type, n, d);
        rmsNormBackward(finalNorm, getParam(LlamaModel.NORM), dHidden, dx, g.get(LlamaModel.NORM), mgr);
        INDArray branch = newRows(mgr, work, type, n, d);
        for (int i = c.layers() - 1; i >= 0; i--) {
            Kept b = blocks[i];
            int ffn = c.intermediateSize();
            // x2 = x1 + (silu(gate) up) Wd^T
            INDArray dProduct = linearBackward(b.product, dx, i, LlamaBlock.DOWN, null, g,
                    newRows(mgr, work, type, n, ffn), 0.0);
            INDArray silu = newRows(mgr, work, type, n, ffn);
            Nd4j.exec(new MulOp(b.gate, b.sigmoid, silu));
            INDArray dUp = silu.muli(dProduct);
            // d silu / d gate = s (1 + gate (1 - s))
            INDArray dGate = b.sigmoid.rsub(1.0, newRows(mgr, work, type, n, ffn)).muli(b.gate).addi(1.0)
                    .muli(b.sigmoid).muli(b.up).muli(dProduct);
            INDArray dh2 = newRows(mgr, work, type, n, d);
            linearBackward(b.h2, dGate, i, LlamaBlock.GATE, null, g, dh2, 0.0);
            linearBackward(b.h2, dUp, i, LlamaBlock.UP, null, g, dh2, 1.0);
            dx.addi(rmsNormBackward(b.mlpNorm, param(i, LlamaBlock.MLP_NORM), dh2, branch,
                    g.get(LlamaBlock.param(i, LlamaBlock.MLP_NORM)), mgr));
            // x1 = x + attended Wo^T
            INDArray dAttended = linearBackward(b.attended, dx, i, LlamaBlock.O, null, g,
                    newRows(mgr, work, type, n, width), 0.0);
            INDArray dQueries = newRows(mgr, work, type, n, width);
            INDArray dKeys = newRows(mgr, work, type, n, width);
            INDArray dValues = newRows(mgr, work, type, n, width);
            attendBackward(b.attention, dAttended, c.heads(), dQueries, dKeys, dValues, mgr);
            INDArray dh = newRows(mgr, work, type, n, d);
            INDArray dq = unrotate(dQueries, queryCos, querySin, newRows(mgr, work, type, n, width), mgr);
            linearBackward(b.h, dq, i, LlamaBlock.Q, LlamaBlock.Q_BIAS, g, dh, 0.0);
            INDArray dk = unrotate(sumGroups(dKeys, rep, mgr), keyCos, keySin, newRows(mgr, work, type, n, kvWidth),
                    mgr);
            linearBackward(b.h, dk, i, LlamaBlock.K, LlamaBlock.K_BIAS, g, dh, 1.0);
            linearBackward(b.h, sumGroups(dValues, rep, mgr), i, LlamaBlock.V, LlamaBlock.V_BIAS, g, dh, 1.0);
            dx.addi(rmsNormBackward(b.attentionNorm, param(i, LlamaBlock.ATTN_NORM), dh, branch,
                    g.get(LlamaBlock.param(i, LlamaBlock.ATTN_NORM)), mgr));
        }
        return dx;
    }

    @Override
    protected void forgetBlocks() {
        blocks = null;
        finalNorm = null;
    }

    private INDArray param(int block, String part) {
        return getParam(LlamaBlock.param(block, part));
    }

    /** {@code in W^T (+ b)} into {@code out}, W {@code [out, in]} as torch's nn.Linear; b null: none. */
    private INDArray linear(INDArray in, int block, String weight, String bias, INDArray out) {
        return linear(in, param(block, weight), true, bias == null ? null : param(block, bias), out);
    }

    /** Of {@link #linear}: W's (and b's) gradient into {@code g}, and {@code dIn = keep dIn + dOut W}. */
    private INDArray linearBackward(INDArray in, INDArray dOut, int block, String weight, String bias,
                                    Map<String, INDArray> g, INDArray dIn, double keep) {
        return linearBackward(in, dOut, param(block, weight), true, g.get(LlamaBlock.param(block, weight)),
                bias == null ? null : g.get(LlamaBlock.param(block, bias)), dIn, keep);
    }

    /** Rows {@code x} divided by their root mean square (plus eps), times the gain {@code [1, d]}, into {@code out}. */
    private Rms rmsNorm(INDArray x, INDArray gain, INDArray out, double eps, LayerWorkspaceMgr mgr, ArrayType type) {
        INDArray normed = mgr.createUninitialized(type, x.dataType(), x.shape(), 'c');
        INDArray inverse = mgr.createUninitialized(type, x.dataType(), new long[] {x.size(0), 1}, 'c');
        Nd4j.exec(new MulOp(x, x, out));
        rowMeans(out, inverse).addi(eps);
        Nd4j.exec(new RSqrt(inverse, inverse));
        normed.assign(x).muliColumnVector(inverse);
        Nd4j.exec(new MulOp(normed, gain, out));
        return new Rms(normed, inverse);
    }

    /**
     * Of {@link #rmsNorm}: the gain's gradient into {@code dGain} and the input's into {@code dIn}
     * from the output's {@code dOut}; uses up {@code rms}:
     * <pre>
     *   x^ = x / rms,   dx^ = dOut g,   dIn = (dx^ - x^ mean(dx^ x^)) / rms,   dGain = sum over rows of dOut x^
     * </pre>
     */
    private INDArray rmsNormBackward(Rms rms, INDArray gain, INDArray dOut, INDArray dIn, INDArray dGain,
                                     LayerWorkspaceMgr mgr) {
        INDArray normed = rms.normed();
        ArrayType work = ArrayType.BP_WORKING_MEM;
        INDArray perRow = mgr.createUninitialized(work, normed.dataType(), new long[] {normed.size(0), 1}, 'c');
        INDArray dNormed = mgr.createUninitialized(work, normed.dataType(), normed.shape(), 'c');
        Nd4j.exec(new MulOp(dOut, normed, dNormed));
        columnSums(dNormed, dGain);
        Nd4j.exec(new MulOp(dOut, gain, dNormed));
        Nd4j.exec(new MulOp(dNormed, normed, dIn)); // dIn holds dx^ x^ until its row means are taken
        normed.muliColumnVector(rowMeans(dIn, perRow));
        return dIn.assign(dNormed).subi(normed).muliColumnVector(rms.inverse());
    }

    /**
     * Rows {@code [mb*T, heads*headDim]} rotated by their positions' angles into {@code out}: {@code
     * x cos + (x R) sin} ({@link Rope}), the tables {@code [1, T, heads*headDim]}.
     */
    private INDArray rotate(INDArray x, INDArray cos, INDArray sin, INDArray out, LayerWorkspaceMgr mgr,
                            ArrayType work) {
        int headDim = model().getHeadDim();
        INDArray rotated = product(x.reshape('c', -1, headDim), rotateHalf, false,
                mgr.createUninitialized(work, x.dataType(), new long[] {x.length() / headDim, headDim}, 'c'));
        Nd4j.exec(new MulOp(byExample(x, cos), cos, byExample(out, cos)));
        INDArray rotatedByExample = byExample(rotated.reshape('c', x.shape()), sin);
        Nd4j.exec(new MulOp(rotatedByExample, sin, rotatedByExample));
        return out.addi(rotated.reshape('c', x.shape()));
    }

    /** Of {@link #rotate}: {@code dIn = dOut cos + (dOut sin) R^T} into {@code dIn}. */
    private INDArray unrotate(INDArray dOut, INDArray cos, INDArray sin, INDArray dIn, LayerWorkspaceMgr mgr) {
        int headDim = model().getHeadDim();
        INDArray scaled = mgr.createUninitialized(ArrayType.BP_WORKING_MEM, dOut.dataType(), dOut.shape(), 'c');
        Nd4j.exec(new MulOp(byExample(dOut, sin), sin, byExample(scaled, sin)));
        Nd4j.exec(new MulOp(byExample(dOut, cos), cos, byExample(dIn, cos)));
        product(scaled.reshape('c', -1, headDim), false, rotateHalf, true, dIn.reshape('c', -1, headDim), 1.0, 1.0);
        return dIn;
    }

    /** Rows {@code [mb*T, w]} as {@code [mb, T, w]}, to broadcast a table {@code [1, T, w]} over the examples. */
    private static INDArray byExample(INDArray rows, INDArray table) {
        return rows.reshape('c', rows.size(0) / table.size(1), table.size(1), rows.size(1));
    }

    /** Key or value rows with each head repeated for its {@code rep} query heads (transformers' {@code repeat_kv}). */
    private INDArray repeatKv(INDArray rows, int rep, LayerWorkspaceMgr mgr, ArrayType type) {
        if (rep == 1) {
            return rows;
        }
        int headDim = model().getHeadDim();
        long n = rows.size(0);
        long kvHeads = rows.size(1) / headDim;
        INDArray repeated = newRows(mgr, type, rows.dataType(), n, rows.size(1) * rep);
        INDArray grouped = repeated.reshape('c', n, kvHeads, rep, headDim);
        INDArray source = rows.reshape('c', n, kvHeads, headDim);
        for (int r = 0; r < rep; r++) {
            grouped.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.point(r), NDArrayIndex.all())
                    .assign(source);
        }
        return repeated;
    }

    /** Of {@link #repeatKv}: the gradients of each key/value head's {@code rep} copies summed. */
    private INDArray sumGroups(INDArray rows, int rep, LayerWorkspaceMgr mgr) {
        if (rep == 1) {
            return rows;
        }
        int headDim = model().getHeadDim();
        long n = rows.size(0);
        long kvHeads = rows.size(1) / headDim / rep;
        INDArray sums = newRows(mgr, ArrayType.BP_WORKING_MEM, rows.dataType(), n, kvHeads * headDim);
        rows.reshape('c', n, kvHeads, rep, headDim).sum(sums.reshape('c', n, kvHeads, headDim), 2);
        return sums;
    }

    /** The rotary tables of T positions, and the rotation's permutation, kept for the next pass of this T and type. */
    private void rotaryTables(LlamaConfig c, int length, DataType type) {
        if (queryCos != null && queryCos.dataType() == type && queryCos.size(1) == length) {
            return;
        }
        try (MemoryWorkspace none = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            double[][] angles = Rope.cosinesAndSines(c.headDim(), length, c.ropeTheta());
            double queryScale = 1.0 / Math.sqrt(c.headDim());
            queryCos = table(angles[0], c.heads(), c.headDim(), length, queryScale, type);
            querySin = table(angles[1], c.heads(), c.headDim(), length, queryScale, type);
            keyCos = table(angles[0], c.kvHeads(), c.headDim(), length, 1.0, type);
            keySin = table(angles[1], c.kvHeads(), c.headDim(), length, 1.0, type);
            rotateHalf = Rope.rotateHalf(c.headDim(), type);
        }
    }

    /** {@code [1, T, heads*headDim]}: each position's values {@code [headDim]} for every head, times {@code scale}. */
    private static INDArray table(double[] values, int heads, int headDim, int length, double scale, DataType type) {
        double[] tiled = new double[length * heads * headDim];
        for (int t = 0; t < length; t++) {
            for (int head = 0; head < heads; head++) {
                System.arraycopy(values, t * headDim, tiled, (t * heads + head) * headDim, headDim);
            }
        }
        return Nd4j.create(tiled, new long[] {1, length, (long) heads * headDim}, 'c').muli(scale).castTo(type);
    }
}
