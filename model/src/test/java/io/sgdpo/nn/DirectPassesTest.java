package io.sgdpo.nn;

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
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.custom.LayerNorm;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.NoOp;

/**
 * The decoder's position embedding, blocks and final norm with their passes written out ({@link
 * DirectPasses}) against the same layers run from their SameDiff graphs (DL4J's path, the layers'
 * definition), on the same parameters and minibatch. The passes compute the same functions by other
 * ops (the layer norm's statistics as products, the GELU's derivative from its sigmoid, the three
 * branches of the attention's input added in another order), so activations, score and gradients
 * are compared within rounding, in double precision, where that rounding is about 1e-16 of a value
 * and any mistake lands far above the bound. {@code DecoderGradientCheckTest} checks the same
 * passes against finite differences.
 */
class DirectPassesTest {

    private static final LossSpec SPEC = new LossSpec("sgdpo", 0.2, 0.6, 0.9, 0.0, 0.5);
    private static final int VOCAB = 31;
    private static final int LENGTH = 12;
    private static final DecoderConfig CONFIG = new DecoderConfig(VOCAB, 16, 2, 4, LENGTH, 0.0, 9);

    private static ComputationGraph decoder(DataType type, boolean direct) {
        ComputationGraph graph = Decoder.create(CONFIG, new PairedPreferenceLoss(SPEC), new NoOp(), type);
        List<DirectPasses> layers = directLayers(graph);
        assertEquals(CONFIG.layers() + 2, layers.size(), "the positions, the blocks and the final norm");
        layers.forEach(layer -> layer.setDirect(direct));
        return graph;
    }

    /** A decoder with {@code direct}'s parameters whose layers run SameDiff's passes: the reference. */
    private static ComputationGraph throughSameDiff(ComputationGraph direct) {
        ComputationGraph sameDiff = decoder(direct.params().dataType(), false);
        sameDiff.setParams(direct.params());
        return sameDiff;
    }

