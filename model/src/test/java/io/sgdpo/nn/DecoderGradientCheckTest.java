package io.sgdpo.nn;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sgdpo.loss.LossSpec;
import io.sgdpo.loss.Losses;
import io.sgdpo.loss.PairLogProbs;
import io.sgdpo.loss.PairLossResult;
import io.sgdpo.loss.PilotPositions;
import io.sgdpo.loss.PreferenceLoss;
import io.sgdpo.loss.SgdpoLoss;
import java.util.List;
import org.deeplearning4j.gradientcheck.GradientCheckUtil;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.NoOp;

/**
 * Whole-graph gradient checks (DL4J's GradientCheckUtil, central differences, double precision) of
 * the decoder with the paired preference loss: every parameter of every layer, the custom layers
 * (their passes written out, {@link DirectPasses}) and the loss adapter together. GradientCheckUtil
 * checks every entry of a ComputationGraph (its subset and maxPerParam settings apply to
 * MultiLayerNetwork only), two forward passes each, so the decoder is tiny: width 4 in 2 heads of
 * 2, 2 blocks, 605 parameters (width 8 had 1,969: three times the forward passes for the same
 * checks).
 */
class DecoderGradientCheckTest {

    static final DecoderConfig TINY = new DecoderConfig(9, 4, 2, 2, 7, 0.0, 12345);
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

    static ComputationGraph tinyGraph(LossSpec spec, boolean compensate) {
        return tinyGraph(new PairedPreferenceLoss(spec), compensate);
    }

    static ComputationGraph tinyGraph(PairedPreferenceLoss loss, boolean compensate) {
        ComputationGraphConfiguration conf = Decoder.configuration(TINY, loss, new NoOp(), DataType.DOUBLE);
        for (var vertex : conf.getVertices().values()) {
            if (vertex instanceof LayerVertex lv && lv.getLayerConf().getLayer() instanceof CompensatedSameDiffLayer l) {
                l.setCompensateDoubledGradient(compensate);
            }
        }
        ComputationGraph graph = new ComputationGraph(conf);
        graph.init();
        if (!compensate) { // the compensation is of SameDiff's passes: run those, not the written-out ones
            for (org.deeplearning4j.nn.api.Layer layer : graph.getLayers()) {
                if (layer instanceof DirectPasses direct) {
                    direct.setDirect(false);
                }
            }
        }
        return graph;
    }

    static DataSet tinyBatch(LossSpec spec, long seed) {
        List<PairExample> pairs = TinyPairs.random(2, TINY.vocabSize(), TINY.maxLength(), true, seed);
        return new PairedBatch(TINY.maxLength(), TinyPairs.PAD)
                .build(pairs, Losses.create(spec), 7, 3, DataType.DOUBLE);
    }

    /** Checks every entry of every parameter, or until the first failure. */
    private static boolean check(ComputationGraph graph, DataSet batch, boolean exitOnFirstError) {
        return GradientCheckUtil.checkGradients(new GradientCheckUtil.GraphConfig().net(graph)
                .inputs(new org.nd4j.linalg.api.ndarray.INDArray[] {batch.getFeatures()})
                .labels(new org.nd4j.linalg.api.ndarray.INDArray[] {batch.getLabels()})
                .epsilon(1e-6).maxRelError(1e-5).minAbsoluteError(1e-9)
                .print(GradientCheckUtil.PrintMode.FAILURES_ONLY).exitOnFirstError(exitOnFirstError));
    }

    private static boolean check(ComputationGraph graph, DataSet batch) {
        return check(graph, batch, false);
    }

    /**
     * SGDPO's pilots are stop-gradient constants: its gradient is that of the loss with the pilot
     * values frozen where they are. The wrapper freezes them at the first evaluation (the
     * unperturbed parameters), so the finite differences see the function SGDPO differentiates.
     */
    @Test
    void everyParameterPassesWithSgdpoAtFrozenPilots() {
        LossSpec spec = new LossSpec("sgdpo", 0.5, 0.6, 0.9, 0.0, 0.5);
        FrozenPilotSgdpo frozen = new FrozenPilotSgdpo((SgdpoLoss) Losses.create(spec));
        assertTrue(check(tinyGraph(new PairedPreferenceLoss(spec, frozen), true), tinyBatch(spec, 1)));
        assertTrue(frozen.frozenPairs() == 2, "pilots frozen for " + frozen.frozenPairs() + " pairs");
    }

    @Test
    void everyParameterPassesWithDpoAndSimpo() {
        for (String name : List.of("dpo", "simpo")) {
            LossSpec spec = new LossSpec(name, 0.5, 0.6, 0.9, 0.0, 0.2);
            assertTrue(check(tinyGraph(spec, true), tinyBatch(spec, 2)), name);
        }
    }

    /**
     * A minibatch shorter than the decoder's length (its own longest row, {@link PairedBatch#forModel}):
     * the passes written out take the input's length.
     */
    @Test
    void everyParameterPassesOnAMinibatchShorterThanTheDecoder() {
        LossSpec spec = new LossSpec("dpo", 0.5, 0.6, 0.9, 0.0, 0.5);
        List<PairExample> pairs = TinyPairs.random(2, TINY.vocabSize(), 5, true, 3); // rows of at most 3 positions
        DataSet batch = new PairedBatch(TINY.maxLength(), TinyPairs.PAD, 4).build(pairs, Losses.create(spec), 7, 3,
                DataType.DOUBLE);
        assertTrue(batch.getFeatures().size(2) == 4, "length " + batch.getFeatures().size(2));
        assertTrue(check(tinyGraph(spec, true), batch));
    }

