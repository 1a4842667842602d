package io.sgdpo.online;

import io.sgdpo.loss.PairLogProbs;
import io.sgdpo.nn.Generator;
import io.sgdpo.nn.LanguageModels;
import io.sgdpo.nn.PairExample;
import io.sgdpo.nn.PairedBatch;
import io.sgdpo.nn.SequenceLogProbs;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Top-k sampling of many rows decoded together, each row drawing from its own {@link Random}, so
 * that a row's draws depend on its prompt and its generator only, not on which rows share its
 * batch (up to the last bits of the logits, which a batch's size can change); and the summed
 * log-probs of sampled sequences, for rewards-versus-KL. Each forward pass extends every
 * unfinished row by one token, as {@link Generator#greedy(List, int)} does; each draw is
 * {@link Generator#sampleTopK}.
 */
public final class BatchSampler {

    /**
     * One sampled continuation.
     *
     * @param tokens the sampled ids, without EOS
     * @param ended  whether the model drew EOS (else it stopped at the token limit or the model's length)
     */
    public record Draw(int[] tokens, boolean ended) {
        /** The ids whose probability the model gave: the tokens, then EOS when it ended there. */
        public int[] scored(int eosId) {
            if (!ended) {
                return tokens;
            }
            int[] out = Arrays.copyOf(tokens, tokens.length + 1);
            out[tokens.length] = eosId;
            return out;
        }
    }

    private final ComputationGraph model;
    private final PairedBatch layout;
    private final int length;
    private final int eosId;

    public BatchSampler(ComputationGraph model, int eosId, int padId) {
        this.model = model;
        this.length = LanguageModels.describe(model.getConfiguration()).maxLength();
        this.layout = PairedBatch.forModel(model, padId);
        this.eosId = eosId;
    }

    /** The model's sequence length T: a prompt needs fewer ids. */
    public int length() {
        return length;
    }

    /**
     * @param prompts      one prompt per row, 1 to T - 1 ids
     * @param randoms      one generator per row
     * @param temperature  > 0
     * @param topK         0: every token
     */
    public List<Draw> sample(List<int[]> prompts, List<Random> randoms, int maxNewTokens, double temperature,
                             int topK) {
        int n = prompts.size();
        if (randoms.size() != n) {
            throw new IllegalArgumentException(n + " prompts but " + randoms.size() + " generators");
        }
        int[][] sequences = new int[n][];
        int[] lengths = new int[n];
        List<List<Integer>> generated = new ArrayList<>(n);
        boolean[] done = new boolean[n];
        boolean[] ended = new boolean[n];
        for (int i = 0; i < n; i++) {
            int[] prompt = prompts.get(i);
            if (prompt.length == 0 || prompt.length >= length) {
                throw new IllegalArgumentException("prompt of " + prompt.length + " ids: need 1 to " + (length - 1));
            }
            sequences[i] = Arrays.copyOf(prompt, length);
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
                rows.add(Arrays.copyOf(sequences[i], lengths[i]));
            }
            INDArray out = model.output(false, layout.inputs(rows, model.params().dataType()))[0]; // [a, V, T]
            for (int r = 0; r < active.size(); r++) {
                int i = active.get(r);
                double[] logits = out.get(NDArrayIndex.point(r), NDArrayIndex.all(),
                        NDArrayIndex.point(lengths[i] - 1)).toDoubleVector();
                int next = Generator.sampleTopK(logits, temperature, topK, randoms.get(i));
                if (next == eosId) {
                    done[i] = true;
                    ended[i] = true;
                    continue;
                }
                generated.get(i).add(next);
                sequences[i][lengths[i]++] = next;
                done[i] = generated.get(i).size() >= maxNewTokens || lengths[i] >= length;
            }
        }
        List<Draw> draws = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            draws.add(new Draw(generated.get(i).stream().mapToInt(Integer::intValue).toArray(), ended[i]));
        }
        return draws;
    }

    /**
     * log p(response | prompt) under the model, summed over the response's ids, for each row: the
     * same per-token log-probs training uses ({@link SequenceLogProbs}).
     *
     * @param responses non-empty; prompt + response at most T + 1 ids
     */
    public double[] logProbSums(List<int[]> prompts, List<int[]> responses, int batchSize) {
        double[] sums = new double[prompts.size()];
        for (int from = 0; from < prompts.size(); from += batchSize) {
            int to = Math.min(prompts.size(), from + batchSize);
            List<PairExample> rows = new ArrayList<>(to - from);
            for (int i = from; i < to; i++) {
                // The pair layout scores two responses per prompt; the one response twice keeps it simple.
                rows.add(new PairExample(Integer.toString(i), prompts.get(i), responses.get(i), responses.get(i)));
            }
            List<PairLogProbs> logps = SequenceLogProbs.of(model, layout, rows);
            for (int i = from; i < to; i++) {
                sums[i] = logps.get(i - from).policyChosenSum();
            }
        }
        return sums;
    }
}
