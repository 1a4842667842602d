package io.sgdpo.train;

import static io.sgdpo.config.ConfigurationException.require;
import com.typesafe.config.Config;
import io.sgdpo.checkpoint.Checkpoints;
import io.sgdpo.checkpoint.TrainingState;
import io.sgdpo.config.ConfigurationException;
import io.sgdpo.loss.BatchMetrics;
import io.sgdpo.loss.LossSpec;
import io.sgdpo.loss.Losses;
import io.sgdpo.loss.PairLogProbs;
import io.sgdpo.loss.PreferenceLoss;
import io.sgdpo.hf.HfOrigin;
import io.sgdpo.nn.LanguageModels;
import io.sgdpo.nn.Optimization;
import io.sgdpo.nn.PairExample;
import io.sgdpo.nn.PairedBatch;
import io.sgdpo.nn.PairedPreferenceLoss;
import io.sgdpo.prep.PairSchema;
import io.sgdpo.prep.UserModel;
import io.sgdpo.prep.tokenize.TokenizerMatch;
import io.sgdpo.prep.tokenize.TokenCodec;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.learning.config.Adam;

/**
 * {@code sgdpo train}: preference training (SGDPO by default, or DPO, cDPO, IPO, SimPO, hinge) of a
 * policy initialised from a reference checkpoint, on pair shards carrying reference log-probs,
 * through DL4J's Spark training masters.
 *
 * <p>Training runs in chunks of {@code train.logEvery} whole minibatches, one metrics row per
 * chunk. Its TRL-named train metrics come from the updates' own forward passes, on the executors
 * ({@link UpdateMetrics}): each step's pairs as the loss saw them, scored by the parameters that
 * step started from (what TRL logs), with dropout when {@code model.dropout} is set; there is no
 * second forward pass. After the chunk the loss and the parameters are checked for non-finite
 * values. The warm-up + cosine learning rate is in the
 * optimizer of every layer and follows the step of each update ({@link StepSchedule}). Evaluation on the eval split, checkpoints and metric files follow at their
 * own intervals (multiples of the chunk). The data order and SGDPO's pilot draws are functions of
 * (seed, epoch, step, pair id), so {@code --resume} from a checkpoint retraces the same run.
 */
public final class TrainJob {

    /** The metrics file under RUN/metrics/. */
    public static final String METRICS = "train.jsonl";

    /** Pairs brought to the driver at a time (12 MB at 1,024 tokens per row), at least one chunk's. */
    static final int COLLECTED_PAIRS = 1024;

    /** Phases of {@link Result#seconds}. */
    public static final String UPDATES = "updates", EVALUATION = "evaluation", METRIC_FILES = "metric files";

    private TrainJob() {
    }

    /**
     * What a finished run left behind.
     *
     * @param seconds wall-clock seconds of this run by phase ({@link RunTimes#seconds})
     */
    public record Result(Path checkpoint, List<Map<String, Object>> metrics, Map<String, Double> seconds) {
    }

