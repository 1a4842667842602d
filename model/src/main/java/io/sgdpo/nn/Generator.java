package io.sgdpo.nn;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Generates a response from a decoder: greedy, or top-k sampling at a temperature. Generation
 * stops at EOS (not returned), after {@code maxNewTokens}, or when the sequence fills the
 * decoder's length T.
 */
public final class Generator {

    private final ComputationGraph decoder;
    private final PairedBatch layout;
    private final int length;
    private final int eosId;

    /**
     * @param decoder the decoder (e.g. loaded from a checkpoint)
     * @param length  its sequence length T ({@code model.maxLength})
     * @param eosId   end-of-response token id
     * @param padId   padding token id
     */
    public Generator(ComputationGraph decoder, int length, int eosId, int padId) {
        this.decoder = decoder;
        this.layout = new PairedBatch(length, padId);
        this.length = length;
        this.eosId = eosId;
    }

    /** The most likely token at each step. */
    public int[] greedy(int[] prompt, int maxNewTokens) {
        return greedy(List.of(prompt), maxNewTokens).get(0);
    }

    /**
     * Greedy responses of many prompts, decoded together: each forward pass extends every
     * unfinished row by one token (causal attention makes a row's padding invisible to its
     * earlier positions), so n prompts cost about maxNewTokens passes instead of n times that.
     */
    public List<int[]> greedy(List<int[]> prompts, int maxNewTokens) {
        int n = prompts.size();
        List<int[]> sequences = new ArrayList<>(n);
        int[] lengths = new int[n];
        List<List<Integer>> generated = new ArrayList<>(n);
        boolean[] done = new boolean[n];
        for (int i = 0; i < n; i++) {
            int[] prompt = prompts.get(i);
            checkPrompt(prompt);
            sequences.add(Arrays.copyOf(prompt, length));
            lengths[i] = prompt.length;
            generated.add(new ArrayList<>());
            done[i] = maxNewTokens <= 0;
        }
        while (true) {
            List<Integer> active = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                if (!done[i]) {
                    active.add(i);
                }
            }
            if (active.isEmpty()) {
                break;
            }
            List<int[]> rows = new ArrayList<>(active.size());
            for (int i : active) {
                rows.add(Arrays.copyOf(sequences.get(i), lengths[i]));
            }
            INDArray out = decoder.output(false, layout.inputs(rows, decoder.params().dataType()))[0]; // [a, V, T]
            for (int r = 0; r < active.size(); r++) {
                int i = active.get(r);
                int next = argMax(out.get(NDArrayIndex.point(r), NDArrayIndex.all(),
                        NDArrayIndex.point(lengths[i] - 1)).toDoubleVector());
                if (next == eosId) {
                    done[i] = true;
                    continue;
                }
                generated.get(i).add(next);
                sequences.get(i)[lengths[i]++] = next;
                done[i] = generated.get(i).size() >= maxNewTokens || lengths[i] >= length;
            }
        }
        List<int[]> result = new ArrayList<>(n);
        for (List<Integer> g : generated) {
            result.add(g.stream().mapToInt(Integer::intValue).toArray());
        }
        return result;
    }

    /**
     * Samples each token from the softmax of logits / temperature restricted to the topK most
     * likely tokens (topK = 0: all tokens).
     */
    public int[] sample(int[] prompt, int maxNewTokens, double temperature, int topK, Random random) {
        if (!(temperature > 0)) {
            throw new IllegalArgumentException("generation temperature must be > 0, got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("generation topK must be >= 0, got " + topK);
        }
        checkPrompt(prompt);
        int[] seq = Arrays.copyOf(prompt, length);
        int n = prompt.length;
        List<Integer> generated = new ArrayList<>();
        while (generated.size() < maxNewTokens && n < length) {
            INDArray input = layout.inputs(List.of(Arrays.copyOf(seq, n)), decoder.params().dataType());
            INDArray out = decoder.output(false, input)[0]; // [1, V, T]
            double[] logits = out.get(NDArrayIndex.point(0), NDArrayIndex.all(), NDArrayIndex.point(n - 1))
                    .toDoubleVector();
            int next = sampleTopK(logits, temperature, topK, random);
            if (next == eosId) {
                break;
            }
            generated.add(next);
            seq[n++] = next;
        }
        return generated.stream().mapToInt(Integer::intValue).toArray();
    }

    private void checkPrompt(int[] prompt) {
        if (prompt.length == 0 || prompt.length >= length) {
            throw new IllegalArgumentException("prompt of " + prompt.length + " tokens: need 1 to " + (length - 1));
        }
    }

    static int argMax(double[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        return best;
    }

    /**
     * One draw from softmax(logits / temperature) restricted to the topK largest logits (topK = 0:
     * all), consuming exactly one {@code random.nextDouble()}.
     */
    public static int sampleTopK(double[] logits, double temperature, int topK, Random random) {
        int v = logits.length;
        Integer[] order = new Integer[v];
        for (int i = 0; i < v; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Double.compare(logits[b], logits[a]));
        int keep = topK == 0 ? v : Math.min(topK, v);
        double max = logits[order[0]] / temperature;
        double[] weights = new double[keep];
        double total = 0;
        for (int j = 0; j < keep; j++) {
            weights[j] = Math.exp(logits[order[j]] / temperature - max);
            total += weights[j];
        }
        double u = random.nextDouble() * total;
        for (int j = 0; j < keep; j++) {
            u -= weights[j];
            if (u <= 0) {
                return order[j];
            }
        }
        return order[keep - 1];
    }
}
