package io.sgdpo.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import io.sgdpo.config.SgdpoConfig;
import io.sgdpo.loss.LossSpec;
import io.sgdpo.loss.Losses;
import io.sgdpo.loss.PairLogProbs;
import io.sgdpo.loss.PreferenceLoss;
import io.sgdpo.nn.Decoder;
import io.sgdpo.nn.DecoderConfig;
import io.sgdpo.nn.PairExample;
import io.sgdpo.nn.PairedBatch;
import io.sgdpo.nn.PairedLabels;
import io.sgdpo.nn.PairedPreferenceLoss;
import io.sgdpo.nn.SequenceLogProbs;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.samediff.AbstractSameDiffLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.spark.api.RDDTrainingApproach;
import org.deeplearning4j.spark.api.Repartition;
import org.deeplearning4j.spark.api.worker.NetBroadcastTuple;
import org.deeplearning4j.spark.impl.graph.SparkComputationGraph;
import org.deeplearning4j.spark.impl.paramavg.ParameterAveragingTrainingMaster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The steps of the Spark training masters against the single-process loop they stand for: the
 * learning rate schedule in every layer, ParameterAveraging's Adam steps at their own step, and its
 * workers' shares adding up to the update of the whole minibatch.
 */
@Tag("spark")
class TrainingMastersTest {

    private static final DecoderConfig MODEL = new DecoderConfig(12, 16, 1, 2, 8, 0.0, 3);
    private static final LearningRateSchedule SCHEDULE = new LearningRateSchedule(1e-2, 2, 6, 0.1);
    private static final long SEED = 11;
    /**
     * Two computations of the same float32 update (another order of the sums, another number of
     * workers) agree to a few units in the last place of values of order one; parameters here stay
     * below 1, so 1e-5 is some 100 ulps and far below one step of the learning rates used (1e-2).
     */
    private static final double FLOAT32_TOLERANCE = 1e-5;

    private static SparkSession spark;
    private static JavaSparkContext sc;

    @BeforeAll
    static void setUp() {
        spark = SparkSession.builder().master("local[2]").appName("training-masters-test")
                .config("spark.ui.enabled", "false").getOrCreate();
        sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    }

    @AfterAll
    static void tearDown() {
        spark.stop();
    }

    @Test
    void theScheduleReachesEveryLayerAndSurvivesTheConfigurationJson() {
        ComputationGraph g = Decoder.create(MODEL, new PairedPreferenceLoss(new LossSpec()), new Adam(1.0),
                DataType.FLOAT);
        // DL4J's own setLearningRate skips the SameDiff layers (position embedding, blocks, final norm)
        g.setLearningRate(0.5);
        assertTrue(rates(g, 0).contains(1.0), "expected DL4J to miss a SameDiff layer: " + rates(g, 0));

        StepSchedule.absolute(SCHEDULE).installOn(g);
        for (int i = 0; i < 8; i++) {
            for (double r : rates(g, i)) {
                assertEquals(SCHEDULE.at(i), r, 0.0, "layer rate at iteration " + i);
            }
        }
        ComputationGraphConfiguration back = ComputationGraphConfiguration.fromJson(g.getConfiguration().toJson());
        ComputationGraph restored = new ComputationGraph(back);
        restored.init();
        assertEquals(rates(g, 4), rates(restored, 4));
    }

    @Test
    void aRelativeScheduleCountsSteps_fromTheFirstIterationSeen() {
        StepSchedule s = StepSchedule.relative(SCHEDULE, 3, 2, "test-" + System.nanoTime());
        assertEquals(3, s.step(40));
        assertEquals(5, s.step(41));
        assertEquals(SCHEDULE.at(7), s.valueAt(42, 0), 0.0);
        assertEquals(3, s.clone().step(40), "the first iteration is the JVM's, whatever the instance");
        assertEquals(9, StepSchedule.absolute(SCHEDULE).step(9));
    }

