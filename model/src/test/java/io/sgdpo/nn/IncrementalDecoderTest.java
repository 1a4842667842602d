package io.sgdpo.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sgdpo.nn.gpt2.Gpt2Step;
import io.sgdpo.nn.llama.LlamaStep;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Adam;

/**
 * The key/value-cached step of every architecture against the training graph's full forward pass:
 * the logits of every token, and greedy generation.
 *
 * <p>The models have random weights of standard deviation 0.5 (not the 0.02 of initialisation), so
 * that their logits are far from uniform and a wrong position, mask or head shows as an error of
 * order 1. Logits: a tolerance derived from float32 rounding. The two paths compute the same
 * function with the same float32 weights but in other operations (one row instead of T, another
 * summation order in the products, RoPE and scaling applied in another order), so they differ by
 * rounding only: each product of length n <= 4d rounds with a relative error of about sqrt(n) u
 * (u = 2^-24, random-walk accumulation), compounded over 2 products per sublayer, 2 sublayers per
 * block and the head. 64 u per block and sublayer product, relative to the largest logit (about
 * 1.2e-4 here), covers that with a wide margin (measured: at most 2.5e-6, under 1e-6 of the
 * largest logit) and stays far below the errors of order 1 that a wrong position or mask causes. Greedy ids must be identical: the top
 * two logits of these models are far more than that tolerance apart.
 */
class IncrementalDecoderTest {

    private static final int VOCAB = 40;
    private static final int LENGTH = 12;
    private static final int PAD = 0;
    private static final double U = Math.ulp(1.0f) / 2; // float32 unit roundoff, 2^-24

    static ComputationGraph model(String kind) {
        Map<String, Object> m = new HashMap<>(Map.of("dModel", 16, "heads", 4, "layers", 2, "maxLength", LENGTH));
        switch (kind) {
            case "decoder" -> m.put("architecture", "decoder");
            case "gpt2" -> m.put("architecture", "gpt2");
            case "llama-gqa-tied" -> m.putAll(Map.of("architecture", "llama", "kvHeads", 2));
            case "llama-qwen2-untied" -> m.putAll(Map.of("architecture", "llama", "kvHeads", 2, "qkvBias", true,
                    "tieEmbeddings", false, "ropeTheta", 1e6, "normEps", 1e-6));
            default -> throw new IllegalArgumentException(kind);
        }
        ComputationGraph graph = LanguageModels.create(LanguageModelsTest.model(m), VOCAB, new SftLoss(),
                new Optimization(new Adam(1e-3), 0, 0), DataType.FLOAT);
        Nd4j.getRandom().setSeed(kind.hashCode());
        graph.params().assign(Nd4j.randn(DataType.FLOAT, graph.params().shape()).muli(0.5));
        return graph;
    }

    @ParameterizedTest
    @ValueSource(strings = {"decoder", "gpt2", "llama-gqa-tied", "llama-qwen2-untied"})
    void cachedLogitsAtEveryPositionEqualTheFullForward(String kind) {
        ComputationGraph graph = model(kind);
        IncrementalDecoder step = IncrementalDecoder.of(graph);
        assertEquals(switch (kind) {
            case "decoder" -> DecoderStep.class;
            case "gpt2" -> Gpt2Step.class;
            default -> LlamaStep.class;
        }, step.getClass());
        Random random = new Random(7);
        int[] promptLengths = {4, 2, 3};
        int singleSteps = 4;
        int chunk = 2;
        int rows = promptLengths.length;
        List<int[]> sequences = new ArrayList<>();
        for (int length : promptLengths) {
            sequences.add(random.ints(length + singleSteps + chunk, 1, VOCAB).toArray());
        }
        INDArray full = graph.output(false, new PairedBatch(LENGTH, PAD).inputs(sequences, DataType.FLOAT))[0];

        // the prompts left-padded and appended at once, then one token per step, then two at once
        int longest = 4;
        int[] start = new int[rows];
        int[][] prompts = new int[rows][longest];
        for (int r = 0; r < rows; r++) {
            start[r] = longest - promptLengths[r];
            System.arraycopy(sequences.get(r), 0, prompts[r], start[r], promptLengths[r]);
        }
        KvCache cache = step.newCache(start, longest + singleSteps + chunk);
        List<INDArray> logits = new ArrayList<>(); // [rows, n, V] per call
        logits.add(step.logits(cache, prompts));
        for (int s = 0; s < singleSteps; s++) {
            int[][] tokens = new int[rows][1];
            for (int r = 0; r < rows; r++) {
                tokens[r][0] = sequences.get(r)[promptLengths[r] + s];
            }
            logits.add(step.logits(cache, tokens));
        }
        int[][] pair = new int[rows][chunk];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(sequences.get(r), promptLengths[r] + singleSteps, pair[r], 0, chunk);
        }
        logits.add(step.logits(cache, pair));
        INDArray cached = Nd4j.concat(1, logits.toArray(new INDArray[0])); // [rows, slots, V]

