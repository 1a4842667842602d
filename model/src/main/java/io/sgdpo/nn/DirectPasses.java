package io.sgdpo.nn;

import java.util.Arrays;
import java.util.Map;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.common.util.ArrayUtil;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.blas.params.MMulTranspose;
import org.nd4j.linalg.api.ops.impl.reduce.Mmul;
import org.nd4j.linalg.api.ops.impl.transforms.floating.RSqrt;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.MulOp;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.SubOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.BooleanIndexing;
import org.nd4j.linalg.indexing.conditions.Conditions;

/**
 * DL4J's implementation of a {@link CompensatedSameDiffLayer} whose forward and backward passes
 * are written out with libnd4j's ops instead of executed from its SameDiff graph: the graph's
 * function, by the graph's ops or, where others are several times faster, by those ({@link
 * #layerNorm}, {@link #layerNormBackward}, {@link #columnSums}).
 *
 * <p>Why: DL4J 1.0.0-M2.1 runs a SameDiff layer's backward pass as the graph's gradient function,
 * which starts again from the layer's input: every training step computed each block's forward
 * pass twice (64 matrix products per step at bench-peer's mid shape where 32 are the forward pass),
 * plus the session's bookkeeping and the doubled-gradient compensation's ops. Here a training
 * forward pass keeps the intermediates its backward pass needs, in DL4J's activations workspace
 * (which lives until the step's backward pass is done), and the backward pass starts from them.
 *
 * <p>Both passes work on rows {@code [mb*T, d]}, one per token, ordered (example, position); the
 * output is returned as the {@code [mb, d, T]} view of such rows, so that the next layer of this
 * kind takes its rows without a copy. T is the input's: any length up to the layer's, so that a
 * minibatch padded to its own longest row ({@link PairedBatch}) runs on fewer positions; SameDiff's
 * graph is built for the layer's length alone. A backward pass that does not follow this layer's
 * training forward pass of the same input, an input longer than the layer's length, and {@link
 * #setDirect(boolean) direct} off go through SameDiff's own passes, which stay the layer's
 * definition: the tests hold these passes to them.
 */
public abstract class DirectPasses extends org.deeplearning4j.nn.layers.samediff.SameDiffLayer {

    private static final long serialVersionUID = 1L;

    private boolean direct = true;
    /** Columns of ones and of 1/d for {@link #columnSums} and {@link #rowMeans}. */
    private transient INDArray onesColumn;
    private transient INDArray meanColumn;
    /** The causal bias of the last pass's T and type ({@link #causalMask}). */
    private transient INDArray mask;
    /** The input whose training forward pass the subclass's kept arrays hold; null: none. */
    private transient INDArray keptFor;
    /** T of the pass under way: the input's length. */
    private transient int passLength;

