package io.sgdpo.train;

import com.typesafe.config.Config;
import io.sgdpo.config.ConfigurationException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.Function;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.optimize.solvers.accumulation.encoding.ThresholdAlgorithm;
import org.deeplearning4j.optimize.solvers.accumulation.encoding.threshold.FixedThresholdAlgorithm;
import org.deeplearning4j.spark.api.RDDTrainingApproach;
import org.deeplearning4j.spark.api.Repartition;
import org.deeplearning4j.spark.api.TrainingHook;
import org.deeplearning4j.spark.impl.graph.SparkComputationGraph;
import org.deeplearning4j.spark.impl.repartitioner.NoOpRepartitioner;
import org.deeplearning4j.spark.impl.paramavg.ParameterAveragingTrainingMaster;
import org.deeplearning4j.spark.parameterserver.training.SharedTrainingMaster;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.schedule.FixedSchedule;
import org.nd4j.linalg.schedule.ISchedule;
import org.nd4j.parameterserver.distributed.conf.VoidConfiguration;
import org.nd4j.parameterserver.distributed.v2.ModelParameterServer;

/**
 * Builds the {@link DistributedTrainer} of DL4J's Spark training master named by
 * {@code train.master.kind}: {@code parameterAveraging} or {@code sharedTraining}. Whatever the
 * master and the number of executors, one step is one update from one minibatch of the run's
 * {@code pairsPerStep} pairs, at the learning rate of that step:
 *
 * <ul>
 *   <li><b>ParameterAveraging</b> averages the parameters (and Adam's state) of N workers that
 *       started from the same ones. Each step's minibatch is cut into N shares of whole pairs, one
 *       per worker, and their updates averaged: the update of the whole minibatch, as one process
 *       would take it (N = the largest divisor of the minibatch's pairs not above Spark's default
 *       parallelism). With {@code averagingFrequency} k each worker takes k steps on its shares
 *       before the average. Every element DL4J sees is one worker's share, fitted as it is
 *       ({@code batchSizePerWorker} = its rows, no repartitioning), so no pair is ever split.
 *       DL4J's worker copies the configuration without its iteration count, so every update ran
 *       with Adam's bias correction of the first step (about a third of the step): a hook sets each
 *       worker's count to the global step of the minibatch it fits. A worker keeps its network from
 *       round to round of a run, and the parameters and optimizer state travel packed, or in local mode
 *       not at all ({@link ReusingParameterAveragingMaster}).</li>
 *   <li><b>SharedTraining</b> keeps one model per executor for the whole run; each executor fits
 *       whole minibatches and sends its updates, threshold-encoded, to every other, which applies
 *       them: the updates add up, as the steps of one process do. Its threshold follows the
 *       learning rate ({@link ScheduledThreshold}) unless {@code shared.updatesThreshold} fixes it.</li>
 * </ul>
 *
 * <p>The learning rate schedule goes into every layer's updater ({@link StepSchedule}), so each
 * update, on whichever executor, runs at the rate of its own step. On both masters a listener
 * ({@link UpdateMetrics}) brings back the per-pair log-probs of every update's forward pass, which
 * {@link DistributedTrainer#fit} returns for the train metrics.
 */
public final class TrainingMasters {

    /** Minibatches of a ParameterAveraging fit collected on the driver at a time. */
    private static final int ROUNDS_PER_COLLECT = 64;
    /**
     * Steps each SharedTraining executor should take per fit: every fit's end drops what an executor
     * has not shared yet. On the arithmetic task (bench/cluster/learn.md, README) 5 steps per
     * executor and fit lost 0.1 of gold exact match against local mode, 25 steps 0.02.
     */
    static final int SHARED_STEPS_PER_EXECUTOR_FIT = 25;

    private TrainingMasters() {
    }

    /**
     * What a trainer needs to know of the run besides the network and the master's settings.
     *
     * @param pairsPerStep pairs of one step's minibatch (whole pairs are never split)
     * @param rowsPerPair  rows of the DataSet per pair (2 for preference pairs, 1 for SFT sequences)
     * @param schedule     the learning rate per step, or null for a constant {@code learningRate}
     * @param learningRate the peak (or constant) learning rate
     * @param startStep    the global step the trainer starts at (after a resume, the checkpoint's)
     * @param seed         the run's seed
     */
    public record Run(int pairsPerStep, int rowsPerPair, LearningRateSchedule schedule, double learningRate,
                      long startStep, long seed) {
    }

