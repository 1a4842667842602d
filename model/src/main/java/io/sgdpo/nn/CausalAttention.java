package io.sgdpo.nn;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Causal scaled dot-product attention with grouped-query heads, as two batched rank-3 matrix
 * products (DL4J's tensorMmul has a broken backward pass; batched mmul works).
 *
 * <p>Grouped-query attention without copying keys and values: query head j uses key/value head
 * {@code j / rep} (transformers' {@code repeat_kv}, rep = heads / kvHeads). Instead of repeating
 * each key/value head rep times, the rep query heads of a group are stacked along the time axis,
 * {@code [mb*kvHeads, rep*T, headSize]}, and attend to their group's keys {@code [mb*kvHeads, T,
 * headSize]} in one product. With rep = 1 this is plain multi-head attention.
 *
 * <p>The causal mask is a constant additive bias (0 where a position may look, -1e9 above the
 * diagonal), so a token never sees later positions, padding included. One instance holds the
 * mask for every block of a model.
 */
public final class CausalAttention {

    /** The additive bias of a position a query may not look at: exactly 0 weight after the softmax. */
    static final double MASKED = -1e9;

    private final int heads;
    private final int kvHeads;
    private final int headSize;
    private final int length;
    private final SDVariable mask;

    /**
     * @param heads    query heads, a multiple of kvHeads
     * @param kvHeads  key/value heads
     * @param headSize size of each head
     * @param length   sequence length T
     * @param type     data type of the constants
     */
    public CausalAttention(SameDiff sd, int heads, int kvHeads, int headSize, int length, DataType type) {
        requireGroups(heads, kvHeads);
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headSize = headSize;
        this.length = length;
        this.mask = sd.constant(causalBias(heads / kvHeads, length, type));
    }

    /** @throws IllegalArgumentException unless {@code heads} is a multiple of {@code kvHeads} >= 1 */
    static void requireGroups(int heads, int kvHeads) {
        if (kvHeads < 1 || heads % kvHeads != 0) {
            throw new IllegalArgumentException("attention heads (" + heads + ") must be a multiple of key/value heads ("
                    + kvHeads + ")");
        }
    }

    /** The factor 1/sqrt(headSize) the queries must already carry when given to {@link #apply}. */
    public double queryScale() {
        return 1.0 / Math.sqrt(headSize);
    }

    /**
     * @param q rows {@code [mb*T, heads*headSize]}, ordered (example, position), already multiplied
     *          by {@link #queryScale()}: scaling the queries costs T times less than scaling the
     *          scores, and Llama folds it into its rotary constants for free
     * @param k rows {@code [mb*T, kvHeads*headSize]}
     * @param v rows {@code [mb*T, kvHeads*headSize]}
     * @return rows {@code [mb*T, heads*headSize]}: each head's weighted values, heads concatenated
     */
    public SDVariable apply(SameDiff sd, SDVariable q, SDVariable k, SDVariable v) {
        int rep = heads / kvHeads;
        SDVariable groupedQ = q.reshape(-1, length, kvHeads, rep, headSize).permute(0, 2, 3, 1, 4)
                .reshape(-1, rep * length, headSize);
        SDVariable scores = sd.mmul(groupedQ, perHead(k), false, true, false);
        SDVariable weights = sd.nn().softmax(scores.add(mask), 2);
        SDVariable out = sd.mmul(weights, perHead(v)); // [mb*kvHeads, rep*T, headSize]
        return out.reshape(-1, kvHeads, rep, length, headSize).permute(0, 3, 1, 2, 4).reshape(-1, heads * headSize);
    }

    /** Key or value rows {@code [mb*T, kvHeads*headSize]} to {@code [mb*kvHeads, T, headSize]}. */
    private SDVariable perHead(SDVariable rows) {
        return rows.reshape(-1, length, kvHeads, headSize).permute(0, 2, 1, 3).reshape(-1, length, headSize);
    }

    /** {@code [1, rep*T, T]}: for each stacked query row (head r, position i), 0 up to i and -1e9 after. */
    static INDArray causalBias(int rep, int length, DataType type) {
        double[] bias = new double[rep * length * length];
        for (int row = 0; row < rep * length; row++) {
            int i = row % length;
            java.util.Arrays.fill(bias, row * length + i + 1, (row + 1) * length, MASKED);
        }
        return Nd4j.create(bias, new long[] {1, (long) rep * length, length}, 'c').castTo(type);
    }
}
