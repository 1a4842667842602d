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
        return generate(prompt, maxNewTokens, logits -> argMax(logits));
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
        return generate(prompt, maxNewTokens, logits -> sampleTopK(logits, temperature, topK, random));
    }

    private interface Picker {
        int pick(double[] logits);
    }

    private int[] generate(int[] prompt, int maxNewTokens, Picker picker) {
        if (prompt.length == 0 || prompt.length >= length) {
            throw new IllegalArgumentException("prompt of " + prompt.length + " tokens: need 1 to " + (length - 1));
        }
        int[] seq = Arrays.copyOf(prompt, length);
        int n = prompt.length;
        List<Integer> generated = new ArrayList<>();
        while (generated.size() < maxNewTokens && n < length) {
            INDArray input = layout.inputs(List.of(Arrays.copyOf(seq, n)), decoder.params().dataType());
            INDArray out = decoder.output(false, input)[0]; // [1, V, T]
            double[] logits = out.get(NDArrayIndex.point(0), NDArrayIndex.all(), NDArrayIndex.point(n - 1))
                    .toDoubleVector();
            int next = picker.pick(logits);
            if (next == eosId) {
                break;
            }
            generated.add(next);
            seq[n++] = next;
        }
        return generated.stream().mapToInt(Integer::intValue).toArray();
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

    static int sampleTopK(double[] logits, double temperature, int topK, Random random) {
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