    /**
     * A trainer for the network with the master from config. Sets the run's learning rate schedule
     * in every layer of the network.
     */
    public static DistributedTrainer create(JavaSparkContext sc, ComputationGraph network, Config master, Run run) {
        validate(master);
        if (master.getString("kind").equals("parameterAveraging")) {
            if (run.schedule() != null) {
                StepSchedule.absolute(run.schedule()).installOn(network);
            }
            return new ParameterAveragingTrainer(sc, network, master.getInt("averagingFrequency"),
                    parameterAveragingWorkers(sc.defaultParallelism(), run.pairsPerStep()), run, new UpdateMetrics(sc));
        }
        int executors = executors(sc);
        ISchedule rate = run.schedule() == null ? new FixedSchedule(run.learningRate())
                : StepSchedule.relative(run.schedule(), run.startStep(), executors, UUID.randomUUID().toString());
        if (rate instanceof StepSchedule s) {
            s.installOn(network);
        }
        double fixed = master.getDouble("shared.updatesThreshold");
        ThresholdAlgorithm threshold = fixed > 0 ? new FixedThresholdAlgorithm(fixed) : new ScheduledThreshold(rate);
        return new SharedTrainer(sc, network, sharedMaster(master, run.pairsPerStep() * run.rowsPerPair(), threshold,
                run.seed()), executors, run.pairsPerStep(), fixed, new UpdateMetrics(sc));
    }

    /**
     * ParameterAveraging's workers: the largest divisor of the pairs of a minibatch not above the
     * parallelism (task slots), so that every worker gets an equal share of whole pairs.
     */
    static int parameterAveragingWorkers(int parallelism, int pairsPerStep) {
        for (int n = Math.max(1, Math.min(parallelism, pairsPerStep)); n > 1; n--) {
            if (pairsPerStep % n == 0) {
                return n;
            }
        }
        return 1;
    }

    /** The executor JVMs of the application (each runs one SharedTraining model); 1 in local mode. */
    static int executors(JavaSparkContext sc) {
        if (sc.isLocal()) {
            return 1;
        }
        // the driver is listed too
        return Math.max(1, sc.sc().statusTracker().getExecutorInfos().length - 1);
    }

    /** Checks the {@code train.master} block, so that a bad value fails before any work. */
    public static void validate(Config master) {
        String kind = master.getString("kind");
        if (!kind.equals("parameterAveraging") && !kind.equals("sharedTraining")) {
            throw new ConfigurationException("train.master.kind: unknown training master '" + kind
                    + "'; expected parameterAveraging or sharedTraining");
        }
        int averaging = master.getInt("averagingFrequency");
        if (averaging < 1) {
            throw new ConfigurationException("train.master.averagingFrequency must be >= 1, got " + averaging);
        }
        int port = master.getInt("shared.port");
        if (port < 0 || port > 65535) {
            throw new ConfigurationException("train.master.shared.port must be a UDP port or 0 (any free port of "
                    + "the driver), got " + port);
        }
        int executorPort = master.getInt("shared.executorPort");
        if (executorPort < 0 || executorPort > 65535) {
            throw new ConfigurationException("train.master.shared.executorPort must be a UDP port or 0 (any free "
                    + "port), got " + executorPort);
        }
        double threshold = master.getDouble("shared.updatesThreshold");
        if (!(threshold >= 0) || Double.isInfinite(threshold)) {
            throw new ConfigurationException("train.master.shared.updatesThreshold must be >= 0 (0: the learning "
                    + "rate of each step), got " + threshold);
        }
    }

    private static SharedTrainingMaster sharedMaster(Config master, int rows, ThresholdAlgorithm threshold, long seed) {
        Config shared = master.getConfig("shared");
        VoidConfiguration voidConf = VoidConfiguration.builder()
                .networkMask(shared.getString("networkMask"))
                .controllerAddress(shared.getString("controllerAddress"))
                .build();
        voidConf.setPortSupplier(new SharedTrainingPorts(shared.getInt("port"), shared.getInt("executorPort")));
        return new SharedTrainingMaster.Builder(voidConf, rows)
                .batchSizePerWorker(rows)
                .thresholdAlgorithm(threshold)
                .workersPerNode(1)
                .workerPrefetchNumBatches(0)
                .repartitionData(Repartition.Never)
                // DL4J's default repartitioner gives every minibatch a task of its own; each task ends
                // with a reset of the executor's residual, so updates below the threshold were dropped
                // after every step. Kept as given, each executor fits its partition's steps in one go.
                .repartitioner(new NoOpRepartitioner())
                .rddTrainingApproach(RDDTrainingApproach.Export)
                .rngSeed(seed)
                .build();
    }

    /** The DataSets of the minibatches (a function of its own: a lambda here would capture a trainer). */
    private static Function<Minibatches.Batch, DataSet> building(DistributedTrainer.Builder build) {
        return b -> build.build(b.index(), b.pairs());
    }

