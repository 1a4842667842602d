package io.sgdpo.nn;

import io.sgdpo.nn.gpt2.Gpt2Model;
import io.sgdpo.nn.gpt2.Gpt2Step;
import io.sgdpo.nn.llama.LlamaModel;
import io.sgdpo.nn.llama.LlamaStep;
import java.util.Arrays;
import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A language model's forward pass for generation with a {@link KvCache}: it appends new tokens to
 * cached sequences and returns their logits, computing only the new tokens (the prompt once, then
 * one token per step), where the training graph would rerun every position of the sequence.
 *
 * <p>Not a SameDiff graph: a step is a few dozen small operations on one row per sequence, where
 * SameDiff's per-operation bookkeeping would cost more than the arithmetic. The matrix products run
 * on the training graph's own weight matrices, through OpenBLAS ({@link StepProducts}); the row-wise
 * math between them on Java arrays ({@link StepRows}), with the norms' gains and the biases copied
 * when the step is made, and the attention in the cache ({@link KvCache}). Make one per generation (as {@link Generator} does), after any change to the
 * parameters. One subclass per architecture holds the whole math of a step:
 * {@link DecoderStep}, {@link LlamaStep}, {@link Gpt2Step}. Tests hold each to the training
 * graph's logits at every position.
 */
public abstract class IncrementalDecoder {

    /** The incremental decoder of a model built by this project (any {@link Architecture}). */
    public static IncrementalDecoder of(ComputationGraph graph) {
        LanguageModelLayer layer = LanguageModels.wholeModel(graph.getConfiguration());
        if (layer == null) {
            return new DecoderStep(graph);
        }
        Map<String, INDArray> params = graph.getLayer(LanguageModels.MODEL).paramTable();
        if (layer instanceof LlamaModel llama) {
            return new LlamaStep(llama.config(), params);
        }
        if (layer instanceof Gpt2Model gpt2) {
            return new Gpt2Step(gpt2.config(), params);
        }
        throw new IllegalArgumentException("no incremental decoding for " + layer.getClass().getName());
    }

    /** Number of blocks. */
    protected abstract int layers();

    /** Query heads. */
    protected abstract int heads();

    /** Key/value heads. */
    protected abstract int kvHeads();

    /** Size of each head. */
    protected abstract int headSize();

    /** The longest sequence the model can handle (its position table, or the positions it was trained for). */
    public abstract int maxPositions();

    /** Data type of the parameters (and of the cache and logits). */
    protected abstract DataType dataType();

    /**
     * The final normalised hidden state of every new token, rows {@code [rows*n, d]} row-major,
     * ordered (row, token), appending their keys and values to the cache ({@link KvCache#attend} in
     * every block).
     *
     * @param ids       token ids {@code [rows*n]} in that order
     * @param positions their positions, in the same order
     */
    protected abstract double[] hidden(KvCache cache, int[] ids, int[] positions);

    /** Vocabulary logits {@code [m, V]} of hidden rows {@code [m, d]}, both row-major. */
    protected abstract double[] head(double[] hidden);

    /**
     * An empty cache for sequences whose tokens start at the given slots (their left padding), with
     * room for {@code capacity} slots each.
     */
    public KvCache newCache(int[] start, int capacity) {
        return new KvCache(layers(), heads(), kvHeads(), headSize(), start, capacity);
    }

    /**
     * Appends n tokens to every row of the cache and returns the logits of each: {@code [rows, n, V]}.
     *
     * @param tokens {@code [rows][n]}, one array of n ids per row of the cache
     */
    public INDArray logits(KvCache cache, int[][] tokens) {
        double[] logits = head(append(cache, tokens));
        int n = tokens[0].length;
        int vocabulary = logits.length / (tokens.length * n);
        return StepRows.write(logits, vocabulary, dataType()).reshape(tokens.length, n, vocabulary);
    }

    /**
     * Appends n tokens to every row of the cache and returns the logits of the last one only, one
     * array of V per row (the output head is the most expensive product of a step; a prompt needs it
     * once, not once per token). The ND4J arrays a step makes live in a workspace of the calling
     * thread ({@link PassWorkspace}), whose memory the next step reuses; the cache's own arrays stay
     * outside it.
     */
    public double[][] lastLogits(KvCache cache, int[][] tokens) {
        try (MemoryWorkspace step = PassWorkspace.open(STEP_WORKSPACE_ID)) {
            double[] hidden = append(cache, tokens);
            int rows = tokens.length;
            int n = tokens[0].length;
            int width = hidden.length / (rows * n);
            double[] last = new double[rows * width];
            for (int r = 0; r < rows; r++) {
                System.arraycopy(hidden, (r * n + n - 1) * width, last, r * width, width);
            }
            double[] logits = head(last);
            int vocabulary = logits.length / rows;
            double[][] result = new double[rows][];
            for (int r = 0; r < rows; r++) {
                result[r] = Arrays.copyOfRange(logits, r * vocabulary, (r + 1) * vocabulary);
            }
            return result;
        }
    }

    /** The workspace of a generation step's arrays. */
    static final String STEP_WORKSPACE_ID = "SGDPO_GENERATION_STEP";

    private double[] append(KvCache cache, int[][] tokens) {
        if (tokens.length != cache.rows()) {
            throw new IllegalArgumentException(tokens.length + " rows of tokens for a cache of " + cache.rows());
        }
        int n = tokens[0].length;
        int[] ids = new int[tokens.length * n];
        for (int r = 0; r < tokens.length; r++) {
            if (tokens[r].length != n) {
                throw new IllegalArgumentException("every row must append the same number of tokens: row " + r
                        + " has " + tokens[r].length + ", row 0 " + n);
            }
            System.arraycopy(tokens[r], 0, ids, r * n, n);
        }
        int[] positions = cache.begin(n);
        for (int p : positions) {
            if (p >= maxPositions()) {
                throw new IllegalArgumentException("position " + p + " beyond the model's " + maxPositions());
            }
        }
        double[] hidden = hidden(cache, ids, positions);
        cache.end();
        return hidden;
    }
}
