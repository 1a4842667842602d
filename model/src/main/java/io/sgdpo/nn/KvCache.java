package io.sgdpo.nn;

/**
 * The keys and values of every block for a batch of sequences being generated, and the causal
 * attention of new tokens over them: what lets {@link IncrementalDecoder} compute each new token
 * from that token alone instead of rerunning the whole sequence.
 *
 * <p>Layout: per block, keys and values {@code [rows, kvHeads, capacity, headSize]} in float32
 * Java arrays, one slot per token. Rows are left-aligned by padding: prompts of unequal length are
 * padded on the left, so that every row's next token goes into the same slot. Row r's tokens start
 * at slot {@code start[r]}; slots before it are padding, which no token attends to (the training
 * layers' causal mask, an additive bias of -1e9, gives them a weight of exactly 0 after the
 * softmax: here they are left out of it), and a token's position is its slot minus
 * {@code start[r]}. Grouped-query attention as in {@link CausalAttention}: query head h attends to
 * the keys of group {@code h / (heads / kvHeads)}.
 *
 * <p>The attention itself is a few thousand multiply-adds per row and head, computed in Java
 * ({@link StepRows} says why not as ND4J operations); the keys and values are float32, the type
 * every model here generates in. They live on the Java heap: 8 bytes per layer, key/value head
 * dimension, slot and row (GPT-2 small, 8 prompts of 256 slots: 151 MB), so generating many long
 * sequences at once needs a heap to match.
 */
public final class KvCache {

    private final int heads;
    private final int kvHeads;
    private final int headSize;
    private final int capacity;
    private final float[][] keys;
    private final float[][] values;
    private int[] start;
    private int used;
    private int pending;

    /**
     * @param layers   blocks of the model
     * @param heads    query heads, a multiple of kvHeads
     * @param kvHeads  key/value heads
     * @param headSize size of each head
     * @param start    each row's first slot (its left padding)
     * @param capacity slots per row: the longest prompt plus the tokens still to be appended
     */
    KvCache(int layers, int heads, int kvHeads, int headSize, int[] start, int capacity) {
        CausalAttention.requireGroups(heads, kvHeads);
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headSize = headSize;
        this.capacity = capacity;
        this.start = start.clone();
        this.keys = new float[layers][];
        this.values = new float[layers][];
        long size = (long) start.length * kvHeads * capacity * headSize;
        if (size > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("a cache of " + start.length + " rows x " + capacity + " slots x "
                    + kvHeads * headSize + " values per block is too large: generate fewer prompts at a time");
        }
        for (int l = 0; l < layers; l++) {
            keys[l] = new float[(int) size];
            values[l] = new float[(int) size];
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

    private float[] select(float[] cache, int[] rows) {
        int block = kvHeads * capacity * headSize;
        float[] selected = new float[rows.length * block];
        for (int i = 0; i < rows.length; i++) {
            System.arraycopy(cache, rows[i] * block, selected, i * block, block);
        }
        return selected;
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
        int[] positions = new int[start.length * n];
        for (int r = 0; r < start.length; r++) {
            for (int i = 0; i < n; i++) {
                positions[r * n + i] = Math.max(0, used + i - start[r]);
            }
        }
        return positions;
    }

    /** Ends the step begun by {@link #begin}: its tokens now count as cached. */
    void end() {
        used += pending;
        pending = 0;
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
     *         (zero for a padding slot's query, which attends to nothing)
     */
    public double[] attend(int layer, double[] q, double[] k, double[] v) {
        if (pending == 0) {
            throw new IllegalStateException("attend outside a step");
        }
        int n = pending;
        int kvWidth = kvHeads * headSize;
        int width = heads * headSize;
        if (q.length != start.length * n * width || k.length != start.length * n * kvWidth
                || v.length != k.length) {
            throw new IllegalArgumentException("queries, keys and values of " + q.length + ", " + k.length + " and "
                    + v.length + " values for " + start.length + " rows x " + n + " tokens x " + heads + " heads ("
                    + kvHeads + " key/value heads) of " + headSize);
        }
        store(layer, k, v, n);
        int rep = heads / kvHeads;
        double[] out = new double[q.length];
        double[] weights = new double[used + n];
        for (int r = 0; r < start.length; r++) {
            for (int i = 0; i < n; i++) {
                for (int h = 0; h < heads; h++) {
                    attendHead(layer, q, (r * n + i) * width + h * headSize, r, h / rep, used + i, weights, out);
                }
            }
        }
        return out;
    }

    /** Writes the step's n keys and values of every row into their slots, rounded to float32. */
    private void store(int layer, double[] k, double[] v, int n) {
        for (int token = 0; token < start.length * n; token++) {
            int slot = used + token % n;
            for (int g = 0; g < kvHeads; g++) {
                int from = (token * kvHeads + g) * headSize;
                int to = slot(token / n, g, slot);
                for (int j = 0; j < headSize; j++) {
                    keys[layer][to + j] = (float) k[from + j];
                    values[layer][to + j] = (float) v[from + j];
                }
            }
        }
    }

    /**
     * One query head's attention over row r's slots {@code start[r]..last} of its key/value group,
     * added into {@code out} at the query's own offset; {@code weights} is scratch, one per slot.
     */
    private void attendHead(int layer, double[] q, int query, int r, int group, int last, double[] weights,
                            double[] out) {
        float[] cachedKeys = keys[layer];
        float[] cachedValues = values[layer];
        double max = Double.NEGATIVE_INFINITY;
        for (int s = start[r]; s <= last; s++) {
            weights[s] = dot(q, query, cachedKeys, slot(r, group, s), headSize);
            max = Math.max(max, weights[s]);
        }
        double total = 0;
        for (int s = start[r]; s <= last; s++) {
            weights[s] = Math.exp(weights[s] - max);
            total += weights[s];
        }
        for (int s = start[r]; s <= last; s++) {
            double weight = weights[s] / total;
            int value = slot(r, group, s);
            for (int j = 0; j < headSize; j++) {
                out[query + j] += weight * cachedValues[value + j];
            }
        }
    }

    private int slot(int row, int group, int slot) {
        return ((row * kvHeads + group) * capacity + slot) * headSize;
    }

    /** q[from..from+n) . k[at..at+n), four running sums (independent, so the CPU overlaps them). */
    private static double dot(double[] q, int from, float[] k, int at, int n) {
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        int j = 0;
        for (; j + 3 < n; j += 4) {
            s0 += q[from + j] * k[at + j];
            s1 += q[from + j + 1] * k[at + j + 1];
            s2 += q[from + j + 2] * k[at + j + 2];
            s3 += q[from + j + 3] * k[at + j + 3];
        }
        for (; j < n; j++) {
            s0 += q[from + j] * k[at + j];
        }
        return s0 + s1 + s2 + s3;
    }
}
