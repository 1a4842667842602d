package io.sgdpo.nn;

import java.util.Map;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.AddOp;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The passes written out ({@link DirectPasses}) of a whole-model layer ({@link LanguageModelLayer}):
 * token ids {@code [mb*T, 1]} in, logits {@code [mb*T, V]} out, rows ordered (example, position).
 * What the architectures share: the token embedding and the output head around the blocks ({@link
 * #hiddenStates}, the subclass's), linear maps in either weight layout, and causal multi-head
 * attention over rows.
 *
 * <p>The embedding looks its rows up, and its backward pass adds each row's gradient to its token's
 * row, one row at a time (libnd4j's gather does not add the gradients of repeated ids: {@code
 * EmbeddingGradientTest}). The SameDiff graph's product with the ids' one-hot rows ({@link
 * LanguageModelLayer#lookup}) cost as much as the output head, and its gradient another such
 * product. The passes' gradient is the model's own: DL4J's doubled gradient is a fault of the
 * SameDiff path, which the layer's compensation is for.
 */
public abstract class WholeModelPasses extends DirectPasses {

    private static final long serialVersionUID = 1L;

    /** The token ids and the final hidden rows of the last training forward pass. */
    private transient int[] ids;
    private transient INDArray hidden;

    protected WholeModelPasses(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    /** The token embedding's parameter {@code [V, d]}. */
    protected abstract String embeddingParam();

    /** The output head's parameter {@code [V, d]}: the embedding's when tied. */
    protected abstract String headParam();

    /**
     * The blocks and the final norm: the final hidden rows {@code [n, d]} from the embedded rows
     * {@code x} (working memory, which the pass may overwrite). With {@code kept} non-null (a
     * training pass), the hidden rows and every intermediate the backward pass needs are allocated
     * as that array type and kept.
     */
    protected abstract INDArray hiddenStates(INDArray x, ArrayType kept, LayerWorkspaceMgr mgr);

    /**
     * Of {@link #hiddenStates}: the parameters' gradients into {@code g} (DL4J's gradient views,
     * overwritten) and the embedded rows' gradient returned, from the hidden rows' {@code dHidden}.
     */
    protected abstract INDArray hiddenStatesBackward(INDArray dHidden, Map<String, INDArray> g, LayerWorkspaceMgr mgr);

    /** Lets go of what the last training {@link #hiddenStates} kept. */
    protected abstract void forgetBlocks();

    @Override
    protected long inputChannels() {
        return 1;
    }

    @Override
    protected long outputChannels() {
        return ((LanguageModelLayer) layerConf()).getVocabSize();
    }

    @Override
    protected final void forward(INDArray rows, INDArray out, ArrayType kept, LayerWorkspaceMgr mgr) {
        int[] tokens = rows.reshape(rows.size(0)).toIntVector();
        INDArray table = getParam(embeddingParam());
        INDArray x = newRows(mgr, ArrayType.FF_WORKING_MEM, rows.dataType(), rows.size(0), table.size(1));
        Nd4j.pullRows(table, x, 1, tokens);
        INDArray h = hiddenStates(x, kept, mgr);
        product(h, getParam(headParam()), true, out);
        if (kept != null) {
            ids = tokens;
            hidden = h;
        }
    }

    @Override
    protected final void backward(INDArray dLogits, INDArray dIds, Map<String, INDArray> g, LayerWorkspaceMgr mgr) {
        INDArray embeddingGradient = g.get(embeddingParam());
        // the head's gradient; when tied, the embedding's rows add to it below
        product(dLogits, true, hidden, false, g.get(headParam()), 1.0, 0.0);
        INDArray dHidden = product(dLogits, getParam(headParam()), false,
                newRows(mgr, ArrayType.BP_WORKING_MEM, dLogits.dataType(), dLogits.size(0), hidden.size(1)));
        INDArray dx = hiddenStatesBackward(dHidden, g, mgr);
        if (!headParam().equals(embeddingParam())) {
            embeddingGradient.assign(0.0);
        }
        for (int r = 0; r < ids.length; r++) {
            embeddingGradient.getRow(ids[r]).addi(dx.getRow(r));
        }
        dIds.assign(0.0); // the ids are not differentiable: their gradient is 0, as the graph's
    }

    @Override
    protected final void forgetKept() {
        ids = null;
        hidden = null;
        forgetBlocks();
    }

    /** Rows {@code [n, w]} allocated as {@code type}, uninitialised. */
    protected static INDArray newRows(LayerWorkspaceMgr mgr, ArrayType type, DataType dataType, long n, long w) {
        return mgr.createUninitialized(type, dataType, new long[] {n, w}, 'c');
    }

    /**
     * {@code in W (+ b)} into {@code out}, W stored {@code [in, out]} or, {@code transposed}, {@code
     * [out, in]} (torch's nn.Linear); b null: none.
     */
    protected static INDArray linear(INDArray in, INDArray weight, boolean transposed, INDArray bias,
                                     INDArray out) {
        product(in, weight, transposed, out);
        return bias == null ? out : out.addiRowVector(bias);
    }

    /**
     * Of {@link #linear}: W's gradient into {@code dWeight}, b's into {@code dBias} (null: none),
     * and {@code dIn = keep dIn + dOut W^T} (the input's gradient, added to what {@code dIn} holds
     * when {@code keep} is 1).
     */
    protected INDArray linearBackward(INDArray in, INDArray dOut, INDArray weight, boolean transposed,
                                      INDArray dWeight, INDArray dBias, INDArray dIn, double keep) {
        if (transposed) {
            product(dOut, true, in, false, dWeight, 1.0, 0.0);
        } else {
            product(in, true, dOut, false, dWeight, 1.0, 0.0);
        }
        if (dBias != null) {
            columnSums(dOut, dBias);
        }
        return product(dOut, false, weight, !transposed, dIn, 1.0, keep);
    }

    /**
     * What causal attention keeps for its backward pass: query (already scaled), key and value rows
     * {@code [n, heads*headSize]}, the attention weights {@code [mb*heads, T, T]} after the softmax.
     */
    protected record Attention(INDArray queries, INDArray keys, INDArray values, INDArray weights) {
    }

    /**
     * Causal multi-head attention of the rows into {@code out} {@code [n, heads*headSize]}: each
     * head's {@code softmax(q k^T + mask) v}, the queries already multiplied by the scale; the
     * weights are allocated as {@code keep}.
     */
    protected Attention attend(INDArray q, INDArray k, INDArray v, int heads, INDArray out, LayerWorkspaceMgr mgr,
                               ArrayType keep) {
        ArrayType work = ArrayType.FF_WORKING_MEM;
        int length = passLength();
        INDArray weights = mgr.createUninitialized(keep, q.dataType(),
                new long[] {q.size(0) / length * heads, length, length}, 'c');
        headProduct(q, false, k, true, weights, 1.0, heads, mgr, work);
        Nd4j.exec(new AddOp(weights, causalMask(length, q.dataType()), weights));
        Nd4j.exec(new SoftMax(weights, weights, 2));
        headProduct(weights, false, v, false, out, 1.0, heads, mgr, work);
        return new Attention(q, k, v, weights);
    }

    /**
     * Of {@link #attend}: from the output's gradient {@code dOut}, the query, key and value rows'
     * gradients into {@code dq}, {@code dk} and {@code dv} (overwritten).
     */
    protected void attendBackward(Attention a, INDArray dOut, int heads, INDArray dq, INDArray dk, INDArray dv,
                                  LayerWorkspaceMgr mgr) {
        ArrayType work = ArrayType.BP_WORKING_MEM;
        INDArray dScores = headProduct(dOut, false, a.values(), true,
                mgr.createUninitialized(work, dOut.dataType(), a.weights().shape(), 'c'), 1.0, heads, mgr, work);
        softmaxBackward(dScores, a.weights(), mgr);
        headProduct(dScores, false, a.keys(), false, dq, 1.0, heads, mgr, work);
        headProduct(dScores, true, a.queries(), false, dk, 1.0, heads, mgr, work);
        headProduct(a.weights(), true, dOut, false, dv, 1.0, heads, mgr, work);
    }
}
