package io.sgdpo.nn;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sgdpo.loss.LossSpec;
import io.sgdpo.loss.Losses;
import io.sgdpo.nn.gpt2.Gpt2Config;
import io.sgdpo.nn.gpt2.Gpt2Model;
import io.sgdpo.nn.llama.LlamaConfig;
import io.sgdpo.nn.llama.LlamaModel;
import org.deeplearning4j.gradientcheck.GradientCheckUtil;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.NoOp;
import org.nd4j.linalg.lossfunctions.ILossFunction;

/**
 * Whole-graph gradient checks (DL4J's GradientCheckUtil: central differences of the score against
 * the backward pass, double precision, every parameter) of the llama and gpt2 architectures, each
 * a single layer followed by the loss layer, with the paired preference loss and with the SFT loss,
 * through the layers' passes written out ({@link WholeModelPasses}). Sizes are tiny (vocabulary 11,
 * width 4, 2 heads sharing 1 key/value head for llama, T 5, 2 blocks) because GradientCheckUtil
 * checks every parameter with two forward passes each.
 * Tolerance: relative error 1e-5 between the analytic gradient and central differences with step
 * 1e-6 (the truncation and rounding error of central differences in double precision lie far
 * below it, a wrong or missing gradient term far above), absolute errors below 1e-9 accepted.
 */
class ArchitectureGradientCheckTest {

    static final int V = 11;
    static final int T = 5;
    private static final LossSpec DPO = new LossSpec("dpo", 0.5, 0.6, 0.9, 0.0, 0.5);
    private static DataType previous;

    @BeforeAll
    static void doublePrecision() {
        previous = Nd4j.dataType();
        Nd4j.setDefaultDataTypes(DataType.DOUBLE, DataType.DOUBLE);
    }

    @AfterAll
    static void restore() {
        Nd4j.setDefaultDataTypes(previous, previous);
    }

    static LlamaModel llama(boolean tied, boolean qkvBias) {
        return new LlamaModel(new LlamaConfig(V, 4, 6, 2, 2, 1, 2, 1e-5, 10000, tied, qkvBias, 7), T);
    }

    static Gpt2Model gpt2() {
        return new Gpt2Model(new Gpt2Config(V, 4, 2, 2, 8, 6, 1e-5), T); // 6 positions: the graph uses the first 5
    }

    static ComputationGraph graph(LanguageModelLayer layer, ILossFunction loss) {
        ComputationGraph g = new ComputationGraph(LanguageModels.configuration(layer, loss,
                new Optimization(new NoOp(), 0, 0), DataType.DOUBLE, 12345));
        g.init();
        return g;
    }

    static DataSet sftBatch(long seed) {
        return new PairedBatch(T, TinyPairs.PAD).buildSequences(TinyPairs.random(3, V, T, false, seed), DataType.DOUBLE);
    }

    static DataSet pairedBatch(long seed) {
        return new PairedBatch(T, TinyPairs.PAD).build(TinyPairs.random(2, V, T, true, seed), Losses.create(DPO), 7, 3,
                DataType.DOUBLE);
    }

    private static boolean check(ComputationGraph graph, DataSet batch) {
        return GradientCheckUtil.checkGradients(new GradientCheckUtil.GraphConfig().net(graph)
                .inputs(new INDArray[] {batch.getFeatures()}).labels(new INDArray[] {batch.getLabels()})
                .epsilon(1e-6).maxRelError(1e-5).minAbsoluteError(1e-9)
                .print(GradientCheckUtil.PrintMode.FAILURES_ONLY).exitOnFirstError(false));
    }

    @Test
    void llamaTiedWithoutBiasWithThePreferenceLoss() {
        assertTrue(check(graph(llama(true, false), new PairedPreferenceLoss(DPO)), pairedBatch(1)));
    }

    @Test
    void llamaTiedWithoutBiasWithTheSftLoss() {
        assertTrue(check(graph(llama(true, false), new SftLoss()), sftBatch(2)));
    }

    @Test
    void llamaUntiedWithQkvBiasWithThePreferenceLoss() {
        assertTrue(check(graph(llama(false, true), new PairedPreferenceLoss(DPO)), pairedBatch(3)));
    }

    @Test
    void llamaUntiedWithQkvBiasWithTheSftLoss() {
        assertTrue(check(graph(llama(false, true), new SftLoss()), sftBatch(4)));
    }

    @Test
    void gpt2WithThePreferenceLoss() {
        assertTrue(check(graph(gpt2(), new PairedPreferenceLoss(DPO)), pairedBatch(5)));
    }

    @Test
    void gpt2WithTheSftLoss() {
        assertTrue(check(graph(gpt2(), new SftLoss()), sftBatch(6)));
    }

    /**
     * Pins DL4J's doubled gradient through a SameDiff layer for the whole-model layer too: without
     * the compensation every parameter's gradient is exactly twice the one the checks above prove
     * right. When this fails, DL4J has fixed the bug: remove the compensation.
     */
    @Test
    void withoutCompensationEveryGradientIsDoubled() {
        for (LanguageModelLayer layer : new LanguageModelLayer[] {llama(true, true), gpt2()}) {
            DataSet batch = sftBatch(7);
            INDArray right = gradient(layer, batch);
            layer.setCompensateDoubledGradient(false);
            INDArray doubled = gradient(layer, batch);
            assertTrue(right.norm2Number().doubleValue() > 0);
            // exactly twice: the same computation, once without a factor 0.5 that is exact in binary
            assertTrue(doubled.equalsWithEps(right.mul(2), 1e-12), layer.getClass().getSimpleName());
        }
    }

    /** The gradient through SameDiff's passes, which the compensation is for (the written-out passes need none). */
    private static INDArray gradient(LanguageModelLayer layer, DataSet batch) {
        ComputationGraph graph = graph(layer.withLength(T), new SftLoss()); // same seed: same parameters
        for (org.deeplearning4j.nn.api.Layer l : graph.getLayers()) {
            if (l instanceof DirectPasses direct) {
                direct.setDirect(false);
            }
        }
        graph.setInputs(batch.getFeatures());
        graph.setLabels(batch.getLabels());
        graph.computeGradientAndScore();
        return graph.gradient().gradient().dup();
    }
}
