package io.sgdpo.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sgdpo.loss.LossSpec;
import io.sgdpo.loss.Losses;
import io.sgdpo.nn.gpt2.Gpt2Config;
import io.sgdpo.nn.gpt2.Gpt2Model;
import io.sgdpo.nn.llama.LlamaConfig;
import io.sgdpo.nn.llama.LlamaModel;
import java.util.List;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.learning.config.NoOp;

/**
 * The whole-model layers' passes written out ({@link WholeModelPasses}: io.sgdpo.nn.llama.LlamaPasses,
 * io.sgdpo.nn.gpt2.Gpt2Passes) against the same model run from its SameDiff graph (the model's
 * definition), on the same parameters and minibatch: Llama with a tied and an untied head, with and
 * without q/k/v biases, grouped key/value heads (4 query heads on 2) and plain multi-head attention;
 * GPT-2 with a position table longer than the model's length. The passes compute the same function
 * by other ops (a row lookup for the one-hot product, the norms' statistics as products, repeated
 * key/value heads for the grouped products), so activations, score and gradients are compared within
 * rounding: in double precision 1e-12 of the largest value, where that rounding is about 1e-16 and
 * any mistake lands far above; in float32, which training uses, 1e-5. {@code
 * ArchitectureGradientCheckTest} checks the same passes against finite differences.
 */
class WholeModelPassesTest {

    private static final LossSpec SPEC = new LossSpec("sgdpo", 0.2, 0.6, 0.9, 0.0, 0.5);
    private static final int VOCAB = 29;
    private static final int LENGTH = 12;

    private static LlamaModel llama(boolean tied, boolean qkvBias, int kvHeads) {
        return new LlamaModel(new LlamaConfig(VOCAB, 16, 24, 2, 4, kvHeads, 4, 1e-5, 10000, tied, qkvBias, 16), LENGTH);
    }

    private static List<LanguageModelLayer> models() {
        return List.of(llama(true, false, 2), llama(false, true, 4), llama(false, false, 1),
                new Gpt2Model(new Gpt2Config(VOCAB, 16, 2, 4, 64, 16, 1e-5), LENGTH));
    }

    private static String name(LanguageModelLayer model) {
        return model instanceof LlamaModel llama ? llama.config().toString() : ((Gpt2Model) model).config().toString();
    }

    private static ComputationGraph graph(LanguageModelLayer model, DataType type, boolean direct) {
        ComputationGraph graph = new ComputationGraph(LanguageModels.configuration(model.withLength(LENGTH),
                new PairedPreferenceLoss(SPEC), new Optimization(new NoOp(), 0, 0), type, 12345));
        graph.init();
        List<DirectPasses> layers = DirectPassesTest.directLayers(graph);
        assertEquals(1, layers.size(), "the whole model");
        layers.forEach(layer -> layer.setDirect(direct));
        return graph;
    }

    /** A graph with {@code direct}'s parameters that runs SameDiff's passes: the reference. */
    private static ComputationGraph throughSameDiff(LanguageModelLayer model, ComputationGraph direct) {
        ComputationGraph sameDiff = graph(model, direct.params().dataType(), false);
        sameDiff.setParams(direct.params());
        return sameDiff;
    }

    private static DataSet batch(int length, DataType type, long seed) {
        List<PairExample> pairs = TinyPairs.random(3, VOCAB, length, true, seed);
        return new PairedBatch(length, TinyPairs.PAD).build(pairs, Losses.create(SPEC), 3, 0, type);
    }