    /** The layers of the graph that run their passes written out. */
    static List<DirectPasses> directLayers(ComputationGraph graph) {
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
    void theForwardPassIsSameDiffsWithinDoubleRounding() {
        ComputationGraph direct = decoder(DataType.DOUBLE, true);
        ComputationGraph sameDiff = throughSameDiff(direct);
        DataSet batch = batch(DataType.DOUBLE, 4);
        for (boolean training : new boolean[] {false, true}) {
            Map<String, INDArray> expected = sameDiff.feedForward(batch.getFeatures(), training);
            Map<String, INDArray> actual = direct.feedForward(batch.getFeatures(), training);
            for (String name : List.of("pos", "block0", "block1", "norm", Decoder.OUTPUT)) {
                double largest = expected.get(name).amaxNumber().doubleValue();
                double difference = expected.get(name).sub(actual.get(name)).amaxNumber().doubleValue();
                assertTrue(largest > 0 && difference <= 1e-12 * largest, name + (training ? ", training" : "")
                        + ": off by " + difference + ", largest " + largest);
            }
        }
        assertFalse(directLayers(direct).stream().anyMatch(DirectPasses::builtSameDiff), "SameDiff ran");
    }

    @Test
    void gradientsAreSameDiffsWithinDoubleRounding() {
        ComputationGraph direct = decoder(DataType.DOUBLE, true);
        ComputationGraph sameDiff = throughSameDiff(direct);
        for (long seed : new long[] {5, 6}) { // twice: nothing the first step keeps may leak into the second
            assertSameStep("decoder", sameDiff, direct, batch(DataType.DOUBLE, seed), 1e-12);
        }
        assertFalse(directLayers(direct).stream().anyMatch(DirectPasses::builtSameDiff), "SameDiff ran");
        assertTrue(directLayers(sameDiff).stream().allMatch(DirectPasses::builtSameDiff), "the reference did not run");
    }

    /** Training runs in float32: one step against SameDiff's within float32 rounding. */
    @Test
    void float32GradientsAreSameDiffsWithinFloatRounding() {
        ComputationGraph direct = decoder(DataType.FLOAT, true);
        ComputationGraph sameDiff = throughSameDiff(direct);
        assertSameStep("decoder", sameDiff, direct, batch(DataType.FLOAT, 7), 1e-5);
    }

    /**
     * One training step of each graph on the batch: the scores within {@code tolerance} of the
     * score, every parameter's gradient within {@code tolerance} of the whole gradient's largest
     * entry (the key bias's gradient is zero but for rounding: a shift of every key's score by the
     * same amount leaves the softmax as it is). {@code label} names the model in a failure.
     */
    static void assertSameStep(String label, ComputationGraph sameDiff, ComputationGraph direct, DataSet batch,
                               double tolerance) {
        step(direct, batch);
        step(sameDiff, batch);
        assertEquals(sameDiff.score(), direct.score(), tolerance * Math.abs(sameDiff.score()), label + ": score");
        double largest = sameDiff.gradient().gradient().amaxNumber().doubleValue();
        assertTrue(largest > 0, label + ": no gradient");
        for (String name : sameDiff.paramTable().keySet()) {
            INDArray expected = sameDiff.gradient().getGradientFor(name);
            double difference = expected.sub(direct.gradient().getGradientFor(name)).amaxNumber().doubleValue();
            assertTrue(difference <= tolerance * largest, label + " " + name + ": off by " + difference
                    + ", largest entry " + expected.amaxNumber() + " of the gradient's " + largest);
        }
    }

    /** One score and gradient of {@code graph} on {@code batch}. */
    static void step(ComputationGraph graph, DataSet batch) {
        graph.setInput(0, batch.getFeatures());
        graph.setLabel(0, batch.getLabels());
        graph.computeGradientAndScore();
    }

    /**
     * The same pairs padded to the model's length ({@code full}) and to a shorter one ({@code
     * shorter}) are the same step of {@code graph}: the scores within {@code tolerance} of the score,
     * the gradients within {@code tolerance} of the full step's largest entry. Returns the shorter
     * step's gradient; {@code label} names the case in a failure.
     */
    static INDArray assertSameStepShorter(String label, ComputationGraph graph, DataSet full, DataSet shorter,
                                          double tolerance) {
        step(graph, full);
        double score = graph.score();
        INDArray gradient = graph.gradient().gradient().dup();
        step(graph, shorter);
        assertEquals(score, graph.score(), tolerance * Math.abs(score), label + ": score");
        double largest = gradient.amaxNumber().doubleValue();
        double difference = gradient.sub(graph.gradient().gradient()).amaxNumber().doubleValue();
        assertTrue(largest > 0 && difference <= tolerance * largest, label + ": gradient off by " + difference
                + ", largest " + largest);
        return graph.gradient().gradient().dup();
    }

    /**
     * A minibatch padded to its own longest row ({@link PairedBatch#forModel}, 8 positions here of the
     * model's 12) is the same training step as the same pairs padded to the model's length: padding
     * comes after every real position, which causal attention keeps from seeing it, and its targets
     * are not scored. Within rounding (the products and the softmax sum over fewer exact zeros):
     * 1e-12 in double precision, 1e-5 in float32. The positions the shorter minibatch does not reach
     * get a gradient of exactly 0, as padding's positions do in the longer one, even after a step that
     * reached them.
     */
    @Test
    void aMinibatchShorterThanTheModelIsTheSameStep() {
        for (DataType type : List.of(DataType.DOUBLE, DataType.FLOAT)) {
            double tolerance = type == DataType.DOUBLE ? 1e-12 : 1e-5;
            ComputationGraph graph = decoder(type, true);
            List<PairExample> pairs = TinyPairs.random(3, VOCAB, 7, true, 8); // rows of at most 5 positions
            var loss = Losses.create(SPEC);
            DataSet full = new PairedBatch(LENGTH, TinyPairs.PAD).build(pairs, loss, 3, 0, type);
            DataSet shorter = PairedBatch.forModel(graph, TinyPairs.PAD).build(pairs, loss, 3, 0, type);
            assertEquals(8, shorter.getFeatures().size(2), type + ": the minibatch's length");
            assertSameStepShorter(type.toString(), graph, full, shorter, tolerance);
            // after a step on rows of the model's whole length, the shorter step must clear what it does not reach
            step(graph, batch(type, 4));
            step(graph, shorter);
            INDArray positions = graph.gradient().getGradientFor("pos_wpos").reshape('c', CONFIG.dModel(), LENGTH);
            assertEquals(0.0, positions.get(NDArrayIndex.all(), NDArrayIndex.interval(8, LENGTH)).amaxNumber()
                    .doubleValue(), type + ": positions past the minibatch's length");
            assertTrue(positions.get(NDArrayIndex.all(), NDArrayIndex.interval(0, 5)).amaxNumber().doubleValue() > 0,
                    type + ": positions of its rows");
        }
        assertFalse(directLayers(decoder(DataType.FLOAT, true)).stream().anyMatch(DirectPasses::builtSameDiff));
    }

    /**
     * libnd4j's layer norm maps a constant row (zero deviation) to 0 rather than NaN; the written-out
     * one must too, and give that row a finite gradient. Compared with the op within float32 rounding.
     */
    @Test
    void aConstantRowNormalisesToZeroAsLibnd4jsLayerNormDoes() {
        DirectPasses norm = directLayers(decoder(DataType.FLOAT, true)).get(CONFIG.layers() + 1);
        INDArray rows = Nd4j.createFromArray(new float[][] {{0.5f, 0.5f, 0.5f, 0.5f}, {1f, -2f, 3f, 0.25f}});
        INDArray gain = Nd4j.createFromArray(new float[][] {{1.5f, 0.5f, 2f, 1f}});
        INDArray bias = Nd4j.createFromArray(new float[][] {{0.1f, 0.2f, 0.3f, 0.4f}});
        INDArray expected = Nd4j.create(DataType.FLOAT, 2, 4);
        Nd4j.exec(new LayerNorm(rows, gain.reshape(4), bias.reshape(4), expected, false, 1));
        INDArray actual = Nd4j.create(DataType.FLOAT, 2, 4);
        LayerWorkspaceMgr none = LayerWorkspaceMgr.noWorkspaces();
        DirectPasses.Normalised normalised = norm.layerNorm(rows, gain, bias, actual, none, ArrayType.FF_WORKING_MEM);
        assertEquals(bias, actual.getRow(0, true), "the constant row: the bias alone");
        assertTrue(expected.equalsWithEps(actual, 1e-6), expected + " against " + actual);
        INDArray dIn = Nd4j.create(DataType.FLOAT, 2, 4);
        norm.layerNormBackward(normalised, gain, Nd4j.ones(DataType.FLOAT, 2, 4), dIn,
                Nd4j.create(DataType.FLOAT, 1, 4), Nd4j.create(DataType.FLOAT, 1, 4), none);
        assertFalse(dIn.isInfinite().any() || dIn.isNaN().any(), "gradient " + dIn);
    }
}