    /**
     * ParameterAveraging, one DL4J fit per averaging round: N workers each fit their shares of k
     * consecutive steps (partition w holds worker w's shares in step order), then the driver averages
     * parameters and optimizer state. A new master per round, seeded from (seed, step), and the
     * iteration count set from the step make every round a function of the step, so a resumed run
     * retraces the uninterrupted one bit for bit.
     */
    private static final class ParameterAveragingTrainer implements DistributedTrainer {
        private final JavaSparkContext sc;
        private final int averaging;
        private final int workers;
        private final Run run;
        private final UpdateMetrics metrics;
        /** Workers reuse their networks within this trainer's run ({@link ReusingParameterAveragingMaster}). */
        private final String id = UUID.randomUUID().toString();
        private ComputationGraph current;

        ParameterAveragingTrainer(JavaSparkContext sc, ComputationGraph network, int averaging, int workers, Run run,
                                  UpdateMetrics metrics) {
            this.sc = sc;
            this.metrics = metrics;
            this.current = network;
            this.averaging = averaging;
            this.workers = workers;
            this.run = run;
        }

        @Override
        public List<UpdateMetrics.ScoredPair> fit(JavaRDD<Minibatches.Batch> minibatches, Builder build,
                                                  long stepOfIndexZero) {
            metrics.reset();
            List<Long> indexes = new ArrayList<>(minibatches.map(Minibatches.Batch::index).collect());
            indexes.sort(Comparator.naturalOrder());
            int block = ROUNDS_PER_COLLECT * averaging;
            for (int from = 0; from < indexes.size(); from += block) {
                long lo = indexes.get(from);
                long hi = indexes.get(Math.min(from + block, indexes.size()) - 1);
                rounds(minibatches.filter(b -> b.index() >= lo && b.index() <= hi).collect(), build,
                        stepOfIndexZero);
            }
            return metrics.gathered();
        }

        /** The minibatches are on the driver already: the rounds take them from there. */
        @Override
        public List<UpdateMetrics.ScoredPair> fit(List<Minibatches.Batch> minibatches, Builder build,
                                                  long stepOfIndexZero) {
            metrics.reset();
            rounds(minibatches, build, stepOfIndexZero);
            return metrics.gathered();
        }

        /** The rounds of these minibatches, {@code averaging} of them each, in the order of their indexes. */
        private void rounds(List<Minibatches.Batch> minibatches, Builder build, long stepOfIndexZero) {
            List<Minibatches.Batch> ordered = new ArrayList<>(minibatches);
            ordered.sort(Comparator.comparingLong(Minibatches.Batch::index));
            for (int r = 0; r < ordered.size(); r += averaging) {
                round(ordered.subList(r, Math.min(r + averaging, ordered.size())), build, stepOfIndexZero);
            }
        }

        private void round(List<Minibatches.Batch> steps, Builder build, long stepOfIndexZero) {
            long step = stepOfIndexZero + steps.get(0).index();
            int share = run.pairsPerStep() / workers;
            List<Minibatches.Batch> shares = new ArrayList<>(workers * steps.size());
            for (int w = 0; w < workers; w++) {
                for (Minibatches.Batch b : steps) {
                    if (b.pairs().size() != run.pairsPerStep()) {
                        throw new IllegalArgumentException("minibatch " + b.index() + " has " + b.pairs().size()
                                + " pairs, not " + run.pairsPerStep());
                    }
                    shares.add(new Minibatches.Batch(b.index(), new ArrayList<>(b.pairs().subList(w * share,
                            (w + 1) * share))));
                }
            }
            int rows = share * run.rowsPerPair();
            ParameterAveragingTrainingMaster tm = new ReusingParameterAveragingMaster(
                    new ParameterAveragingTrainingMaster.Builder(workers, rows)
                            .batchSizePerWorker(rows)
                            .averagingFrequency(steps.size())
                            .workerPrefetchNumBatches(0)
                            .repartionData(Repartition.Never)
                            .rddTrainingApproach(RDDTrainingApproach.Direct)
                            .storageLevel(null)
                            .saveUpdater(true)
                            .trainingHooks(new StepHook(step))
                            .rngSeed(run.seed() * 0x9e3779b97f4a7c15L + step), id, shares.size());
            current.getConfiguration().setIterationCount(Math.toIntExact(step));
            SparkComputationGraph spark = new SparkComputationGraph(sc, current, tm);
            spark.setListeners(metrics.listener());
            try {
                // slice w of the parallelized list is worker w's shares: one partition per worker
                spark.fit(sc.parallelize(shares, workers).map(building(build)));
            } finally {
                tm.deleteTempFiles(sc);
            }
            current = spark.getNetwork();
            current.getConfiguration().setIterationCount(Math.toIntExact(step + steps.size()));
        }

