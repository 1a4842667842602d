package io.sgdpo.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sgdpo.loss.LossSpec;
import io.sgdpo.loss.Losses;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.learning.config.NoOp;

/**
 * The decoder's blocks and final norm with their passes written out ({@link DirectPasses}) against
 * the same layers run from their SameDiff graphs (DL4J's path, the layers' definition), on the same
 * parameters and minibatch. The forward pass runs the same libnd4j ops on the same operands in the
 * same order, so it is compared bit for bit (float32, one machine). The backward pass adds the
 * three branches of the attention's input in another order and folds the scores' scale into the
 * products, so gradients are compared within rounding, in double precision, where that rounding is
 * 1e-16 of a value and any mistake is far above the bound. {@code DecoderGradientCheckTest} checks
 * the same passes against finite differences.
 */
class DirectPassesTest {

    private static final LossSpec SPEC = new LossSpec("sgdpo", 0.2, 0.6, 0.9, 0.0, 0.5);
    private static final int VOCAB = 31;
    private static final int LENGTH = 12;
    private static final DecoderConfig CONFIG = new DecoderConfig(VOCAB, 16, 2, 4, LENGTH, 0.0, 9);

    private static ComputationGraph decoder(DataType type, boolean direct) {
        ComputationGraph graph = Decoder.create(CONFIG, new PairedPreferenceLoss(SPEC), new NoOp(), type);
        List<DirectPasses> layers = directLayers(graph);
        assertEquals(CONFIG.layers() + 1, layers.size(), "the blocks and the final norm");
        layers.forEach(layer -> layer.setDirect(direct));
        return graph;
    }

    private static List<DirectPasses> directLayers(ComputationGraph graph) {
        List<DirectPasses> layers = new ArrayList<>();
        for (Layer layer : graph.getLayers()) {
            if (layer instanceof DirectPasses direct) {
                layers.add(direct);
            }
        }
        return layers;
    }

    private static DataSet batch(DataType type, long seed) {
        List<PairExample> pairs = TinyPairs.random(3, VOCAB, LENGTH, true, seed);
        return new PairedBatch(LENGTH, TinyPairs.PAD).build(pairs, Losses.create(SPEC), 3, 0, type);
    }

    @Test
    void theForwardPassIsSameDiffsBitForBit() {
        ComputationGraph direct = decoder(DataType.FLOAT, true);
        ComputationGraph sameDiff = decoder(DataType.FLOAT, false);
        sameDiff.setParams(direct.params());
        DataSet batch = batch(DataType.FLOAT, 4);
        for (boolean training : new boolean[] {false, true}) {
            Map<String, INDArray> expected = sameDiff.feedForward(batch.getFeatures(), training);
            Map<String, INDArray> actual = direct.feedForward(batch.getFeatures(), training);
            for (String name : List.of("block0", "block1", "norm", Decoder.OUTPUT)) {
                assertArrayEquals(expected.get(name).dup('c').data().asFloat(), actual.get(name).dup('c').data().asFloat(),
                        name + (training ? ", training" : ""));
            }
        }
        assertFalse(directLayers(direct).stream().anyMatch(DirectPasses::builtSameDiff), "SameDiff ran");
    }

    @Test
    void gradientsAreSameDiffsWithinDoubleRounding() {
        ComputationGraph direct = decoder(DataType.DOUBLE, true);
        ComputationGraph sameDiff = decoder(DataType.DOUBLE, false);
        sameDiff.setParams(direct.params());
        for (long seed : new long[] {5, 6}) { // twice: nothing the first step keeps may leak into the second
            DataSet batch = batch(DataType.DOUBLE, seed);
            for (ComputationGraph graph : List.of(direct, sameDiff)) {
                graph.setInput(0, batch.getFeatures());
                graph.setLabel(0, batch.getLabels());
                graph.computeGradientAndScore();
            }
            assertEquals(sameDiff.score(), direct.score(), 1e-12 * Math.abs(sameDiff.score()), "score");
            // relative to the whole gradient's largest entry: the key bias's gradient is zero but for
            // rounding (a shift of every key's score by the same amount leaves the softmax as it is)
            double largest = sameDiff.gradient().gradient().amaxNumber().doubleValue();
            assertTrue(largest > 0, "no gradient");
            for (String name : sameDiff.paramTable().keySet()) {
                INDArray expected = sameDiff.gradient().getGradientFor(name);
                double difference = expected.sub(direct.gradient().getGradientFor(name)).amaxNumber().doubleValue();
                assertTrue(difference <= 1e-12 * largest, name + ": off by " + difference + ", largest entry "
                        + expected.amaxNumber() + " of the gradient's " + largest);
            }
        }
        assertFalse(directLayers(direct).stream().anyMatch(DirectPasses::builtSameDiff), "SameDiff ran");
        assertTrue(directLayers(sameDiff).stream().allMatch(DirectPasses::builtSameDiff), "the reference did not run");
    }
}