    @Test
    void everyParameterPassesWithTheSftLoss() {
        ComputationGraphConfiguration conf = Decoder.configuration(TINY, new SftLoss(), new NoOp(), DataType.DOUBLE);
        ComputationGraph graph = new ComputationGraph(conf);
        graph.init();
        DataSet batch = new PairedBatch(TINY.maxLength(), TinyPairs.PAD)
                .buildSequences(TinyPairs.random(3, TINY.vocabSize(), TINY.maxLength(), false, 6), DataType.DOUBLE);
        assertTrue(check(graph, batch));
    }

    /** SGDPO with each pair's pilot values fixed at their first evaluation. */
    private static final class FrozenPilotSgdpo implements PreferenceLoss {
        private final SgdpoLoss sgdpo;
        private final java.util.Map<String, double[]> pilots = new java.util.HashMap<>();

        FrozenPilotSgdpo(SgdpoLoss sgdpo) {
            this.sgdpo = sgdpo;
        }

        int frozenPairs() {
            return pilots.size();
        }

        @Override
        public String name() {
            return "sgdpo";
        }

        @Override
        public double beta() {
            return sgdpo.beta();
        }

        @Override
        public PilotPositions drawPilots(long seed, long step, String pairId, int chosenLength, int rejectedLength) {
            return sgdpo.drawPilots(seed, step, pairId, chosenLength, rejectedLength);
        }

        @Override
        public PairLossResult evaluate(PairLogProbs p) {
            String key = java.util.Arrays.toString(p.refChosen()) + java.util.Arrays.toString(p.refRejected());
            double[] values = pilots.computeIfAbsent(key, k -> new double[] {
                logRatio(p.pilots().chosen(), p.policyChosen(), p.refChosen()),
                logRatio(p.pilots().rejected(), p.policyRejected(), p.refRejected())});
            return sgdpo.evaluateWithPilots(p, values[0], values[1]);
        }

        private static double logRatio(int[] at, double[] policy, double[] ref) {
            double s = 0;
            for (int t : at) {
                s += policy[t] - ref[t];
            }
            return s;
        }
    }

    /**
     * Pins DL4J's inflated gradient through SameDiff layers: the decoder run through its layers'
     * SameDiff passes (not the written-out ones it trains with, {@link DirectPasses}) and without
     * the compensation, the gradient reaching the token embedding through the four SameDiff layers
     * is a power-of-two multiple (at least 2x) of the true one, and the gradient check fails. When
     * this test fails, DL4J has fixed the bug: remove the compensation.
     */
    @Test
    void withoutCompensationDl4jInflatesTheGradient() {
        LossSpec spec = new LossSpec("dpo", 0.5, 0.6, 0.9, 0.0, 0.5);
        ComputationGraph graph = tinyGraph(spec, false);
        DataSet batch = tinyBatch(spec, 1);
        graph.setInputs(batch.getFeatures());
        graph.setLabels(batch.getLabels());
        graph.computeGradientAndScore();
        org.nd4j.linalg.api.ndarray.INDArray g = graph.gradient().getGradientFor("embed_W").dup();
        long flat = Nd4j.argMax(org.nd4j.linalg.ops.transforms.Transforms.abs(g.dup('c').reshape(-1))).getLong(0);
        long[] at = {flat / g.size(1), flat % g.size(1)};
        double ratio = g.getDouble(at) / numericGradient(graph, "embed", "W", batch, at);
        double log2 = Math.log(ratio) / Math.log(2);
        System.out.println("analytic / numeric gradient of embed_W without compensation: " + ratio);
        assertTrue(log2 > 0.999 && Math.abs(log2 - Math.rint(log2)) < 1e-4,
                "expected a power-of-two inflation of at least 2x, ratio " + ratio);
        assertFalse(check(tinyGraph(spec, false), batch, true),
                "gradient check passed without the compensation: DL4J bug fixed?");
    }

    @Test
    void repeatedBackwardPassesGiveTheSameGradient() {
        // Training calls the backward pass every step: nothing may accumulate between calls.
        LossSpec spec = new LossSpec("sgdpo", 0.5, 0.6, 0.9, 0.0, 0.5);
        ComputationGraph graph = tinyGraph(spec, true);
        DataSet batch = tinyBatch(spec, 4);
        graph.setInputs(batch.getFeatures());
        graph.setLabels(batch.getLabels());
        graph.computeGradientAndScore();
        org.nd4j.linalg.api.ndarray.INDArray first = graph.gradient().gradient().dup();
        graph.computeGradientAndScore();
        assertTrue(first.equalsWithEps(graph.gradient().gradient(), 1e-12), "gradient changed between calls");
        assertTrue(first.norm2Number().doubleValue() > 0, "zero gradient");
    }

    private static double numericGradient(ComputationGraph graph, String layer, String param, DataSet batch,
                                          long[] at) {
        var p = graph.getLayer(layer).getParam(param);
        double h = 1e-6;
        double original = p.getDouble(at);
        p.putScalar(at, original + h);
        double plus = graph.score(batch);
        p.putScalar(at, original - h);
        double minus = graph.score(batch);
        p.putScalar(at, original);
        return (plus - minus) / (2 * h);
    }
}