        @Override
        public ComputationGraph network() {
            return current;
        }

        @Override
        public String describe() {
            return String.format(Locale.ROOT, "parameterAveraging: %d worker(s) x %d pairs per step, averaged every %d "
                    + "step(s)", workers, run.pairsPerStep() / workers, averaging);
        }

        @Override
        public void close() {
            ReusingParameterAveragingMaster.forget(id);
        }
    }

    /**
     * Sets the iteration count of a ParameterAveraging worker's model to the global step of each
     * minibatch before its update: the count drives Adam's bias correction and the learning rate
     * schedule, and DL4J's worker starts from a copy of the configuration without it. Each worker's
     * task deserialises its own hook, so the count starts at the round's first step on every worker.
     */
    static final class StepHook implements TrainingHook {
        private static final long serialVersionUID = 1L;
        private final long first;
        private int calls;

        StepHook(long first) {
            this.first = first;
        }

        private void next(Model model) {
            ((ComputationGraph) model).getConfiguration().setIterationCount(Math.toIntExact(first + calls++));
        }

        @Override
        public void preUpdate(org.nd4j.linalg.dataset.api.DataSet minibatch, Model model) {
            next(model);
        }

        @Override
        public void postUpdate(org.nd4j.linalg.dataset.api.DataSet minibatch, Model model) {
        }

        @Override
        public void preUpdate(MultiDataSet minibatch, Model model) {
            next(model);
        }

        @Override
        public void postUpdate(MultiDataSet minibatch, Model model) {
        }
    }

    /**
     * SharedTraining: one master for the whole run (its parameter server lives across fits, and each
     * executor keeps its model between fits); its asynchronous updates are not deterministic.
     */
    private static final class SharedTrainer implements DistributedTrainer {
        private final JavaSparkContext sc;
        private final SharedTrainingMaster tm;
        private final SparkComputationGraph spark;
        private final int executors;
        private final int pairsPerStep;
        private final double fixedThreshold;
        private final UpdateMetrics metrics;
        private final java.util.Set<Thread> pollersBefore;

        SharedTrainer(JavaSparkContext sc, ComputationGraph network, SharedTrainingMaster tm, int executors,
                      int pairsPerStep, double fixedThreshold, UpdateMetrics metrics) {
            this.sc = sc;
            this.tm = tm;
            this.metrics = metrics;
            this.spark = new SparkComputationGraph(sc, network, tm);
            this.spark.setListeners(metrics.listener());
            this.executors = executors;
            this.pairsPerStep = pairsPerStep;
            this.fixedThreshold = fixedThreshold;
            this.pollersBefore = AeronPollers.running();
        }

        @Override
        public List<UpdateMetrics.ScoredPair> fit(JavaRDD<Minibatches.Batch> minibatches, Builder build,
                                                  long stepOfIndexZero) {
            metrics.reset();
            spark.fit(minibatches.map(building(build)));
            return metrics.gathered();
        }

        /** Each executor takes whole minibatches: they go out as an RDD of one partition per task slot. */
        @Override
        public List<UpdateMetrics.ScoredPair> fit(List<Minibatches.Batch> minibatches, Builder build,
                                                  long stepOfIndexZero) {
            return fit(sc.parallelize(minibatches, Math.max(1, Math.min(sc.defaultParallelism(), minibatches.size()))),
                    build, stepOfIndexZero);
        }

        @Override
        public ComputationGraph network() {
            return spark.getNetwork();
        }

        @Override
        public String describe() {
            return String.format(Locale.ROOT, "sharedTraining: %d executor model(s), %d pairs per step, threshold %s",
                    executors, pairsPerStep, fixedThreshold > 0 ? String.valueOf(fixedThreshold)
                            : "= the learning rate of each step");
        }

        @Override
        public Optional<String> warningForFitsOf(long steps) {
            if (steps >= (long) SHARED_STEPS_PER_EXECUTOR_FIT * executors) {
                return Optional.empty();
            }
            return Optional.of(String.format(Locale.ROOT, "each of the %d executors takes about %d step(s) per fit, "
                    + "and the end of every fit drops the updates an executor has not shared yet: set train.logEvery "
                    + "(steps per fit) to %d or more", executors, Math.max(1, steps / executors),
                    SHARED_STEPS_PER_EXECUTOR_FIT * executors));
        }

        /**
         * Also stops this JVM's parameter server, which DL4J leaves running after the last fit: its
         * Aeron media driver stops with it, but not the transport's subscription poller (see
         * {@link AeronPollers}).
         */
        @Override
        public void close() {
            tm.deleteTempFiles(sc);
            ModelParameterServer.getInstance().shutdown();
            AeronPollers.stopStartedSince(pollersBefore);
        }
    }
}
