package io.sgdpo.nn;

import java.util.Map;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.samediff.SDLayerParams;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.AddOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

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
 *
 * <p>DL4J runs the block as {@link Impl}: these passes written out with libnd4j's ops.
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
    protected DirectPasses directPasses(NeuralNetConfiguration conf, DataType networkDataType) {
        return new Impl(conf, networkDataType);
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

    /**
     * The block's passes written out ({@link DirectPasses}): the function of {@link #defineBody},
     * by its ops in its order but for the layer norms ({@link DirectPasses#layerNorm}) and the GELU
     * (libnd4j's {@code gelu} took 1.6 ms and its derivative 3.2 on {@code [1024, 1024]}, bench-peer's
     * mid shape: here {@code sigmoid(1.702 u)} is kept and the derivative is {@code s + 1.702 a (1 -
     * s)}, a few element-wise ops). The backward pass: the products' transposes, the biases'
     * gradients as {@link DirectPasses#columnSums}, the softmax's gradient {@code w (g - sum(g w))}
     * from the kept attention weights; the scores' scale enters the products of the queries' and
     * keys' gradients as their factor. The attention's products take each head's block of the query,
     * key and value rows where it lies ({@link HeadProducts}), so the rows are kept as they are.
     */
    static final class Impl extends DirectPasses {

        private static final long serialVersionUID = 1L;
        /**
         * libnd4j's GELU is {@code u sigmoid(1.702 u)} with 1.702 as a float32 constant, in double
         * precision too (it computes the same values in double only with this one).
         */
        private static final double GELU_SLOPE = 1.702f;

        /** What a training forward pass keeps: rows {@code [n, d]} unless noted; the layer norms' statistics. */
        private transient Normalised norm1;
        private transient INDArray h;
        private transient INDArray queries;
        private transient INDArray keys;
        private transient INDArray values;
        /** The attention weights {@code [mb*h, T, T]}, after the softmax. */
        private transient INDArray weights;
        private transient INDArray merged;
        private transient Normalised norm2;
        private transient INDArray h2;
        /** The MLP's {@code sigmoid(1.702 u)} and activation {@code a = u sigmoid(1.702 u)}, {@code [n, 4d]}. */
        private transient INDArray sigmoid;
        private transient INDArray a;

        Impl(NeuralNetConfiguration conf, DataType dataType) {
            super(conf, dataType);
        }

        private TransformerBlock block() {
            return (TransformerBlock) layerConf();
        }

        @Override
        protected void forward(INDArray rows, INDArray out, ArrayType kept, LayerWorkspaceMgr mgr) {
            ArrayType keep = kept == null ? ArrayType.FF_WORKING_MEM : kept;
            ArrayType work = ArrayType.FF_WORKING_MEM;
            TransformerBlock b = block();
            long n = rows.size(0);
            int d = b.modelWidth;
            INDArray hNorm = mgr.createUninitialized(keep, rows.dataType(), new long[] {n, d}, 'c');
            Normalised normalised1 = layerNorm(rows, getParam("gln1"), getParam("bln1"), hNorm, mgr, keep);
            long[] rowsShape = {n, d};
            INDArray q = linear(hNorm, "wq", "bq", mgr.createUninitialized(keep, rows.dataType(), rowsShape, 'c'));
            INDArray k = linear(hNorm, "wk", "bk", mgr.createUninitialized(keep, rows.dataType(), rowsShape, 'c'));
            INDArray v = linear(hNorm, "wv", "bv", mgr.createUninitialized(keep, rows.dataType(), rowsShape, 'c'));
            int length = passLength();
            INDArray w = mgr.createUninitialized(keep, rows.dataType(), new long[] {n / length * b.heads, length,
                    length}, 'c');
            headProduct(q, false, k, true, w, scale(), mgr, work);
            Nd4j.exec(new AddOp(w, causalMask(length, rows.dataType()), w));
            Nd4j.exec(new SoftMax(w, w, 2));
            INDArray m = headProduct(w, false, v, false, mgr.createUninitialized(keep, rows.dataType(), rowsShape, 'c'),
                    1.0, mgr, work);
            INDArray afterAttention = linear(m, "wo", "bo", mgr.createUninitialized(work, rows.dataType(),
                    new long[] {n, d}, 'c')).addi(rows);
            INDArray hNorm2 = mgr.createUninitialized(keep, rows.dataType(), new long[] {n, d}, 'c');
            Normalised normalised2 = layerNorm(afterAttention, getParam("gln2"), getParam("bln2"), hNorm2, mgr, keep);
            INDArray pre = linear(hNorm2, "w1", "b1", mgr.createUninitialized(work, rows.dataType(),
                    new long[] {n, b.hidden}, 'c'));
            INDArray gate = mgr.createUninitialized(keep, rows.dataType(), new long[] {n, b.hidden}, 'c');
            Transforms.sigmoid(pre.mul(GELU_SLOPE, gate), false);
            INDArray act = pre.mul(gate, mgr.createUninitialized(keep, rows.dataType(), new long[] {n, b.hidden}, 'c'));
            linear(act, "w2", "b2", out).addi(afterAttention);
            if (kept != null) {
                norm1 = normalised1;
                h = hNorm;
                queries = q;
                keys = k;
                values = v;
                weights = w;
                merged = m;
                norm2 = normalised2;
                h2 = hNorm2;
                sigmoid = gate;
                a = act;
            }
        }

        @Override
        protected void backward(INDArray dy, INDArray dx, Map<String, INDArray> g, LayerWorkspaceMgr mgr) {
            ArrayType work = ArrayType.BP_WORKING_MEM;
            DataType type = dy.dataType();
            long n = dy.size(0);
            int d = block().modelWidth;
            // y = x1 + gelu(u) W2 + b2, u = h2 W1 + b1
            INDArray du = linearBackward(a, dy, "w2", "b2", g, mgr.createUninitialized(work, type,
                    new long[] {n, block().hidden}, 'c'));
            // a = u s, s = sigmoid(1.702 u): da/du = s + 1.702 u s (1 - s) = s + 1.702 a (1 - s)
            INDArray slope = sigmoid.rsub(1.0, mgr.createUninitialized(work, type, sigmoid.shape(), 'c'));
            du.muli(slope.muli(a).muli(GELU_SLOPE).addi(sigmoid));
            INDArray dh2 = linearBackward(h2, du, "w1", "b1", g, mgr.createUninitialized(work, type,
                    new long[] {n, d}, 'c'));
            INDArray dx1 = layerNormBackward(norm2, getParam("gln2"), dh2, mgr.createUninitialized(work, type,
                    new long[] {n, d}, 'c'), g.get("gln2"), g.get("bln2"), mgr).addi(dy);
            // x1 = x + merged Wo + bo
            INDArray dm = linearBackward(merged, dx1, "wo", "bo", g, mgr.createUninitialized(work, type,
                    new long[] {n, d}, 'c'));
            INDArray ds = headProduct(dm, false, values, true,
                    mgr.createUninitialized(work, type, weights.shape(), 'c'), 1.0, mgr, work);
            softmaxBackward(ds, weights, mgr);
            // the query, key and value rows' gradients in turn, through one array
            INDArray branch = mgr.createUninitialized(work, type, new long[] {n, d}, 'c');
            INDArray dh = mgr.createUninitialized(work, type, new long[] {n, d}, 'c');
            headProduct(ds, false, keys, false, branch, scale(), mgr, work);
            accumulateLinearBackward(branch, "wq", "bq", g, dh, 0.0);
            headProduct(ds, true, queries, false, branch, scale(), mgr, work);
            accumulateLinearBackward(branch, "wk", "bk", g, dh, 1.0);
            headProduct(weights, true, dm, false, branch, 1.0, mgr, work);
            accumulateLinearBackward(branch, "wv", "bv", g, dh, 1.0);
            layerNormBackward(norm1, getParam("gln1"), dh, dx, g.get("gln1"), g.get("bln1"), mgr).addi(dx1);
        }

        @Override
        protected void forgetKept() {
            norm1 = null;
            h = null;
            queries = null;
            keys = null;
            values = null;
            weights = null;
            merged = null;
            norm2 = null;
            h2 = null;
            sigmoid = null;
            a = null;
        }

        private double scale() {
            TransformerBlock b = block();
            return 1.0 / Math.sqrt(b.modelWidth / (double) b.heads);
        }

        /** {@code in W + b} into {@code out}. */
        private INDArray linear(INDArray in, String weight, String bias, INDArray out) {
            return product(in, getParam(weight), false, out).addiRowVector(getParam(bias));
        }

        /** Of {@code out = in W + b}: W's and b's gradients into {@code g}, {@code in}'s into {@code dIn}. */
        private INDArray linearBackward(INDArray in, INDArray dOut, String weight, String bias,
                                        Map<String, INDArray> g, INDArray dIn) {
            product(in, true, dOut, false, g.get(weight), 1.0, 0.0);
            columnSums(dOut, g.get(bias));
            return product(dOut, getParam(weight), true, dIn);
        }

        /**
         * As {@link #linearBackward} for {@code out = h W + b} (h the first layer norm's output), with
         * {@code dh = keep dh + dOut W^T}: the three branches' gradients summed by the products.
         */
        private void accumulateLinearBackward(INDArray dOut, String weight, String bias, Map<String, INDArray> g,
                                              INDArray dh, double keep) {
            product(h, true, dOut, false, g.get(weight), 1.0, 0.0);
            columnSums(dOut, g.get(bias));
            product(dOut, false, getParam(weight), true, dh, 1.0, keep);
        }

        /** {@code c = alpha op(a) op(b)} for every example and head of the block. */
        private INDArray headProduct(INDArray a, boolean transposeA, INDArray b, boolean transposeB, INDArray c,
                                     double alpha, LayerWorkspaceMgr mgr, ArrayType work) {
            return headProduct(a, transposeA, b, transposeB, c, alpha, block().heads, mgr, work);
        }
    }
}