    @Test
    void parameterAveragingSharesAMinibatchEvenlyAmongAsManyWorkersAsItCan() {
        assertEquals(2, TrainingMasters.parameterAveragingWorkers(2, 16));
        assertEquals(1, TrainingMasters.parameterAveragingWorkers(1, 16));
        assertEquals(4, TrainingMasters.parameterAveragingWorkers(5, 16));
        assertEquals(3, TrainingMasters.parameterAveragingWorkers(4, 6));
        assertEquals(10, TrainingMasters.parameterAveragingWorkers(16, 10));
        assertEquals(1, TrainingMasters.parameterAveragingWorkers(2, 7));
    }

    /**
     * One ParameterAveraging worker (3 pairs per minibatch, so local[2] cannot share it) takes the
     * same Adam steps as a loop of {@code ComputationGraph.fit} on the driver: the same rate per
     * step (warm-up, then decay) and Adam's bias correction of each step, across chunks.
     */
    @Test
    void oneWorkerTakesTheStepsOfTheSingleProcessLoop() {
        List<List<PairExample>> steps = minibatches(6, 3);
        ComputationGraph start = Decoder.create(MODEL, new PairedPreferenceLoss(new LossSpec()), new Adam(1e-2),
                DataType.FLOAT);
        PreferenceLoss loss = Losses.create(new LossSpec());
        PairedBatch layout = new PairedBatch(MODEL.maxLength(), 0);

        ComputationGraph loop = start.clone();
        StepSchedule.absolute(SCHEDULE).installOn(loop);
        for (int i = 0; i < steps.size(); i++) {
            loop.fit(layout.build(steps.get(i), loss, SEED, i, DataType.FLOAT));
        }

        ComputationGraph spark = trainWithParameterAveraging(start.clone(), steps, 3, SCHEDULE, loss, layout);
        assertEquals(6, spark.getConfiguration().getIterationCount());
        assertClose(loop.params(), spark.params(), "parameters after 6 steps");
        assertClose(loop.getUpdater().getStateViewArray(), spark.getUpdater().getStateViewArray(), "Adam's state");
    }

    /**
     * Minibatches handed over on the driver (TrainJob's chunks) and the same minibatches as an RDD
     * (SftJob's epochs, which the trainer first brings to the driver) take the same rounds in the
     * same order: the same network, bit for bit (the same computation replayed on this machine).
     */
    @Test
    void minibatchesOnTheDriverTrainExactlyAsTheSameMinibatchesFromAnRdd() {
        List<List<PairExample>> steps = minibatches(5, 4);
        ComputationGraph start = Decoder.create(MODEL, new PairedPreferenceLoss(new LossSpec()), new Adam(1e-2),
                DataType.FLOAT);
        PreferenceLoss loss = Losses.create(new LossSpec());
        PairedBatch layout = new PairedBatch(MODEL.maxLength(), 0);
        ComputationGraph fromRdd = trainWithParameterAveraging(start.clone(), steps, 3, SCHEDULE, loss, layout, true);
        ComputationGraph fromDriver = trainWithParameterAveraging(start.clone(), steps, 3, SCHEDULE, loss, layout,
                false);
        assertTrue(Transforms.abs(fromRdd.params().sub(start.params())).maxNumber().doubleValue() > 0,
                "the steps moved the parameters");
        assertEquals(5, fromDriver.getConfiguration().getIterationCount());
        assertArrayEquals(fromRdd.params().toFloatVector(), fromDriver.params().toFloatVector(), 0f, "parameters");
        assertArrayEquals(fromRdd.getUpdater().getStateViewArray().toFloatVector(),
                fromDriver.getUpdater().getStateViewArray().toFloatVector(), 0f, "Adam's state");
    }