    @Test
    void theLogitsAreSameDiffsWithinDoubleRounding() {
        for (LanguageModelLayer model : models()) {
            ComputationGraph direct = graph(model, DataType.DOUBLE, true);
            ComputationGraph sameDiff = throughSameDiff(model, direct);
            DataSet batch = batch(LENGTH, DataType.DOUBLE, 4);
            for (boolean training : new boolean[] {false, true}) {
                INDArray expected = sameDiff.feedForward(batch.getFeatures(), training).get(LanguageModels.MODEL);
                INDArray actual = direct.feedForward(batch.getFeatures(), training).get(LanguageModels.MODEL);
                double largest = expected.amaxNumber().doubleValue();
                double difference = expected.sub(actual).amaxNumber().doubleValue();
                assertTrue(largest > 0 && difference <= 1e-12 * largest, name(model) + (training ? ", training" : "")
                        + ": off by " + difference + ", largest " + largest);
            }
            assertFalse(DirectPassesTest.directLayers(direct).get(0).builtSameDiff(), "SameDiff ran");
        }
    }

    @Test
    void gradientsAreSameDiffsWithinDoubleRounding() {
        for (LanguageModelLayer model : models()) {
            ComputationGraph direct = graph(model, DataType.DOUBLE, true);
            ComputationGraph sameDiff = throughSameDiff(model, direct);
            for (long seed : new long[] {5, 6}) { // twice: nothing the first step keeps may leak into the second
                DirectPassesTest.assertSameStep(name(model), sameDiff, direct, batch(LENGTH, DataType.DOUBLE, seed),
                        1e-12);
            }
            assertFalse(DirectPassesTest.directLayers(direct).get(0).builtSameDiff(), "SameDiff ran");
            assertTrue(DirectPassesTest.directLayers(sameDiff).get(0).builtSameDiff(), "the reference did not run");
        }
    }

    /** Training runs in float32: one step against SameDiff's within float32 rounding. */
    @Test
    void float32GradientsAreSameDiffsWithinFloatRounding() {
        for (LanguageModelLayer model : models()) {
            ComputationGraph direct = graph(model, DataType.FLOAT, true);
            DirectPassesTest.assertSameStep(name(model), throughSameDiff(model, direct), direct,
                    batch(LENGTH, DataType.FLOAT, 7), 1e-5);
        }
    }

    /**
     * Rows shorter than the model's length (8 positions of its 12) are the same step as the same
     * pairs padded to its length: padding comes after every real position, which causal attention
     * keeps from seeing it, and its targets are not scored. Within rounding (the products and the
     * softmax sum over fewer exact zeros), 1e-12 in double precision; and the same again after a step
     * on rows of the model's whole length (GPT-2's position rows past the shorter length get 0).
     */
    @Test
    void rowsShorterThanTheModelAreTheSameStep() {
        for (LanguageModelLayer model : List.of(llama(true, true, 2), models().get(3))) {
            assertShorterRowsAreTheSameStep(model);
        }
    }

    private static void assertShorterRowsAreTheSameStep(LanguageModelLayer model) {
        ComputationGraph graph = graph(model, DataType.DOUBLE, true);
        List<PairExample> pairs = TinyPairs.random(3, VOCAB, 8, true, 8);
        var loss = Losses.create(SPEC);
        DataSet full = new PairedBatch(LENGTH, TinyPairs.PAD).build(pairs, loss, 3, 0, DataType.DOUBLE);
        DataSet shorter = new PairedBatch(8, TinyPairs.PAD).build(pairs, loss, 3, 0, DataType.DOUBLE);
        assertEquals(8, shorter.getFeatures().size(2), "the minibatch's length");
        INDArray gradient = DirectPassesTest.assertSameStepShorter(name(model), graph, full, shorter, 1e-12);
        double largest = gradient.amaxNumber().doubleValue();
        // after a step whose rows reach every position, the shorter step must clear what it does not reach
        DirectPassesTest.step(graph, batch(LENGTH, DataType.DOUBLE, 4));
        DirectPassesTest.step(graph, shorter);
        double again = gradient.sub(graph.gradient().gradient()).amaxNumber().doubleValue();
        assertTrue(again <= 1e-12 * largest, name(model) + ": the shorter step after a longer one off by " + again);
        assertFalse(DirectPassesTest.directLayers(graph).get(0).builtSameDiff(), "SameDiff ran");
    }
}