    protected DirectPasses(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    /** Whether the passes are this class's (true) or SameDiff's (false, the reference the tests compare with). */
    void setDirect(boolean direct) {
        this.direct = direct;
    }

    /** Whether this layer ever ran SameDiff's passes (built its graph). */
    boolean builtSameDiff() {
        return sameDiff != null;
    }

    private CompensatedSameDiffLayer config() {
        return (CompensatedSameDiffLayer) layerConf();
    }

    /** T of the pass under way (the input's length, at most the layer's): rows are {@code [mb*T, d]}. */
    protected int passLength() {
        return passLength;
    }

    /** Channels of the layer's input {@code [mb, channels, T]}: the model width unless a subclass says otherwise. */
    protected long inputChannels() {
        return config().getModelWidth();
    }

    /** Channels of the layer's output {@code [mb, channels, T]}: the model width unless a subclass says otherwise. */
    protected long outputChannels() {
        return config().getModelWidth();
    }

    /**
     * {@code rows} {@code [mb*T, d]} through the layer into {@code out} (same shape). With {@code
     * kept} non-null (a training pass), every intermediate the backward pass needs is allocated as
     * that array type and kept in the subclass's fields; otherwise intermediates are working memory.
     */
    protected abstract void forward(INDArray rows, INDArray out, ArrayType kept, LayerWorkspaceMgr mgr);

    /**
     * From the gradient {@code dOut} of the output rows, each parameter's gradient into {@code
     * gradients} (DL4J's gradient views, overwritten) and the input rows' gradient into {@code dIn},
     * using what the last {@link #forward} kept.
     */
    protected abstract void backward(INDArray dOut, INDArray dIn, Map<String, INDArray> gradients,
                                     LayerWorkspaceMgr mgr);

    /** Lets go of the arrays the last training forward pass kept. */
    protected abstract void forgetKept();

    @Override
    public INDArray activate(boolean training, LayerWorkspaceMgr mgr) {
        forget();
        if (!applies(input)) {
            return super.activate(training, mgr);
        }
        assertInputSet(false);
        long examples = input.size(0);
        long length = input.size(2);
        passLength = (int) length;
        long width = outputChannels();
        ArrayType kept = training ? ArrayType.ACTIVATIONS : null;
        INDArray rows = rows(input, mgr, training ? ArrayType.ACTIVATIONS : ArrayType.FF_WORKING_MEM);
        INDArray out = mgr.createUninitialized(ArrayType.ACTIVATIONS, input.dataType(),
                new long[] {examples, length, width}, 'c');
        forward(rows, out.reshape(examples * length, width), kept, mgr);
        if (training) {
            keptFor = input;
        }
        return out.permute(0, 2, 1);
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr mgr) {
        if (keptFor == null || keptFor != input || !applies(input)) {
            forget();
            return super.backpropGradient(epsilon, mgr);
        }
        assertInputSet(true);
        long examples = input.size(0);
        long length = input.size(2);
        passLength = (int) length;
        long width = inputChannels();
        INDArray dOut = rows(epsilon, mgr, ArrayType.BP_WORKING_MEM);
        INDArray dIn = mgr.createUninitialized(ArrayType.ACTIVATION_GRAD, epsilon.dataType(),
                new long[] {examples, length, width}, 'c');
        backward(dOut, dIn.reshape(examples * length, width), gradTable, mgr);
        forget();
        Gradient gradient = new DefaultGradient();
        for (String name : paramTable.keySet()) {
            gradient.gradientForVariable().put(name, gradTable.get(name));
        }
        return new Pair<>(gradient, dIn.permute(0, 2, 1));
    }

    @Override
    public void clear() {
        super.clear();
        forget();
    }

    private void forget() {
        keptFor = null;
        forgetKept();
    }

    private boolean applies(INDArray in) {
        return direct && in != null && in.rank() == 3 && in.size(1) == inputChannels()
                && in.size(2) >= 1 && in.size(2) <= config().getLength();
    }

    /**
     * {@code [mb, d, T]} as rows {@code [mb*T, d]}: a view when it is one (the output of a layer of
     * this kind), else a copy allocated as {@code type}.
     */
    static INDArray rows(INDArray x, LayerWorkspaceMgr mgr, ArrayType type) {
        INDArray tokensLast = x.permute(0, 2, 1);
        long rowCount = x.size(0) * x.size(2);
        if (Arrays.equals(tokensLast.stride(), ArrayUtil.calcStrides(tokensLast.shape()))) {
            return tokensLast.reshape('c', rowCount, x.size(1));
        }
        INDArray copy = mgr.createUninitialized(type, x.dataType(), tokensLast.shape(), 'c');
        copy.assign(tokensLast);
        return copy.reshape('c', rowCount, x.size(1));
    }

    /** {@code alpha op(a) op(b) + beta c} into {@code c}, by libnd4j's matmul op (batched for rank 3). */
    protected static INDArray product(INDArray a, boolean transposeA, INDArray b, boolean transposeB, INDArray c,
                                      double alpha, double beta) {
        Nd4j.exec(new Mmul(a, b, c, alpha, beta,
                MMulTranspose.builder().transposeA(transposeA).transposeB(transposeB).build()));
        return c;
    }

    /** {@code a op(b)} into {@code c}. */
    protected static INDArray product(INDArray a, INDArray b, boolean transposeB, INDArray c) {
        return product(a, false, b, transposeB, c, 1.0, 0.0);
    }

    /**
     * A layer norm's input rows normalised, {@code (x - mean) / std} {@code [n, d]}, and each row's
     * {@code 1 / std} {@code [n, 1]}: what its backward pass needs.
     */
    protected record Normalised(INDArray rows, INDArray inverseStd) {
    }

    /**
     * Rows {@code [n, d]} normalised over d, times the gain and plus the bias ({@code [1, d]}), into
     * {@code out}: the function of libnd4j's {@code layer_norm} as {@link TransformerBlock#layerNorm}
     * calls it (the rows' standard deviation without an epsilon; a constant row normalises to 0), with
     * the row statistics as products by a column of 1/d (libnd4j's op took 1.7 ms on {@code [1024,
     * 256]}, bench-peer's mid shape, on the 2-core development machine; these ops about 0.9). The
     * normalised rows and inverse deviations are allocated as {@code type}.
     */
    Normalised layerNorm(INDArray in, INDArray gain, INDArray bias, INDArray out, LayerWorkspaceMgr mgr,
                         ArrayType type) {
        return layerNorm(in, gain, bias, out, 0.0, mgr, type);
    }

    /** The layer norm above with {@code eps} added to the rows' variance (GPT-2's LayerNorm). */
    protected Normalised layerNorm(INDArray in, INDArray gain, INDArray bias, INDArray out, double eps,
                                   LayerWorkspaceMgr mgr, ArrayType type) {
        DataType dataType = in.dataType();
        INDArray normed = mgr.createUninitialized(type, dataType, in.shape(), 'c');
        INDArray inverseStd = mgr.createUninitialized(type, dataType, new long[] {in.size(0), 1}, 'c');
        Nd4j.exec(new SubOp(in, rowMeans(in, inverseStd), normed));
        INDArray squares = out;
        Nd4j.exec(new MulOp(normed, normed, squares));
        rowMeans(squares, inverseStd);
        if (eps != 0.0) {
            inverseStd.addi(eps);
        }
        Nd4j.exec(new RSqrt(inverseStd, inverseStd));
        BooleanIndexing.replaceWhere(inverseStd, 0.0, Conditions.isInfinite());
        normed.muliColumnVector(inverseStd);
        Nd4j.exec(new MulOp(normed, gain, out));
        out.addiRowVector(bias);
        return new Normalised(normed, inverseStd);
    }

    /**
     * Of {@link #layerNorm}: the gain's and bias's gradients into {@code dGain} and {@code dBias}
     * ({@code [1, d]}, overwritten) and the input's into {@code dIn}, from the output's {@code dOut}:
     * <pre>
     *   x^ = (x - mean) / std,   dx^ = dOut g,   dIn = (dx^ - mean(dx^) - x^ mean(dx^ x^)) / std
     *   dGain = sum over rows of dOut x^,   dBias = sum over rows of dOut
     * </pre>
     * (libnd4j's {@code layer_norm_bp} took 5.8 ms on {@code [1024, 256]}, these ops under 2). Uses
     * up {@code normalised}.
     */
    protected INDArray layerNormBackward(Normalised normalised, INDArray gain, INDArray dOut, INDArray dIn,
                                         INDArray dGain, INDArray dBias, LayerWorkspaceMgr mgr) {
        INDArray normed = normalised.rows();
        INDArray perRow = mgr.createUninitialized(ArrayType.BP_WORKING_MEM, normed.dataType(),
                new long[] {normed.size(0), 1}, 'c');
        INDArray scratch = mgr.createUninitialized(ArrayType.BP_WORKING_MEM, normed.dataType(), normed.shape(), 'c');
        Nd4j.exec(new MulOp(dOut, normed, scratch));
        columnSums(scratch, dGain);
        columnSums(dOut, dBias);
        // dIn holds dx^ x^ until its row means are taken
        INDArray dNormed = scratch;
        Nd4j.exec(new MulOp(dOut, gain, dNormed));
        Nd4j.exec(new MulOp(dNormed, normed, dIn));
        normed.muliColumnVector(rowMeans(dIn, perRow));
        Nd4j.exec(new SubOp(dNormed, rowMeans(dNormed, perRow), dIn));
        return dIn.subi(normed).muliColumnVector(normalised.inverseStd());
    }

    /**
     * {@code c = alpha op(a) op(b)} for every example and each of {@code heads} attention heads of
     * the pass under way ({@link HeadProducts}); {@code mgr} and {@code work} allocate the copies of
     * the way through libnd4j's batched op.
     */
    protected INDArray headProduct(INDArray a, boolean transposeA, INDArray b, boolean transposeB, INDArray c,
                                   double alpha, int heads, LayerWorkspaceMgr mgr, ArrayType work) {
        return HeadProducts.product(a, transposeA, b, transposeB, c, alpha, heads, passLength, mgr, work);
    }

    /** The causal bias {@code [1, T, T]} ({@link CausalAttention#causalBias}), kept for the next pass of T and type. */
    protected INDArray causalMask(int length, DataType type) {
        if (mask == null || mask.dataType() != type || mask.size(1) != length) {
            try (MemoryWorkspace none = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                mask = CausalAttention.causalBias(1, length, type);
            }
        }
        return mask;
    }

    /**
     * The attention scores' gradient in place of the gradient {@code g} of their softmax's output
     * {@code weights} ({@code [mb*h, T, T]}, softmax over the last axis): {@code w (g - sum over
     * keys of g w)}.
     */
    protected static void softmaxBackward(INDArray g, INDArray weights, LayerWorkspaceMgr mgr) {
        ArrayType work = ArrayType.BP_WORKING_MEM;
        INDArray weighted = mgr.createUninitialized(work, g.dataType(), g.shape(), 'c');
        Nd4j.exec(new MulOp(g, weights, weighted));
        INDArray sums = mgr.createUninitialized(work, g.dataType(), new long[] {g.size(0), g.size(1)}, 'c');
        weighted.sum(sums, 2);
        Nd4j.exec(new SubOp(g, sums.reshape(g.size(0), g.size(1), 1), g));
        g.muli(weights);
    }

    /** Each row's mean of {@code rows} {@code [n, d]} into {@code means} {@code [n, 1]}: {@code rows (1/d)}. */
    protected INDArray rowMeans(INDArray rows, INDArray means) {
        return product(rows, constantColumn(rows.dataType(), rows.size(1), 1.0 / rows.size(1)), false, means);
    }

    /**
     * The column sums of {@code rows} {@code [n, d]} into {@code sums} {@code [1, d]}: {@code 1^T
     * rows}, a product (50 µs on {@code [1024, 256]} where the reduction over rows took 350).
     */
    protected INDArray columnSums(INDArray rows, INDArray sums) {
        return product(constantColumn(rows.dataType(), rows.size(0), 1.0), true, rows, false, sums, 1.0, 0.0);
    }

    /** A column {@code [length, 1]} of {@code value}s, kept (out of every workspace) for the next call. */
    private INDArray constantColumn(DataType type, long length, double value) {
        INDArray column = value == 1.0 ? onesColumn : meanColumn;
        if (column == null || column.dataType() != type || column.length() != length) {
            try (MemoryWorkspace none = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                column = Nd4j.valueArrayOf(new long[] {length, 1}, value, type);
            }
            if (value == 1.0) {
                onesColumn = column;
            } else {
                meanColumn = column;
            }
        }
        return column;
    }
}