    /**
     * Two workers each fit half of a 4-pair minibatch; their averaged update is the update of the
     * whole minibatch (plain SGD, where that is exact: a mean of the halves' mean gradients).
     */
    @Test
    void twoWorkersTakeTheUpdateOfTheWholeMinibatch() {
        List<List<PairExample>> steps = minibatches(2, 4);
        ComputationGraph start = Decoder.create(MODEL, new PairedPreferenceLoss(new LossSpec()), new Sgd(0.5),
                DataType.FLOAT);
        PreferenceLoss loss = Losses.create(new LossSpec());
        PairedBatch layout = new PairedBatch(MODEL.maxLength(), 0);

        ComputationGraph loop = start.clone();
        for (int i = 0; i < steps.size(); i++) {
            loop.fit(layout.build(steps.get(i), loss, SEED, i, DataType.FLOAT));
        }
        ComputationGraph spark = trainWithParameterAveraging(start.clone(), steps, 2, null, loss, layout);
        double moved = Transforms.abs(loop.params().sub(start.params())).maxNumber().doubleValue();
        assertTrue(moved > 100 * FLOAT32_TOLERANCE, "the steps moved the parameters by only " + moved);
        assertClose(loop.params(), spark.params(), "parameters after 2 steps of 2 workers");
    }

    /**
     * Rounds of the project's master (in local mode its broadcast and results stay in the JVM; across
     * JVMs they travel packed, tested below) leave the network as DL4J's own master does, bit for
     * bit: the same step on each worker from the same parameters, and the same sums of their results
     * in the same order, on the same machine. From the second round on, the project's workers train
     * the networks they lent with their results the round before; DL4J's build new ones. Each round
     * updates at its step's iteration count, which the project's trainer sets with its hook (DL4J's
     * workers would otherwise start every round's network at iteration 0).
     */
    @Test
    void roundsOfTheProjectsMasterAverageExactlyWhatDl4jsOwnRoundsAverage() {
        List<List<PairExample>> minibatches = minibatches(3, 4);
        PreferenceLoss loss = Losses.create(new LossSpec());
        PairedBatch layout = new PairedBatch(MODEL.maxLength(), 0);
        ComputationGraph start = Decoder.create(MODEL, new PairedPreferenceLoss(new LossSpec()), new Adam(1e-2),
                DataType.FLOAT);
        String run = "packed-rounds-test";
        ComputationGraph dl4jNetwork = start.clone();
        ComputationGraph projectNetwork = start.clone();
        SparkComputationGraph dl4j = null;
        SparkComputationGraph project = null;
        for (int step = 0; step < minibatches.size(); step++) {
            List<PairExample> minibatch = minibatches.get(step);
            List<DataSet> shares = List.of(layout.build(minibatch.subList(0, 2), loss, SEED, step, DataType.FLOAT),
                    layout.build(minibatch.subList(2, 4), loss, SEED, step, DataType.FLOAT));
            dl4jNetwork.getConfiguration().setIterationCount(step);
            dl4j = new SparkComputationGraph(sc, dl4jNetwork,
                    oneRound().trainingHooks(new TrainingMasters.StepHook(step)).build());
            dl4j.fit(sc.parallelize(shares, 2));
            dl4jNetwork = dl4j.getNetwork();
            ReusingParameterAveragingMaster master = new ReusingParameterAveragingMaster(
                    oneRound().trainingHooks(new TrainingMasters.StepHook(step)), run, shares.size());
            projectNetwork.getConfiguration().setIterationCount(step);
            project = new SparkComputationGraph(sc, projectNetwork, master);
            project.fit(sc.parallelize(shares, 2));
            master.deleteTempFiles(sc);
            projectNetwork = project.getNetwork();
        }
        ReusingParameterAveragingMaster.forget(run);

        assertTrue(Transforms.abs(dl4jNetwork.params().sub(start.params())).maxNumber().doubleValue() > 0,
                "the rounds changed nothing");
        assertArrayEquals(dl4jNetwork.params().toFloatVector(), projectNetwork.params().toFloatVector(), 0f,
                "parameters");
        assertArrayEquals(dl4jNetwork.getUpdater().getStateViewArray().toFloatVector(),
                projectNetwork.getUpdater().getStateViewArray().toFloatVector(), 0f, "Adam's state");
        assertEquals(dl4j.getScore(), project.getScore(), 0.0, "mean score");
        assertEquals(dl4jNetwork.getConfiguration().getIterationCount(),
                projectNetwork.getConfiguration().getIterationCount());
    }

