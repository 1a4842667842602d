package io.sgdpo.train;

import java.io.Serializable;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaRDDLike;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.deeplearning4j.core.storage.StatsStorageRouterProvider;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.deeplearning4j.spark.api.TrainingHook;
import org.deeplearning4j.spark.api.WorkerConfiguration;
import org.deeplearning4j.spark.api.worker.NetBroadcastTuple;
import org.deeplearning4j.spark.impl.graph.SparkComputationGraph;
import org.deeplearning4j.spark.impl.multilayer.SparkDl4jMultiLayer;
import org.deeplearning4j.spark.impl.paramavg.ParameterAveragingTrainingMaster;
import org.deeplearning4j.spark.impl.paramavg.ParameterAveragingTrainingResult;
import org.deeplearning4j.spark.impl.paramavg.ParameterAveragingTrainingWorker;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * DL4J's ParameterAveraging master whose workers keep their network from one averaging round of a
 * run to the next. DL4J's own worker builds a new {@link ComputationGraph} from the broadcast
 * configuration in every round, and a new network's first backward pass builds each SameDiff
 * layer's gradient function again (on the loopback cluster's one-core executors, building none
 * shortened the arithmetic task's SFT from 162 to 136 s; README, "Against PyTorch"). This worker
 * takes an idle network built earlier in the same run in this JVM and
 * overwrites its parameters, optimizer state, iteration and epoch counts and listeners with the
 * round's, which is everything a fresh network takes from the broadcast: the round computes what it
 * would on a fresh network, bit for bit, once the trainer's hook has set each update's iteration
 * count (DL4J's fresh network starts at 0: its configuration's clone drops the count).
 * {@code TrainingMastersTest} compares rounds of this master with DL4J's, and the resume tests a run
 * that reused networks with one that started fresh.
 *
 * <p>The round's broadcast and the workers' results cross Java serialization packed ({@link
 * PackedArray}) instead of through ND4J's element-by-element serialization, and in local mode
 * neither leaves the JVM ({@link InProcessBroadcast}, {@link ResultSum}); the averaging is DL4J's,
 * sum for sum.
 *
 * <p>A worker's result is its network's own parameters and optimizer state, not copies: the network
 * is lent with them, and taken back for the next round of its run in this JVM, by which time the
 * driver has averaged the round (Spark starts a round's tasks only after the last round's results
 * are in). A JVM keeps the networks of one run at a time (one per task slot that has trained in
 * it); the first task of another run drops them, and {@link #forget} drops them at the end of a
 * run (which reaches the executors only in local mode, where they are the driver's JVM). Two runs
 * training at once in one application would keep dropping each other's: slower, never wrong.
 */
final class ReusingParameterAveragingMaster extends ParameterAveragingTrainingMaster {
    /** Tells one round of this JVM's masters from another: the workers' networks are lent per round. */
    private static final AtomicLong ROUNDS = new AtomicLong();

    private final String run;
    private final long round = ROUNDS.incrementAndGet();
    private final long elements;
    /** The round's broadcast in local mode, held until {@link #deleteTempFiles}. */
    private transient InProcessBroadcast<NetBroadcastTuple> inProcess;

    /**
     * @param settings DL4J's settings of the master
     * @param run      an id of the run, unique per trainer: networks are reused only within it; a
     *                 master fits one round
     * @param elements the DataSets of the RDD this master will fit (one per worker and step)
     */
    ReusingParameterAveragingMaster(Builder settings, String run, long elements) {
        super(settings);
        this.run = run;
        this.elements = elements;
    }

    /**
     * The DataSets to fit, known beforehand: DL4J counts them with a Spark job of its own, which
     * builds every minibatch's arrays once more before the training job builds them again.
     */
    @Override
    protected <T, R extends JavaRDDLike<T, R>> long getTotalDataSetObjectCount(JavaRDDLike<T, R> data) {
        return elements;
    }

    /** Drops this JVM's idle networks of the run. */
    static void forget(String run) {
        Idle.forget(run);
    }

    /** As DL4J's, with a worker that reuses its network (DL4J's worker keeps its broadcast private). */
    @Override
    public ParameterAveragingTrainingWorker getWorkerInstance(SparkComputationGraph graph) {
        ComputationGraph network = graph.getNetwork();
        NetBroadcastTuple tuple = new PackedBroadcast(network.getConfiguration(), network.params(),
                network.getUpdater().getStateViewArray());
        Broadcast<NetBroadcastTuple> broadcast;
        if (graph.getSparkContext().isLocal()) {
            inProcess = InProcessBroadcast.of(tuple, NetBroadcastTuple.class);
            broadcast = inProcess;
        } else {
            broadcast = graph.getSparkContext().broadcast(tuple);
        }
        WorkerConfiguration configuration = new WorkerConfiguration(true, rddDataSetNumExamples, batchSizePerWorker,
                averagingFrequency, prefetchNumBatches, collectTrainingStats);
        return new Worker(broadcast, saveUpdater, configuration, trainingHookList, listeners, getRouterProvider(),
                run, round);
    }

    /** Also lets go of the round's in-process broadcast (local mode). */
    @Override
    public boolean deleteTempFiles(JavaSparkContext sc) {
        if (inProcess != null) {
            inProcess.release();
            inProcess = null;
        }
        return super.deleteTempFiles(sc);
    }

    /**
     * DL4J's averaging of the workers' results: the same sums in the same order (each partition's
     * result, then Spark's tree of partial sums), divided by the number of results, set into the
     * network with the mean score; only the sums' way from the executors to the driver differs
     * ({@link ResultSum}), and the quotients are written straight into the network's arrays, which
     * is what DL4J's division followed by its copy into them computes. Training statistics, which
     * the project never asks for, take DL4J's own path.
     */
    @Override
    protected void processResults(SparkDl4jMultiLayer network, SparkComputationGraph graph,
                                  JavaRDD<ParameterAveragingTrainingResult> results, int splitNum, int totalSplits) {
        if (network != null || getIsCollectTrainingStats()) {
            super.processResults(network, graph, results, splitNum, totalSplits);
            return;
        }
        ResultSum sum = results.treeAggregate(null, ResultSum::add, ResultSum::combine, aggregationDepth);
        if (sum != null) {
            ComputationGraph g = graph.getNetwork();
            sum.parameters.divi(sum.count, g.params());
            if (sum.updaterState != null) {
                sum.updaterState.divi(sum.count, g.getUpdater().getStateViewArray());
            }
            graph.setScore(sum.scoreSum / sum.count);
            g.getConfiguration().setIterationCount(g.getConfiguration().getIterationCount() + averagingFrequency);
        }
        Nd4j.getExecutioner().commit();
    }

    /**
     * Workers' results added up: parameters, optimizer state and scores, and how many. Serialized
     * (from an executor to the driver) it is packed ({@link PackedArray}), except in local mode, where
     * the executor is the driver's own JVM and the sum stays in memory ({@link InProcessValues}) until
     * the driver takes it (a sum whose job fails before that stays there, one model's worth).
     */
    static final class ResultSum implements Serializable {
        private static final long serialVersionUID = 1L;
        private final transient INDArray parameters;
        private final transient INDArray updaterState;
        private final double scoreSum;
        private final int count;

        ResultSum(INDArray parameters, INDArray updaterState, double scoreSum, int count) {
            this.parameters = parameters;
            this.updaterState = updaterState;
            this.scoreSum = scoreSum;
            this.count = count;
        }

        /** The worker's arrays become the sum's (they are its lent network's, see {@link Worker#getFinalResult}). */
        static ResultSum add(ResultSum sum, ParameterAveragingTrainingResult result) {
            return combine(sum, new ResultSum(result.getParameters(), result.getUpdaterState(), result.getScore(), 1));
        }

        /** Adds b into a's arrays, as DL4J's aggregation does. */
        static ResultSum combine(ResultSum a, ResultSum b) {
            if (a == null || b == null) {
                return a == null ? b : a;
            }
            return new ResultSum(a.parameters.addi(b.parameters),
                    a.updaterState == null ? null : a.updaterState.addi(b.updaterState),
                    a.scoreSum + b.scoreSum, a.count + b.count);
        }

        INDArray parameters() {
            return parameters;
        }

        INDArray updaterState() {
            return updaterState;
        }

        double scoreSum() {
            return scoreSum;
        }

        int count() {
            return count;
        }

        private Object writeReplace() {
            SparkEnv env = SparkEnv.get();
            // Spark names the driver's own executor "driver" (its internal SparkContext.DRIVER_IDENTIFIER)
            if (env != null && "driver".equals(env.executorId())) {
                return new InProcess(InProcessValues.hold(this));
            }
            return packed();
        }

        /** The sum as it crosses between JVMs. */
        Serializable packed() {
            return new Packed(PackedArray.of(parameters), PackedArray.of(updaterState), scoreSum, count);
        }

        private record Packed(PackedArray parameters, PackedArray updaterState, double scoreSum, int count)
                implements Serializable {
            private Object readResolve() {
                return new ResultSum(parameters.unpack(), updaterState == null ? null : updaterState.unpack(),
                        scoreSum, count);
            }
        }

        private record InProcess(long key) implements Serializable {
            private Object readResolve() {
                return InProcessValues.take(key);
            }
        }
    }

    /** A worker that starts from an idle network of its run where this JVM has one. */
    static final class Worker extends ParameterAveragingTrainingWorker {
        private static final long serialVersionUID = 1L;

        private final Broadcast<NetBroadcastTuple> broadcast;
        private final List<TrainingListener> listeners;
        private final String run;
        private final long round;

        Worker(Broadcast<NetBroadcastTuple> broadcast, boolean saveUpdater, WorkerConfiguration configuration,
               Collection<TrainingHook> hooks, Collection<TrainingListener> listeners,
               StatsStorageRouterProvider router, String run, long round) {
            super(broadcast, saveUpdater, configuration, hooks, listeners, router);
            this.broadcast = broadcast;
            this.listeners = listeners == null ? List.of() : new ArrayList<>(listeners);
            this.run = run;
            this.round = round;
        }

        @Override
        public ComputationGraph getInitialModelGraph() {
            ComputationGraph network = Idle.take(run, round);
            if (network == null) {
                return super.getInitialModelGraph();
            }
            // In local mode the broadcast value is the driver's own object: read it, never keep it.
            NetBroadcastTuple tuple = broadcast.getValue();
            network.setParams(tuple.getParameters());
            if (tuple.getUpdaterState() != null) {
                network.getUpdater().setStateViewArray(tuple.getUpdaterState());
            }
            ComputationGraphConfiguration sent = tuple.getGraphConfiguration();
            network.getConfiguration().setIterationCount(sent.getIterationCount());
            network.getConfiguration().setEpochCount(sent.getEpochCount());
            // the listeners of this task (each task deserialises its own, with its own accumulators)
            network.setListeners(new ArrayList<>(listeners));
            return network;
        }

        /**
         * DL4J's result: views of the network's parameters and optimizer state, which the
         * aggregation adds into (in local mode on the driver's thread, outside any workspace, as
         * the network's arrays are). The network is lent with them until the next round.
         */
        @Override
        public ParameterAveragingTrainingResult getFinalResult(ComputationGraph network) {
            ParameterAveragingTrainingResult result = super.getFinalResult(network);
            Idle.lend(run, round, network);
            return result;
        }
    }

    /**
     * The networks of this JVM between rounds, of one run at a time: idle ones, and those lent with
     * the results of the round {@code lentIn}, which the driver may still be reading until another
     * round of the run starts.
     */
    static final class Idle {
        private static String run;
        private static final Deque<ComputationGraph> NETWORKS = new ArrayDeque<>();
        private static final List<ComputationGraph> LENT = new ArrayList<>();
        private static long lentIn;

        private Idle() {
        }

        /** An idle network of the run for a task of this round, or null. */
        static synchronized ComputationGraph take(String of, long round) {
            if (!of.equals(run)) {
                forgetAll();
                run = of;
            }
            takeBackUnless(round);
            return NETWORKS.pollFirst();
        }

        /** Lends the network with its result of this round. */
        static synchronized void lend(String of, long round, ComputationGraph network) {
            if (of.equals(run) && LENT.stream().noneMatch(lent -> lent == network)) {
                takeBackUnless(round);
                lentIn = round;
                LENT.add(network);
            }
        }

        static synchronized void forget(String of) {
            if (of.equals(run)) {
                forgetAll();
                run = null;
            }
        }

        /** The networks lent in another round are idle again: that round's results are averaged. */
        private static void takeBackUnless(long round) {
            if (round != lentIn) {
                LENT.forEach(NETWORKS::addFirst);
                LENT.clear();
            }
        }

        private static void forgetAll() {
            NETWORKS.clear();
            LENT.clear();
        }
    }
}
