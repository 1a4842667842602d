package io.sgdpo.nn;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.deeplearning4j.nn.graph.ComputationGraph;

/**
 * Generates responses from a language model of any {@link Architecture}: greedy, or top-k sampling
 * at a temperature. Generation stops at EOS (not returned), after {@code maxNewTokens}, or when the
 * sequence fills the model's length T.
 *
 * <p>With a key/value cache ({@link IncrementalDecoder}, {@link KvCache}): the prompts go through
 * the model once, then each step computes one new token per unfinished sequence, where a full
 * forward pass would recompute every position. Prompts are decoded together, left-padded to the
 * longest; a sequence that finishes leaves the batch. Each sequence's tokens depend on its prompt
 * (and, when sampling, on its own random source) only: the other sequences of a batch change
 * nothing but the float32 rounding of shared products (about 1e-6 in a logit).
 */
public final class Generator {

    private final ComputationGraph decoder;
    private final int length;
    private final int eosId;
    private final int padId;

    /**
     * @param decoder the model (e.g. loaded from a checkpoint)
     * @param length  its sequence length T ({@code model.maxLength}): prompt and response together
     *                stay below it
     * @param eosId   end-of-response token id (-1: none, generate maxNewTokens)
     * @param padId   padding token id
     */
    public Generator(ComputationGraph decoder, int length, int eosId, int padId) {
        this.decoder = decoder;
        this.length = length;
        this.eosId = eosId;
        this.padId = padId;
    }

    /** Chooses the next token of sequence {@code row} from its logits. */
    private interface Choice {
        int next(int row, double[] logits);
    }

    /** The most likely token at each step. */
    public int[] greedy(int[] prompt, int maxNewTokens) {
        return greedy(List.of(prompt), maxNewTokens).get(0);
    }

    /** Greedy responses of many prompts, decoded together (one forward step per new token for all). */
    public List<int[]> greedy(List<int[]> prompts, int maxNewTokens) {
        return generate(prompts, maxNewTokens, (row, logits) -> argMax(logits));
    }

    /**
     * Samples each token from the softmax of logits / temperature restricted to the topK most
     * likely tokens (topK = 0: all tokens).
     */
    public int[] sample(int[] prompt, int maxNewTokens, double temperature, int topK, Random random) {
        return sample(List.of(prompt), maxNewTokens, temperature, topK, List.of(random)).get(0);
    }

    /**
     * Samples responses of many prompts, decoded together, as {@link #sample(int[], int, double,
     * int, Random)}: prompt i draws from {@code randoms.get(i)} only, one draw per token, so that
     * its response depends on its prompt and its random source alone, not on the other prompts of
     * the batch nor on their order (e.g. give prompt i a {@code new Random(seed)} derived from a
     * run's seed and the prompt's id).
     */
    public List<int[]> sample(List<int[]> prompts, int maxNewTokens, double temperature, int topK,
                              List<Random> randoms) {
        if (!(temperature > 0)) {
            throw new IllegalArgumentException("generation temperature must be > 0, got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("generation topK must be >= 0, got " + topK);
        }
        if (randoms.size() != prompts.size()) {
            throw new IllegalArgumentException(prompts.size() + " prompts but " + randoms.size() + " random sources");
        }
        return generate(prompts, maxNewTokens, (row, logits) -> sampleTopK(logits, temperature, topK,
                randoms.get(row)));
    }

    private List<int[]> generate(List<int[]> prompts, int maxNewTokens, Choice choice) {
        int n = prompts.size();
        List<List<Integer>> generated = new ArrayList<>(n);
        int longest = 0;
        int steps = 0;
        for (int[] prompt : prompts) {
            checkPrompt(prompt);
            generated.add(new ArrayList<>());
            longest = Math.max(longest, prompt.length);
            steps = Math.max(steps, Math.min(maxNewTokens, length - prompt.length));
        }
        if (n == 0 || steps <= 0) {
            return result(generated);
        }
        return decode(prompts, maxNewTokens, choice, generated, longest, steps);
    }

    private List<int[]> decode(List<int[]> prompts, int maxNewTokens, Choice choice, List<List<Integer>> generated,
                               int longest, int steps) {
        int n = prompts.size();
        IncrementalDecoder model = IncrementalDecoder.of(decoder);
        int[] start = new int[n];
        int[][] tokens = new int[n][longest];
        for (int i = 0; i < n; i++) {
            int[] prompt = prompts.get(i);
            start[i] = longest - prompt.length;
            Arrays.fill(tokens[i], 0, start[i], padId);
            System.arraycopy(prompt, 0, tokens[i], start[i], prompt.length);
        }
        // the last token chosen is never fed back: one slot fewer than prompt + steps
        KvCache cache = model.newCache(start, longest + steps - 1);
        int[] lengths = new int[n];
        int[] active = new int[n]; // cache row -> prompt index
        for (int i = 0; i < n; i++) {
            lengths[i] = prompts.get(i).length;
            active[i] = i;
        }
        double[][] logits = model.lastLogits(cache, tokens); // [active][V]
        while (true) {
            int[] next = new int[active.length];
            int[] still = new int[active.length];
            int kept = 0;
            for (int r = 0; r < active.length; r++) {
                int i = active[r];
                next[r] = choice.next(i, logits[r]);
                if (next[r] == eosId) {
                    continue;
                }
                generated.get(i).add(next[r]);
                lengths[i]++;
                if (generated.get(i).size() < maxNewTokens && lengths[i] < length) {
                    still[kept++] = r;
                }
            }
            if (kept == 0) {
                break;
            }
            int[][] step = new int[kept][];
            int[] nextActive = new int[kept];
            for (int r = 0; r < kept; r++) {
                step[r] = new int[] {next[still[r]]};
                nextActive[r] = active[still[r]];
            }
            if (kept < active.length) {
                cache.keep(Arrays.copyOf(still, kept));
            }
            active = nextActive;
            logits = model.lastLogits(cache, step);
        }
        return result(generated);
    }

    private static List<int[]> result(List<List<Integer>> generated) {
        List<int[]> result = new ArrayList<>(generated.size());
        for (List<Integer> g : generated) {
            result.add(g.stream().mapToInt(Integer::intValue).toArray());
        }
        return result;
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
        int[] order = mostLikely(logits, topK == 0 ? logits.length : Math.min(topK, logits.length));
        int keep = order.length;
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

    /**
     * The k most likely token ids, most likely first, ties in id order. A bounded heap: k of them
     * cost V log k, not the V log V of sorting a vocabulary of 50,000 at every token.
     */
    static int[] mostLikely(double[] logits, int k) {
        // the heap's root is the least likely of the best so far
        java.util.Comparator<Integer> worseFirst = (a, b) -> {
            int byLogit = Double.compare(logits[a], logits[b]);
            return byLogit != 0 ? byLogit : Integer.compare(b, a);
        };
        java.util.PriorityQueue<Integer> best = new java.util.PriorityQueue<>(k, worseFirst);
        for (int i = 0; i < logits.length; i++) {
            if (best.size() < k) {
                best.add(i);
            } else if (worseFirst.compare(i, best.peek()) > 0) {
                best.poll();
                best.add(i);
            }
        }
        int[] order = new int[best.size()];
        for (int j = order.length - 1; j >= 0; j--) {
            order[j] = best.poll();
        }
        return order;
    }
}
