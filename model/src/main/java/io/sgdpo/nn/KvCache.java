package io.sgdpo.nn;

import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.interval;

import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.SpecifiedIndex;

/**
 * The keys and values of every block for a batch of sequences being generated, and the causal
 * attention of new tokens over them: what lets {@link IncrementalDecoder} compute each new token
 * from that token alone instead of rerunning the whole sequence.
 *
 * <p>Layout: per block, keys and values {@code [rows, kvHeads, capacity, headSize]}, one slot per
 * token. Rows are left-aligned by padding: prompts of unequal length are padded on the left, so
 * that every row's next token goes into the same slot and one array write appends a token to all
 * rows. Row r's tokens start at slot {@code start[r]}; slots before it are padding, which no valid
 * token attends to (an additive bias of -1e9, as in the training layers' causal mask, makes their
 * weights exactly 0 after the softmax), and a token's position is its slot minus {@code start[r]}.
 *
 * <p>Grouped-query attention as in {@link CausalAttention}: the {@code rep = heads / kvHeads} query
 * heads of a group are stacked along the time axis and attend to their group's keys in one product.
 */
public final class KvCache {

    private final int heads;
    private final int kvHeads;
    private final int headSize;
    private final int capacity;
    private final DataType type;
    private final INDArray[] keys;
    private final INDArray[] values;
    private int[] start;
    private int used;
    private int pending;
    private INDArray mask;

    /**
     * @param layers   blocks of the model
     * @param heads    query heads, a multiple of kvHeads
     * @param kvHeads  key/value heads
     * @param headSize size of each head
     * @param start    each row's first slot (its left padding)
     * @param capacity slots per row: the longest prompt plus the tokens still to be appended
     */
    KvCache(int layers, int heads, int kvHeads, int headSize, int[] start, int capacity, DataType type) {
        CausalAttention.requireGroups(heads, kvHeads);
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headSize = headSize;
        this.capacity = capacity;
        this.type = type;
        this.start = start.clone();
        this.keys = new INDArray[layers];
        this.values = new INDArray[layers];
        for (int l = 0; l < layers; l++) {
            keys[l] = Nd4j.zeros(type, start.length, kvHeads, capacity, headSize);
            values[l] = Nd4j.zeros(type, start.length, kvHeads, capacity, headSize);
        }
    }

    /** Number of rows (sequences). */
    public int rows() {
        return start.length;
    }

    /** Slots filled so far (the same for every row: padding included). */
    public int used() {
        return used;
    }

    /**
     * Keeps only the given rows, in that order (e.g. when the others have finished), so that later
     * steps compute nothing for the rows dropped.
     */
    public void keep(int[] rows) {
        int[] kept = new int[rows.length];
        for (int i = 0; i < rows.length; i++) {
            kept[i] = start[rows[i]];
        }
        for (int l = 0; l < keys.length; l++) {
            keys[l] = select(keys[l], rows);
            values[l] = select(values[l], rows);
        }
        start = kept;
    }

    private static INDArray select(INDArray cache, int[] rows) {
        return cache.get(new SpecifiedIndex(rows), all(), all(), all()).dup('c');
    }

    /**
     * Starts a step that appends n tokens to every row: returns their positions, row by row
     * ({@code [rows * n]}; 0 for a padding slot, whose output no valid token uses).
     */
    int[] begin(int n) {
        if (n < 1 || used + n > capacity) {
            throw new IllegalArgumentException("cannot append " + n + " tokens: " + used + " of " + capacity
                    + " slots used");
        }
        pending = n;
        int rep = heads / kvHeads;
        int total = used + n;
        int[] positions = new int[start.length * n];
        double[] bias = new double[start.length * rep * n * total];
        boolean anyMasked = false;
        for (int r = 0; r < start.length; r++) {
            for (int i = 0; i < n; i++) {
                int slot = used + i;
                positions[r * n + i] = Math.max(0, slot - start[r]);
                for (int g = 0; g < rep; g++) {
                    int offset = ((r * rep + g) * n + i) * total;
                    // keys before the row's start are padding, keys after the query's slot are its future
                    Arrays.fill(bias, offset, offset + Math.min(start[r], total), CausalAttention.MASKED);
                    Arrays.fill(bias, offset + slot + 1, offset + total, CausalAttention.MASKED);
                    anyMasked |= start[r] > 0 || slot + 1 < total;
                }
            }
        }
        mask = anyMasked ? Nd4j.create(bias, new long[] {start.length, 1, (long) rep * n, total}, 'c').castTo(type)
                : null;
        return positions;
    }

    /** Ends the step begun by {@link #begin}: its tokens now count as cached. */
    void end() {
        used += pending;
        pending = 0;
        mask = null;
    }

    /**
     * Appends the step's keys and values to block {@code layer}'s cache, and returns the attention
     * of the step's queries over every cached token up to their own.
     *
     * @param q rows {@code [rows*n, heads*headSize]} ordered (row, token), already multiplied by
     *          {@code 1/sqrt(headSize)}
     * @param k rows {@code [rows*n, kvHeads*headSize]}
     * @param v rows {@code [rows*n, kvHeads*headSize]}
     * @return rows {@code [rows*n, heads*headSize]}: each head's weighted values, heads concatenated
     */
    public INDArray attend(int layer, INDArray q, INDArray k, INDArray v) {
        if (pending == 0) {
            throw new IllegalStateException("attend outside a step");
        }
        int b = start.length;
        int n = pending;
        int total = used + n;
        int rep = heads / kvHeads;
        keys[layer].get(all(), all(), interval(used, total), all())
                .assign(k.reshape(b, n, kvHeads, headSize).permute(0, 2, 1, 3));
        values[layer].get(all(), all(), interval(used, total), all())
                .assign(v.reshape(b, n, kvHeads, headSize).permute(0, 2, 1, 3));
        INDArray cachedKeys = keys[layer].get(all(), all(), interval(0, total), all());
        INDArray cachedValues = values[layer].get(all(), all(), interval(0, total), all());
        INDArray grouped = q.reshape(b, n, kvHeads, rep, headSize).permute(0, 2, 3, 1, 4).dup('c')
                .reshape(b, kvHeads, (long) rep * n, headSize);
        INDArray scores = Nd4j.matmul(grouped, cachedKeys, null, false, true, false); // [b, kvHeads, rep*n, total]
        if (mask != null) {
            scores.addi(mask);
        }
        Nd4j.exec(new SoftMax(scores, scores, 3));
        INDArray out = Nd4j.matmul(scores, cachedValues); // [b, kvHeads, rep*n, headSize]
        return out.reshape(b, kvHeads, rep, n, headSize).permute(0, 3, 1, 2, 4).dup('c')
                .reshape((long) b * n, (long) heads * headSize);
    }
}
