package io.sgdpo.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sgdpo.loss.BatchMetrics;
import io.sgdpo.loss.LossSpec;
import io.sgdpo.loss.Losses;
import io.sgdpo.loss.PairLogProbs;
import io.sgdpo.loss.PreferenceLoss;
import io.sgdpo.nn.Decoder;
import io.sgdpo.nn.DecoderConfig;
import io.sgdpo.nn.PairExample;
import io.sgdpo.nn.PairedBatch;
import io.sgdpo.nn.PairedPreferenceLoss;
import io.sgdpo.nn.SequenceLogProbs;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.IntStream;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.learning.config.Adam;

/**
 * Evaluation on the executors (local[2]): every pair scored, in the order given, as the driver scores
 * the same forward passes, whichever way the policy reaches the tasks.
 */
class EvaluationTest {

    private static final DecoderConfig MODEL = new DecoderConfig(12, 16, 1, 2, 8, 0.0, 3);
    private static final long SEED = 11;
    private static final int BATCH = 3;
    /**
     * The tasks run the driver's computation on the same passes, but two at once: libnd4j may then
     * split a reduction over fewer threads, another order of float32 sums. Log-probs here are of order
     * one, so 1e-5 is some 100 ulps, far below what a wrong pair or pass changes (order one).
     */
    private static final double FLOAT32_TOLERANCE = 1e-5;

    private static SparkSession spark;
    private static JavaSparkContext sc;

    @BeforeAll
    static void setUp() {
        spark = SparkSession.builder().master("local[2]").appName("evaluation-test")
                .config("spark.ui.enabled", "false").getOrCreate();
        sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    }

    @AfterAll
    static void tearDown() {
        spark.stop();
    }

    @Test
    void tasksInTheDriversJvmScoreEveryPassInOrderAsTheDriverDoes() {
        assertScoredAsOnTheDriver(TaskModel::inProcess);
    }

    @Test
    void tasksReadingBroadcastParametersScoreEveryPassInOrderAsTheDriverDoes() {
        assertScoredAsOnTheDriver(graph -> TaskModel.broadcast(sc, graph));
    }

    @Test
    void laterJobsReuseTheTasksGraphsWithTheNewParameters() {
        ComputationGraph policy = policy();
        int builtBefore = TaskModel.Graphs.built();
        for (int job = 0; job < 3; job++) {
            assertScoredAsOnTheDriver(g -> TaskModel.inProcess(g), policy);
            policy.params().muli(0.5); // the next job lends other parameters of the same configuration
        }
        // local[2] runs two tasks at once: two graphs serve every task of the three jobs
        int built = TaskModel.Graphs.built() - builtBefore;
        assertTrue(built <= 2, "graphs built: " + built);
    }

    @Test
    void metricsAreThoseOfTheScoredPairsAndThePolicyAsReferenceHasRewardsZero() {
        ComputationGraph policy = policy();
        PairedBatch layout = new PairedBatch(MODEL.maxLength(), 0);
        PreferenceLoss loss = Losses.create(new LossSpec());
        List<PairExample> pairs = pairs(7);
        Map<String, Double> expected = BatchMetrics.withPrefix(BatchMetrics.EVAL_PREFIX,
                BatchMetrics.of(loss, onTheDriver(policy, layout, pairs, loss)));
        Map<String, Double> metrics = Evaluation.metrics(sc, policy, layout, pairs, loss, BATCH, SEED, false);
        assertEquals(expected.keySet(), metrics.keySet());
        expected.forEach((k, v) -> assertEquals(v, metrics.get(k), FLOAT32_TOLERANCE, k));

        Map<String, Double> itself = Evaluation.metrics(sc, policy, layout, pairs, loss, BATCH, SEED, true);
        assertEquals(0.0, itself.get("eval_rewards/margins"), 0.0);
        assertEquals(0.0, itself.get("eval_rewards/accuracies"), 0.0);
    }