    /** A run stopped by a non-finite loss or parameter. */
    public static final class NonFiniteException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        NonFiniteException(String message) {
            super(message);
        }
    }

    record Settings(LossSpec loss, int batchSize, int epochs, long maxSteps, double learningRate, String optimizer,
                    double weightDecay, double warmupFraction, double minLearningRateFraction, double gradientClip,
                    long seed, int logEvery, int evalEvery, int checkpointEvery, boolean groupByLength,
                    double dropout) {

        static Settings of(Config c) {
            LossSpec loss = LossSpec.fromConfig(c.getConfig("loss"));
            Config t = c.getConfig("train");
            Settings s = new Settings(loss, t.getInt("batchSize"), t.getInt("epochs"), t.getLong("maxSteps"),
                    t.getDouble("learningRate"), t.getString("optimizer"), t.getDouble("weightDecay"),
                    t.getDouble("warmupFraction"), t.getDouble("minLearningRateFraction"), t.getDouble("gradientClip"),
                    t.getLong("seed"), t.getInt("logEvery"), t.getInt("evalEvery"), t.getInt("checkpointEvery"),
                    t.getBoolean("groupByLength"), c.getDouble("model.dropout"));
            require(s.batchSize >= 1, "train.batchSize (pairs per minibatch) must be >= 1, got " + s.batchSize);
            require(s.epochs >= 1, "train.epochs must be >= 1, got " + s.epochs);
            require(s.maxSteps >= 0, "train.maxSteps must be >= 0 (0: train.epochs decides), got " + s.maxSteps);
            require(s.learningRate > 0, "train.learningRate must be > 0, got " + s.learningRate);
            require(s.optimizer.equals("adam") || s.optimizer.equals("adamw"),
                    "train.optimizer must be adam or adamw, got '" + s.optimizer + "'");
            require(s.weightDecay >= 0, "train.weightDecay must be >= 0, got " + s.weightDecay);
            require(s.optimizer.equals("adamw") || s.weightDecay == 0,
                    "train.weightDecay applies to train.optimizer = adamw only");
            require(s.warmupFraction >= 0 && s.warmupFraction < 1, "train.warmupFraction must lie in [0, 1), got "
                    + s.warmupFraction);
            require(s.minLearningRateFraction >= 0 && s.minLearningRateFraction <= 1,
                    "train.minLearningRateFraction must lie in [0, 1], got " + s.minLearningRateFraction);
            require(s.gradientClip >= 0, "train.gradientClip must be >= 0 (0: off), got " + s.gradientClip);
            require(s.logEvery >= 1, "train.logEvery must be >= 1, got " + s.logEvery);
            require(s.evalEvery >= 0 && s.evalEvery % s.logEvery == 0,
                    "train.evalEvery must be 0 or a multiple of train.logEvery (" + s.logEvery + "), got " + s.evalEvery);
            require(s.checkpointEvery >= 0 && s.checkpointEvery % s.logEvery == 0,
                    "train.checkpointEvery must be 0 or a multiple of train.logEvery (" + s.logEvery + "), got "
                            + s.checkpointEvery);
            TrainingMasters.validate(t.getConfig("master"));
            return s;
        }

        Optimization optimization() {
            return new Optimization(new Adam(learningRate), gradientClip, optimizer.equals("adamw") ? weightDecay : 0);
        }
    }

    /**
     * Checks the train.* and loss.* settings of {@code config} without running anything, so that a
     * pipeline of many runs fails before its first one.
     *
     * @throws ConfigurationException naming the key
     */
    public static void validate(Config config) {
        Settings.of(config);
    }

    public static Result run(SparkSession spark, String dataDir, String init, String runDir, Config config,
                             boolean resume, PrintStream progress) throws IOException {
        RunTimes times = new RunTimes();
        long mark = System.nanoTime();
        Settings s = Settings.of(config);
        PreferenceLoss loss = Losses.create(s.loss());
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Path run = new Path(runDir);
        FileSystem fs = run.getFileSystem(sc.hadoopConfiguration());
        Checkpoints checkpoints = new Checkpoints(fs, new Path(run, RunStart.CHECKPOINTS));
        MetricsLog metrics = MetricsLog.open(fs, new Path(new Path(run, "metrics"), METRICS));
        TokenCodec vocab = PairShards.vocabulary(spark, dataDir);

        ComputationGraph policy;
        TrainingState state;
        HfOrigin origin;
        String initIdentity = null;
        var latest = RunStart.resumeOrNew(run, checkpoints, resume);
        if (latest.isPresent()) {
            requireSameLoss(latest.get(), s.loss());
            policy = latest.get().graph();
            state = latest.get().state();
            origin = latest.get().origin();
            metrics.truncateAfterStep(state.step());
            progress.printf("train: resuming %s at step %d%n", state.extra().get("runId"), state.step());
        } else {
            if (init == null) {
                throw new ConfigurationException("--init MODEL is required: the reference model to start from");
            }
            UserModel reference = UserModel.open(init, sc.hadoopConfiguration(), config);
            reference.requireTokenizer(vocab, dataDir);
            policy = LanguageModels.withLoss(reference.graph(), new PairedPreferenceLoss(s.loss()), s.optimization(),
                    s.dropout());
            origin = reference.origin();
            initIdentity = reference.identity();
            state = RunManifests.withInit(TrainingState.initial(s.seed()).with("runId", s.loss().getName() + "-"
                    + UUID.randomUUID().toString().substring(0, 8))
                    .with(TokenizerMatch.STATE_KEY, vocab.identity()), init, reference);
        }

        JavaRDD<PairExample> train = (loss.needsReference() ? PairShards.readWithReference(spark, dataDir, PairSchema.TRAIN)
                : PairShards.read(spark, dataDir, PairSchema.TRAIN)).cache();
        List<PairExample> evalPairs = (loss.needsReference() ? PairShards.readWithReference(spark, dataDir,
                PairSchema.EVAL) : PairShards.read(spark, dataDir, PairSchema.EVAL)).collect();
        long trainPairs = train.count();
        long batchesPerEpoch = trainPairs / s.batchSize();
        require(batchesPerEpoch >= 1, "the train split has " + trainPairs + " pairs, fewer than train.batchSize "
                + s.batchSize());
        require(!evalPairs.isEmpty(), "the eval split of " + dataDir + " is empty: raise prep.evalFraction");
        long totalSteps = s.maxSteps() > 0 ? s.maxSteps() : s.epochs() * batchesPerEpoch;
        LearningRateSchedule schedule = new LearningRateSchedule(s.learningRate(),
                (long) Math.floor(s.warmupFraction() * totalSteps), totalSteps, s.minLearningRateFraction());
        PairedBatch layout = PairedBatch.forModel(policy, vocab.padId());
        progress.printf("train: each minibatch %s%s%n", layout.describe(), s.groupByLength()
                ? "; pairs grouped by length (train.groupByLength)" : "");
        int partitions = sc.defaultParallelism();
        String runId = state.extra().get("runId");
        RunManifests.builder("train", fs, dataDir, state, config, List.of("model", "loss", "train"))
                .section("totalSteps", totalSteps)
                .count("trainPairs", trainPairs).count("evalPairs", evalPairs.size())
                .build().write(fs, run);

        // Until the first update the policy is the reference checkpoint; when that checkpoint scored
        // the data, step-0 rewards are taken against the same forward pass (exactly 0, see Evaluation).
        boolean startsAtReference = state.step() == 0 && loss.needsReference()
                && initIdentity != null
                && Evaluation.isScoredReference(sc.hadoopConfiguration(), dataDir, initIdentity);
        if (startsAtReference) {
            progress.printf("train: the policy starts as the checkpoint that scored %s: metrics before the first"
                    + " update compare it with itself (rewards 0)%n", dataDir);
        }
        mark = times.add("data and model", mark);
        if (state.step() == 0 && metrics.rows().isEmpty()) {
            Map<String, Object> r = baseRow(runId, 0, 0, schedule.at(0), Double.NaN);
            r.putAll(evaluate(sc, policy, layout, evalPairs, loss, s, startsAtReference));
            mark = times.add(EVALUATION, mark);
            metrics.append(r);
            mark = times.add(METRIC_FILES, mark);
            progress.printf("train: step 0/%d  eval_loss %.4f  eval_rewards/accuracies %.3f%n", totalSteps,
                    (Double) r.get("eval_loss"), (Double) r.get("eval_rewards/accuracies"));
        }

        long step = state.step();
        long runStart = System.nanoTime();
        long stepsThisRun = 0;
        try (DistributedTrainer trainer = TrainingMasters.create(sc, policy, config.getConfig("train.master"),
                new TrainingMasters.Run(s.batchSize(), 2, schedule, s.learningRate(), step, s.seed()))) {
            mark = times.add("training master", mark);
            progress.printf("train: %s%n", trainer.describe());
            trainer.warningForFitsOf(s.logEvery()).ifPresent(w -> progress.printf("train: warning: %s%n", w));
            JavaRDD<Minibatches.Batch> epochBatches = null;
            long cachedEpoch = -1;
            // the epoch's next minibatches on the driver, [windowFrom, windowFrom + window.size())
            List<Minibatches.Batch> window = List.of();
            long windowFrom = 0;
            while (step < totalSteps) {
                long epoch = step / batchesPerEpoch + 1;
                if (epoch != cachedEpoch) {
                    if (epochBatches != null) {
                        epochBatches.unpersist();
                    }
                    epochBatches = Minibatches.of(train, s.batchSize(), s.seed(), epoch, false, s.groupByLength(),
                            partitions).cache();
                    cachedEpoch = epoch;
                    window = List.of();
                }
                long epochStart = (epoch - 1) * batchesPerEpoch;
                long chunkEnd = Math.min(Math.min(step + s.logEvery(), epochStart + batchesPerEpoch), totalSteps);
                long from = step - epochStart;
                long to = chunkEnd - epochStart;
                if (from < windowFrom || to > windowFrom + window.size()) {
                    window = collectMinibatches(epochBatches, from, Math.min(batchesPerEpoch,
                            Math.max(to, from + Math.max(1, COLLECTED_PAIRS / s.batchSize()))));
                    windowFrom = from;
                }
                List<Minibatches.Batch> chunk = new ArrayList<>(window.subList((int) (from - windowFrom),
                        (int) (to - windowFrom)));
                mark = times.add("minibatches", mark);

                Map<String, Object> row = baseRow(runId, epoch, chunkEnd, schedule.at(step), Double.NaN);

                long tokens = chunk.stream().flatMap(b -> b.pairs().stream())
                        .mapToLong(p -> 2L * p.prompt().length + p.chosen().length + p.rejected().length).sum();
                mark = System.nanoTime();
                long seed = s.seed();
                // the learning rate of each step is set by the schedule in the updaters, step by step
                List<UpdateMetrics.ScoredPair> scored = trainer.fit(chunk,
                        (index, pairs) -> layout.build(pairs, loss, seed, epochStart + index, DataType.FLOAT),
                        epochStart);
                double seconds = (System.nanoTime() - mark) / 1e9;
                mark = times.add(UPDATES, mark);
                Map<String, Double> trainMetrics = chunkMetrics(scored, chunk, loss, startsAtReference && step == 0);
                requireFinite(trainMetrics.get(BatchMetrics.LOSS), "loss", step, chunk);
                row.putAll(trainMetrics);
                policy = trainer.network();
                requireFinite(policy.params().sumNumber().doubleValue(), "parameters after the update", step, chunk);
                stepsThisRun += chunkEnd - step;
                step = chunkEnd;
                row.put("tokens_per_s", tokens / seconds);

                boolean last = step == totalSteps;
                if (last || (s.evalEvery() > 0 && step % s.evalEvery() == 0)) {
                    mark = System.nanoTime();
                    row.putAll(evaluate(sc, policy, layout, evalPairs, loss, s, false));
                    mark = times.add(EVALUATION, mark);
                }
                state = new TrainingState(step, (int) epoch, s.seed(), s.seed() + step, state.extra());
                if (last || (s.checkpointEvery() > 0 && step % s.checkpointEvery() == 0)) {
                    mark = System.nanoTime();
                    row.put("checkpoint", checkpoints.save(policy, state, origin).toString());
                    mark = times.add("checkpoints", mark);
                }
                mark = System.nanoTime();
                metrics.append(row);
                mark = times.add(METRIC_FILES, mark);
                double elapsed = (System.nanoTime() - runStart) / 1e9;
                double eta = elapsed / stepsThisRun * (totalSteps - step);
                progress.printf("train: step %d/%d  loss %.4f  rewards/accuracies %.3f  %.0f tokens/s  ETA %.0fs%s%n",
                        step, totalSteps, trainMetrics.get(BatchMetrics.LOSS),
                        trainMetrics.get(BatchMetrics.REWARDS_ACCURACIES), tokens / seconds, eta,
                        row.containsKey("eval_loss") ? String.format("  eval_rewards/accuracies %.3f",
                                (Double) row.get("eval_rewards/accuracies")) : "");
            }
            if (epochBatches != null) {
                epochBatches.unpersist();
            }
            mark = System.nanoTime();
        }
        mark = times.add("training master", mark);
        Path metricsDir = new Path(run, "metrics");
        MetricsFiles.writeParquet(spark, metrics.rows(), new Path(metricsDir, "train.parquet"));
        MetricsFiles.writeChart(fs, metrics.rows(), new Path(metricsDir, "curves.png"), s.loss().getName());
        times.add(METRIC_FILES, mark);
        progress.printf("train: %d steps this run in %s%n", stepsThisRun, times.summary());
        return new Result(checkpoints.latest().orElseThrow(), metrics.rows(), times.seconds());
    }

    /**
     * The epoch's minibatches {@code [from, until)} in order, on the driver. One Spark job (a scan of
     * the cached epoch) serves many chunks: one per chunk cost about 30 ms each on 2 cores.
     */
    private static List<Minibatches.Batch> collectMinibatches(JavaRDD<Minibatches.Batch> epoch, long from,
                                                              long until) {
        List<Minibatches.Batch> out = new ArrayList<>(epoch.filter(b -> b.index() >= from && b.index() < until)
                .collect());
        out.sort(java.util.Comparator.comparingLong(Minibatches.Batch::index));
        if (out.size() != until - from) {
            throw new IllegalStateException("minibatches " + from + " to " + until + " of the epoch: found "
                    + out.size());
        }
        return out;
    }

    private static Map<String, Object> baseRow(String runId, long epoch, long step, double learningRate,
                                               double tokensPerSecond) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("run_id", runId);
        r.put("step", step);
        r.put("epoch", epoch);
        r.put("learning_rate", learningRate);
        r.put("tokens_per_s", Double.isNaN(tokensPerSecond) ? null : tokensPerSecond);
        return r;
    }

    /**
     * TRL metrics of the chunk's pairs as their updates' forward passes scored them. With {@code
     * startsAtReference} (a chunk from step 0 of a policy that is the checkpoint that scored the
     * data) the pairs of the first update, scored by the reference itself, take their reference
     * log-probs from that forward pass instead of the stored ones, which differ from them by float32
     * rounding only ({@link Evaluation#againstItself}). On SharedTraining with several executors that
     * is the first update of each executor, which starts from the reference too.
     */
    private static Map<String, Double> chunkMetrics(List<UpdateMetrics.ScoredPair> scored,
                                                    List<Minibatches.Batch> chunk, PreferenceLoss loss,
                                                    boolean startsAtReference) {
        long expected = chunk.stream().mapToLong(b -> b.pairs().size()).sum();
        if (scored.size() != expected) {
            throw new IllegalStateException("the updates of minibatches " + chunk.get(0).index() + " to "
                    + chunk.get(chunk.size() - 1).index() + " of the epoch reported " + scored.size()
                    + " scored pairs, not their " + expected + " pairs");
        }
        List<PairLogProbs> all = new ArrayList<>(scored.size());
        for (UpdateMetrics.ScoredPair p : scored) {
            boolean byReference = startsAtReference && p.iteration() == 0 && loss.needsReference();
            all.add(byReference ? Evaluation.againstItself(List.of(p.pair())).get(0) : p.pair());
        }
        return BatchMetrics.of(loss, all);
    }

    private static Map<String, Object> evaluate(JavaSparkContext sc, ComputationGraph policy, PairedBatch layout,
                                                List<PairExample> evalPairs, PreferenceLoss loss, Settings s,
                                                boolean policyIsReference) {
        return new LinkedHashMap<>(Evaluation.metrics(sc, policy, layout, evalPairs, loss, s.batchSize(), s.seed(),
                policyIsReference));
    }

    /**
     * The gradient of a resumed run comes from the loss stored in the checkpoint's graph, while the
     * metrics, pilots and evaluation follow the config's: the two must be the same loss.
     */
    private static void requireSameLoss(Checkpoints.Loaded checkpoint, LossSpec configured) {
        if (!(LanguageModels.outputLoss(checkpoint.graph().getConfiguration())
                instanceof PairedPreferenceLoss stored)) {
            throw new ConfigurationException("--resume: " + checkpoint.path() + " is not a preference-training"
                    + " checkpoint (its output layer has no preference loss)");
        }
        List<String> differences = stored.getLoss().differencesFrom(configured);
        if (!differences.isEmpty()) {
            throw new ConfigurationException("--resume: the config's loss differs from the one " + checkpoint.path()
                    + " was trained with (checkpoint vs config): " + String.join(", ", differences)
                    + "; resume with the checkpoint's loss.* settings, or start a new run");
        }
    }

    private static void requireFinite(double value, String what, long step, List<Minibatches.Batch> chunk) {
        if (!Double.isFinite(value)) {
            List<String> ids = new ArrayList<>();
            chunk.forEach(b -> b.pairs().forEach(p -> ids.add(p.pairId())));
            throw new NonFiniteException("non-finite " + what + " (" + value + ") at step " + step
                    + "; the last good checkpoint stays latest; pairs of the minibatches: " + ids);
        }
    }
}
