package io.sgdpo.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.learning.config.Adam;

/** Greedy and top-k generation, on a decoder trained to continue one prompt with one response. */
class GeneratorTest {

    private static final DecoderConfig CONFIG = new DecoderConfig(12, 16, 1, 2, 10, 0.0, 5);

    @Test
    void greedyReproducesAMemorisedResponseAndStopsAtEos() {
        ComputationGraph decoder = Decoder.create(CONFIG, new SftLoss(), new Adam(1e-2), DataType.FLOAT);
        int[] prompt = {7, 3};
        int[] response = {9, 4, 11, 5, TinyPairs.EOS};
        PairedBatch layout = new PairedBatch(CONFIG.maxLength(), TinyPairs.PAD);
        var batch = layout.buildSequences(List.of(new PairExample("m", prompt, response, response)), DataType.FLOAT);
        for (int i = 0; i < 150; i++) {
            decoder.fit(batch);
        }
        Generator generator = new Generator(decoder, CONFIG.maxLength(), TinyPairs.EOS, TinyPairs.PAD);
        assertArrayEquals(new int[] {9, 4, 11, 5}, generator.greedy(prompt, 8), "memorised response, EOS not returned");
        assertArrayEquals(new int[] {9, 4}, generator.greedy(prompt, 2), "max new tokens");
        assertArrayEquals(generator.greedy(prompt, 8), generator.sample(prompt, 8, 1.0, 1, new Random(1)),
                "top-1 sampling is greedy");
        assertTrue(generator.greedy(new int[] {7, 3, 9, 4, 11, 5, 0, 2, 2}, 8).length <= 1, "stops at max length");
        assertThrows(IllegalArgumentException.class, () -> generator.sample(prompt, 3, 0.0, 5, new Random(1)));

        List<int[]> prompts = List.of(new int[] {7}, prompt, new int[] {3, 9, 4}, new int[] {7, 3, 9, 4, 11, 5, 0, 2, 2});
        // Exact tokens, on any CPU: a batch of unequal rows and a single row are different forward
        // passes, equal up to float32 rounding (about 1e-6 in the logits), while the two most likely
        // tokens at every step here are 0.3 or more apart, far more than rounding can close.
        List<int[]> together = generator.greedy(prompts, 8);
        assertEquals(prompts.size(), together.size());
        for (int i = 0; i < prompts.size(); i++) {
            assertArrayEquals(generator.greedy(prompts.get(i), 8), together.get(i),
                    "prompt " + i + ": decoding in a batch of unequal lengths changes nothing");
        }
    }

    @Test
    void topKSamplesOnlyTheKMostLikelyTokensWithSoftmaxWeights() {
        double[] logits = {0.0, 2.0, 1.0, -1.0, 1.5};
        Random random = new Random(3);
        int[] counts = new int[logits.length];
        int n = 40000;
        for (int i = 0; i < n; i++) {
            counts[Generator.sampleTopK(logits, 1.0, 2, random)]++;
        }
        assertEquals(0, counts[0] + counts[2] + counts[3], "only tokens 1 and 4 are in the top 2");
        double expected = Math.exp(2.0) / (Math.exp(2.0) + Math.exp(1.5));
        assertEquals(expected, counts[1] / (double) n, 0.01);
        // a high temperature flattens the distribution over all tokens
        int[] hot = new int[logits.length];
        for (int i = 0; i < n; i++) {
            hot[Generator.sampleTopK(logits, 100.0, 0, random)]++;
        }
        for (int c : hot) {
            assertEquals(0.2, c / (double) n, 0.02);
        }
    }
}