    /**
     * A decoder's layout pads each pass to its longest row, so the passes group the pairs by length:
     * every pair's log-probs still come back in the order given, those of the pair scored alone.
     */
    @Test
    void passesOfLikeLengthComeBackInThePairsOrder() {
        ComputationGraph policy = policy();
        PairedBatch layout = PairedBatch.forModel(policy, 0);
        PreferenceLoss loss = Losses.create(new LossSpec());
        List<PairExample> pairs = pairs(11);
        List<Integer> scoringOrder = layout.passes(pairs, BATCH).stream().flatMapToInt(p -> Arrays.stream(p.indices()))
                .boxed().toList();
        assertNotEquals(IntStream.range(0, pairs.size()).boxed().toList(), scoringOrder, "the passes reorder");
        List<PairLogProbs> scored;
        try (TaskModel model = TaskModel.inProcess(policy)) {
            scored = Evaluation.score(sc, model, layout, pairs, loss, BATCH, SEED);
        }
        assertEquals(pairs.size(), scored.size());
        for (int i = 0; i < pairs.size(); i++) {
            PairLogProbs alone = SequenceLogProbs.of(policy, layout, List.of(pairs.get(i)), loss, SEED, 0).get(0);
            assertArrayEquals(alone.policyChosen(), scored.get(i).policyChosen(), FLOAT32_TOLERANCE, "pair " + i);
            assertArrayEquals(alone.policyRejected(), scored.get(i).policyRejected(), FLOAT32_TOLERANCE, "pair " + i);
        }
    }

    private static void assertScoredAsOnTheDriver(Function<ComputationGraph, TaskModel> lend) {
        assertScoredAsOnTheDriver(lend, policy());
    }

    private static void assertScoredAsOnTheDriver(Function<ComputationGraph, TaskModel> lend,
                                                  ComputationGraph policy) {
        PairedBatch layout = new PairedBatch(MODEL.maxLength(), 0);
        PreferenceLoss loss = Losses.create(new LossSpec());
        List<PairExample> pairs = pairs(11); // 4 passes of 3, 3, 3 and 2 pairs over 2 tasks
        List<PairLogProbs> expected = onTheDriver(policy, layout, pairs, loss);
        List<PairLogProbs> scored;
        try (TaskModel model = lend.apply(policy)) {
            scored = Evaluation.score(sc, model, layout, pairs, loss, BATCH, SEED);
        }
        assertEquals(expected.size(), scored.size());
        for (int i = 0; i < expected.size(); i++) {
            PairLogProbs e = expected.get(i);
            PairLogProbs a = scored.get(i);
            String what = "pair " + i;
            assertArrayEquals(e.policyChosen(), a.policyChosen(), FLOAT32_TOLERANCE, what + " chosen");
            assertArrayEquals(e.policyRejected(), a.policyRejected(), FLOAT32_TOLERANCE, what + " rejected");
            // carried from the pair as stored: exactly
            assertArrayEquals(e.refChosen(), a.refChosen(), 0.0, what + " reference chosen");
            assertArrayEquals(e.refRejected(), a.refRejected(), 0.0, what + " reference rejected");
            assertEquals(e.pilots(), a.pilots(), what + " pilots");
        }
    }

    /** The passes the evaluation makes, {@link #BATCH} pairs at a time in order, run on this thread. */
    private static List<PairLogProbs> onTheDriver(ComputationGraph policy, PairedBatch layout, List<PairExample> pairs,
                                                  PreferenceLoss loss) {
        List<PairLogProbs> out = new ArrayList<>();
        for (int from = 0; from < pairs.size(); from += BATCH) {
            out.addAll(SequenceLogProbs.of(policy, layout, pairs.subList(from, Math.min(pairs.size(), from + BATCH)),
                    loss, SEED, 0));
        }
        return out;
    }

    private static ComputationGraph policy() {
        return Decoder.create(MODEL, new PairedPreferenceLoss(new LossSpec()), new Adam(1e-2), DataType.FLOAT);
    }

    private static List<PairExample> pairs(int count) {
        return RandomPairs.minibatches(1, count, MODEL.vocabSize()).get(0);
    }
}