    /**
     * A worker's result is its network's own arrays, which the driver reads and adds into after the
     * task: another task of the same round must never train that network, a task of the run's next
     * round gets it back, and another run never does.
     */
    @Test
    void aNetworkLentWithItsResultIsTrainedAgainOnlyInALaterRoundOfItsRun() {
        ComputationGraph network = Decoder.create(MODEL, new PairedPreferenceLoss(new LossSpec()), new Adam(1e-2),
                DataType.FLOAT);
        String run = "lending-test";
        assertNull(ReusingParameterAveragingMaster.Idle.take(run, 1));
        ReusingParameterAveragingMaster.Idle.lend(run, 1, network);
        ReusingParameterAveragingMaster.Idle.lend(run, 1, network);
        assertNull(ReusingParameterAveragingMaster.Idle.take(run, 1), "a network lent in this very round");
        assertSame(network, ReusingParameterAveragingMaster.Idle.take(run, 2));
        assertNull(ReusingParameterAveragingMaster.Idle.take(run, 2), "lent twice, yet one network");

        ReusingParameterAveragingMaster.Idle.lend(run, 2, network);
        assertNull(ReusingParameterAveragingMaster.Idle.take("another-run", 3));
        assertNull(ReusingParameterAveragingMaster.Idle.take(run, 4), "the other run's first task dropped it");

        ReusingParameterAveragingMaster.Idle.lend(run, 4, network);
        ReusingParameterAveragingMaster.forget(run);
        assertNull(ReusingParameterAveragingMaster.Idle.take(run, 5), "forgotten at the end of the run");
        ReusingParameterAveragingMaster.forget(run);
    }

    /** The broadcast of a round comes back from Java serialization as DL4J's tuple with the same arrays. */
    @Test
    void aPackedBroadcastReadsBackAsDl4jsTuple() throws Exception {
        ComputationGraph network = Decoder.create(MODEL, new PairedPreferenceLoss(new LossSpec()), new Adam(1e-2),
                DataType.FLOAT);
        network.getUpdater().getStateViewArray().assign(Nd4j.rand(DataType.FLOAT,
                network.getUpdater().getStateViewArray().shape()));
        NetBroadcastTuple back = (NetBroadcastTuple) roundTrip(new PackedBroadcast(
                network.getConfiguration(), network.params(), network.getUpdater().getStateViewArray()));
        assertEquals(NetBroadcastTuple.class, back.getClass());
        assertEquals(network.getConfiguration().toJson(), back.getGraphConfiguration().toJson());
        assertArrayEquals(network.params().toFloatVector(), back.getParameters().toFloatVector(), 0f);
        assertArrayEquals(network.getUpdater().getStateViewArray().toFloatVector(),
                back.getUpdaterState().toFloatVector(), 0f);
    }

    /**
     * Workers' summed results: between JVMs packed, the same arrays and scores come back; in local
     * mode (this JVM runs Spark's driver, so its executor too) only a key is serialized and the
     * driver gets the executor's very object.
     */
    @Test
    void aResultSumCrossesJvmsPackedAndStaysInMemoryInLocalMode() throws Exception {
        INDArray parameters = Nd4j.rand(DataType.FLOAT, 7);
        INDArray state = Nd4j.rand(DataType.FLOAT, 14);
        ReusingParameterAveragingMaster.ResultSum sum = new ReusingParameterAveragingMaster.ResultSum(
                parameters.dup(), state.dup(), 1.25, 2);

        ReusingParameterAveragingMaster.ResultSum packed = (ReusingParameterAveragingMaster.ResultSum)
                roundTrip(sum.packed());
        assertArrayEquals(parameters.toFloatVector(), packed.parameters().toFloatVector(), 0f);
        assertArrayEquals(state.toFloatVector(), packed.updaterState().toFloatVector(), 0f);
        assertEquals(1.25, packed.scoreSum(), 0.0);
        assertEquals(2, packed.count());

        assertSame(sum, roundTrip(sum), "in local mode the driver reads the executor's own sum");
    }