        double tolerance = tolerance(graph, full);
        double worst = 0;
        for (int r = 0; r < rows; r++) {
            for (int t = 0; t < sequences.get(r).length; t++) {
                INDArray expected = full.get(NDArrayIndex.point(r), NDArrayIndex.all(), NDArrayIndex.point(t));
                INDArray actual = cached.get(NDArrayIndex.point(r), NDArrayIndex.point(start[r] + t), NDArrayIndex.all());
                double error = expected.sub(actual).amaxNumber().doubleValue();
                worst = Math.max(worst, error);
                assertTrue(error <= tolerance, kind + ": row " + r + ", position " + t + ": logits differ by " + error
                        + " > " + tolerance);
            }
        }
        System.out.printf("%s: largest logit %.3f, worst error %.2e, tolerance %.2e%n", kind,
                full.amaxNumber().doubleValue(), worst, tolerance);
    }

    /** The class comment's float32 rounding bound: 64 u per product, relative to the largest logit. */
    private static double tolerance(ComputationGraph graph, INDArray full) {
        return 64 * U * (2 * 2 * LanguageModels.describe(graph.getConfiguration()).layers() + 1)
                * full.amaxNumber().doubleValue();
    }

    /**
     * One sequence alone: after its prompt every step has a single row, whose products
     * ({@link StepProducts}) are matrix-vector products, another path than the rows of a batch.
     */
    @ParameterizedTest
    @ValueSource(strings = {"decoder", "gpt2", "llama-gqa-tied", "llama-qwen2-untied"})
    void aSingleSequenceStepByStepEqualsTheFullForward(String kind) {
        ComputationGraph graph = model(kind);
        IncrementalDecoder step = IncrementalDecoder.of(graph);
        int[] sequence = new Random(11).ints(LENGTH, 1, VOCAB).toArray();
        INDArray full = graph.output(false, new PairedBatch(LENGTH, PAD).inputs(List.of(sequence), DataType.FLOAT))[0];
        int prompt = 3;
        KvCache cache = step.newCache(new int[] {0}, LENGTH);
        step.logits(cache, new int[][] {Arrays.copyOf(sequence, prompt)});
        double tolerance = tolerance(graph, full);
        for (int t = prompt; t < LENGTH; t++) {
            INDArray actual = step.logits(cache, new int[][] {{sequence[t]}}); // [1, 1, V]
            INDArray expected = full.get(NDArrayIndex.point(0), NDArrayIndex.all(), NDArrayIndex.point(t));
            double error = expected.sub(actual.reshape(expected.shape())).amaxNumber().doubleValue();
            assertTrue(error <= tolerance, kind + ": position " + t + ": logits differ by " + error + " > " + tolerance);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"decoder", "gpt2", "llama-gqa-tied", "llama-qwen2-untied"})
    void greedyIdsEqualTheUncachedPath(String kind) {
        ComputationGraph graph = model(kind);
        List<int[]> prompts = List.of(new int[] {5}, new int[] {3, 9, 4, 1}, new int[] {7, 7, 2},
                new int[] {8, 30, 2, 11, 6, 19, 25, 4, 13, 22, 17});
        List<int[]> expected = uncachedGreedy(graph, prompts, -1, 8);
        Generator generator = new Generator(graph, LENGTH, -1, PAD);
        List<int[]> together = generator.greedy(prompts, 8);
        for (int i = 0; i < prompts.size(); i++) {
            assertEquals(Math.min(8, LENGTH - prompts.get(i).length), expected.get(i).length, "8 or up to T");
            assertArrayEquals(expected.get(i), together.get(i), kind + ": prompt " + i + " in a batch");
            assertArrayEquals(expected.get(i), generator.greedy(prompts.get(i), 8), kind + ": prompt " + i + " alone");
        }
        // an EOS that the second prompt produces at its third step: that row leaves the batch early
        int eos = expected.get(1)[2];
        Generator stopping = new Generator(graph, LENGTH, eos, PAD);
        List<int[]> stopped = stopping.greedy(prompts, 5);
        List<int[]> stoppedUncached = uncachedGreedy(graph, prompts, eos, 5);
        for (int i = 0; i < prompts.size(); i++) {
            assertArrayEquals(stoppedUncached.get(i), stopped.get(i), kind + ": prompt " + i + " with EOS " + eos);
        }
        assertTrue(stopped.get(1).length <= 2, "the second prompt stops at EOS");
    }

    /**
     * Batched sampling: each prompt draws from its own random source only, so its sample is the
     * same alone, in a batch, in another order and beside other prompts. Exact tokens: the batch
     * changes a logit by float32 rounding only (about 1e-6 here), and a draw changes only if its
     * uniform number falls within that of a boundary between two tokens' cumulative weights.
     */
    @Test
    void batchedSamplesDependOnlyOnSeedAndPrompt() {
        ComputationGraph graph = model("llama-gqa-tied");
        List<int[]> prompts = List.of(new int[] {5}, new int[] {3, 9, 4, 1}, new int[] {7, 7, 2},
                new int[] {8, 30, 2, 11, 6});
        long[] seeds = {11, 12, 13, 14};
        // an EOS that the first prompt samples second: its row leaves the batch early
        int eos = new Generator(graph, LENGTH, -1, PAD).sample(prompts.get(0), 8, 1.5, 0, new Random(seeds[0]))[1];
        Generator generator = new Generator(graph, LENGTH, eos, PAD);
        List<int[]> together = generator.sample(prompts, 8, 1.5, 0, randoms(seeds, 0, 1, 2, 3));
        List<int[]> reversed = generator.sample(List.of(prompts.get(3), prompts.get(2), prompts.get(1),
                prompts.get(0)), 8, 1.5, 0, randoms(seeds, 3, 2, 1, 0));
        List<int[]> pair = generator.sample(List.of(prompts.get(2), prompts.get(0)), 8, 1.5, 0, randoms(seeds, 2, 0));
        for (int i = 0; i < prompts.size(); i++) {
            int[] alone = generator.sample(prompts.get(i), 8, 1.5, 0, new Random(seeds[i]));
            assertArrayEquals(alone, together.get(i), "prompt " + i + " in a batch");
            assertArrayEquals(alone, reversed.get(3 - i), "prompt " + i + " in the reversed batch");
        }
        assertArrayEquals(together.get(2), pair.get(0));
        assertArrayEquals(together.get(0), pair.get(1));
        assertEquals(1, together.get(0).length, "the first prompt stops at EOS");
        List<int[]> otherSeeds = generator.sample(prompts, 8, 1.5, 0, randoms(new long[] {21, 22, 23, 24}, 0, 1, 2, 3));
        boolean differs = false;
        for (int i = 0; i < prompts.size(); i++) {
            differs |= !Arrays.equals(together.get(i), otherSeeds.get(i));
        }
        assertTrue(differs, "other seeds, other samples");
    }

    private static List<Random> randoms(long[] seeds, int... order) {
        List<Random> randoms = new ArrayList<>();
        for (int i : order) {
            randoms.add(new Random(seeds[i]));
        }
        return randoms;
    }

    /**
     * What Generator computed before the cache: a full forward pass of every unfinished sequence
     * (right-padded to T; causal attention keeps the padding out of earlier positions) per new token.
     */
    static List<int[]> uncachedGreedy(ComputationGraph graph, List<int[]> prompts, int eos, int maxNewTokens) {
        PairedBatch layout = new PairedBatch(LENGTH, PAD);
        List<List<Integer>> sequences = new ArrayList<>();
        List<List<Integer>> generated = new ArrayList<>();
        List<Integer> active = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            List<Integer> sequence = new ArrayList<>();
            for (int id : prompts.get(i)) {
                sequence.add(id);
            }
            sequences.add(sequence);
            generated.add(new ArrayList<>());
            active.add(i);
        }
        while (!active.isEmpty()) {
            List<int[]> rows = new ArrayList<>();
            for (int i : active) {
                rows.add(sequences.get(i).stream().mapToInt(Integer::intValue).toArray());
            }
            INDArray out = graph.output(false, layout.inputs(rows, DataType.FLOAT))[0];
            List<Integer> still = new ArrayList<>();
            for (int r = 0; r < rows.size(); r++) {
                int i = active.get(r);
                int next = Generator.argMax(out.get(NDArrayIndex.point(r), NDArrayIndex.all(),
                        NDArrayIndex.point(rows.get(r).length - 1)).toDoubleVector());
                if (next == eos) {
                    continue;
                }
                generated.get(i).add(next);
                sequences.get(i).add(next);
                if (generated.get(i).size() < maxNewTokens && sequences.get(i).size() < LENGTH) {
                    still.add(i);
                }
            }
            active = still;
        }
        List<int[]> result = new ArrayList<>();
        for (List<Integer> g : generated) {
            result.add(g.stream().mapToInt(Integer::intValue).toArray());
        }
        return result;
    }
}