    private static Object roundTrip(Object o) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(o);
        }
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            return in.readObject();
        }
    }

    /** DL4J's settings of one averaging round of two workers, as the project's trainer sets them. */
    private static ParameterAveragingTrainingMaster.Builder oneRound() {
        return new ParameterAveragingTrainingMaster.Builder(2, 4)
                .batchSizePerWorker(4)
                .averagingFrequency(1)
                .workerPrefetchNumBatches(0)
                .repartionData(Repartition.Never)
                .rddTrainingApproach(RDDTrainingApproach.Direct)
                .storageLevel(null)
                .saveUpdater(true)
                .rngSeed(SEED);
    }

    /**
     * The pairs each update's forward pass scored come back to the driver: every pair of the chunk
     * once, at the step it was trained at, with the log-probs of the parameters that step started
     * from. Two workers score halves of each minibatch and the loop scores it whole, so the two agree
     * to float32 rounding: 1e-4 on log-probs of order 1 (parameters agree to 1e-5, see above).
     */
    @Test
    void eachUpdateReportsItsPairsScoredByTheParametersItStartedFrom() {
        List<List<PairExample>> steps = minibatches(3, 4);
        ComputationGraph start = Decoder.create(MODEL, new PairedPreferenceLoss(new LossSpec()), new Sgd(0.5),
                DataType.FLOAT);
        PreferenceLoss loss = Losses.create(new LossSpec());
        PairedBatch layout = new PairedBatch(MODEL.maxLength(), 0);

        ComputationGraph loop = start.clone();
        java.util.Map<Integer, PairLogProbs> expected = new java.util.HashMap<>();
        java.util.Map<Integer, Long> stepOf = new java.util.HashMap<>();
        for (int i = 0; i < steps.size(); i++) {
            List<PairLogProbs> before = SequenceLogProbs.of(loop, layout, steps.get(i), loss, SEED, i);
            for (int p = 0; p < before.size(); p++) {
                int tag = PairedLabels.tagOf(steps.get(i).get(p).pairId());
                expected.put(tag, before.get(p));
                stepOf.put(tag, (long) i);
            }
            loop.fit(layout.build(steps.get(i), loss, SEED, i, DataType.FLOAT));
        }

        Config master = SgdpoConfig.reference().getConfig("train.master")
                .withValue("kind", ConfigValueFactory.fromAnyRef("parameterAveraging"));
        List<UpdateMetrics.ScoredPair> scored;
        try (DistributedTrainer trainer = TrainingMasters.create(sc, start.clone(), master,
                new TrainingMasters.Run(4, 2, null, 0.5, 0, SEED))) {
            List<Minibatches.Batch> batches = new ArrayList<>();
            for (int i = 0; i < steps.size(); i++) {
                batches.add(new Minibatches.Batch(i, steps.get(i)));
            }
            scored = trainer.fit(sc.parallelize(batches, 2), (index, p) -> layout.build(p, loss, SEED, index,
                    DataType.FLOAT), 0);
        }
        assertEquals(12, scored.size(), "every pair once");
        assertEquals(expected.keySet(), new java.util.HashSet<>(scored.stream().map(UpdateMetrics.ScoredPair::tag)
                .toList()));
        for (int i = 1; i < scored.size(); i++) {
            assertTrue(scored.get(i - 1).iteration() < scored.get(i).iteration()
                    || scored.get(i - 1).tag() < scored.get(i).tag(), "ordered by (iteration, tag)");
        }
        for (UpdateMetrics.ScoredPair s : scored) {
            assertEquals(stepOf.get(s.tag()), s.iteration(), "the step of pair " + s.tag());
            PairLogProbs e = expected.get(s.tag());
            assertArrayClose(e.policyChosen(), s.pair().policyChosen(), "chosen log-probs of pair " + s.tag());
            assertArrayClose(e.policyRejected(), s.pair().policyRejected(), "rejected log-probs of pair " + s.tag());
            assertArrayClose(e.refChosen(), s.pair().refChosen(), "reference log-probs of pair " + s.tag());
        }
    }

    private static void assertArrayClose(double[] expected, double[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int t = 0; t < expected.length; t++) {
            assertEquals(expected[t], actual[t], 1e-4, what + " at " + t);
        }
    }

    /** Trains the steps in chunks of {@code chunk} minibatches from the driver, as TrainJob does. */
    private static ComputationGraph trainWithParameterAveraging(ComputationGraph network, List<List<PairExample>> steps,
                                                                int chunk, LearningRateSchedule schedule,
                                                                PreferenceLoss loss, PairedBatch layout) {
        return trainWithParameterAveraging(network, steps, chunk, schedule, loss, layout, false);
    }

    /**
     * Trains the steps in chunks of {@code chunk} minibatches, each chunk handed over in reverse order
     * (the trainer orders them by index), from the driver or, {@code asRdd}, as an RDD (as SFT does).
     */
    private static ComputationGraph trainWithParameterAveraging(ComputationGraph network, List<List<PairExample>> steps,
                                                                int chunk, LearningRateSchedule schedule,
                                                                PreferenceLoss loss, PairedBatch layout,
                                                                boolean asRdd) {
        Config master = SgdpoConfig.reference().getConfig("train.master")
                .withValue("kind", ConfigValueFactory.fromAnyRef("parameterAveraging"));
        int pairs = steps.get(0).size();
        try (DistributedTrainer trainer = TrainingMasters.create(sc, network, master,
                new TrainingMasters.Run(pairs, 2, schedule, 1e-2, 0, SEED))) {
            for (int from = 0; from < steps.size(); from += chunk) {
                List<Minibatches.Batch> batches = new ArrayList<>();
                for (int i = from; i < Math.min(from + chunk, steps.size()); i++) {
                    batches.add(new Minibatches.Batch(i, steps.get(i)));
                }
                Collections.reverse(batches);
                DistributedTrainer.Builder build = (index, p) -> layout.build(p, loss, SEED, index, DataType.FLOAT);
                if (asRdd) {
                    trainer.fit(sc.parallelize(batches, 2), build, 0);
                } else {
                    trainer.fit(batches, build, 0);
                }
            }
            return trainer.network();
        }
    }

    private static List<List<PairExample>> minibatches(int count, int pairs) {
        return RandomPairs.minibatches(count, pairs, MODEL.vocabSize());
    }

    private static List<Double> rates(ComputationGraph g, int iteration) {
        List<Double> out = new ArrayList<>();
        for (Layer l : g.getLayers()) {
            var conf = l.conf().getLayer();
            IUpdater u = conf instanceof BaseLayer b ? b.getIUpdater()
                    : conf instanceof AbstractSameDiffLayer s ? s.getUpdater() : null;
            if (u != null && u.hasLearningRate()) {
                out.add(u.getLearningRate(iteration, 0));
            }
        }
        return out;
    }

    private static void assertClose(INDArray expected, INDArray actual, String what) {
        double diff = Transforms.abs(expected.sub(actual)).maxNumber().doubleValue();
        assertTrue(diff <= FLOAT32_TOLERANCE, what + ": max |difference| " + diff + " > " + FLOAT32_TOLERANCE);
    }
}
