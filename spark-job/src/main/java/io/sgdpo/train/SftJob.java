package io.sgdpo.train;

import static io.sgdpo.config.ConfigurationException.require;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import io.sgdpo.checkpoint.Checkpoints;
import io.sgdpo.checkpoint.TrainingState;
import io.sgdpo.config.ConfigurationException;
import io.sgdpo.hf.HfOrigin;
import io.sgdpo.nn.LanguageModels;
import io.sgdpo.nn.ModelShape;
import io.sgdpo.nn.Optimization;
import io.sgdpo.nn.PairExample;
import io.sgdpo.nn.PairedBatch;
import io.sgdpo.nn.PairedLabels;
import io.sgdpo.nn.SftLoss;
import io.sgdpo.output.AtomicOutput;
import io.sgdpo.prep.PairSchema;
import io.sgdpo.prep.UserModel;
import io.sgdpo.prep.tokenize.TokenizerMatch;
import io.sgdpo.prep.tokenize.TokenCodec;
import java.io.IOException;
import java.io.PrintStream;
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
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Adam;

/**
 * {@code sgdpo sft}: trains the decoder on prompt + chosen response (loss on response tokens only)
 * from prep shards, through the same Spark training masters as preference training, to make a
 * reference policy.
 *
 * <p>Writes {@code RUN/checkpoints/step-N} after every epoch, {@code RUN/metrics/sft.jsonl} (one
 * row per epoch, row 0 the untrained model: train and eval loss, i.e. mean response-token NLL, and
 * perplexity) and {@code RUN/_manifest.json}. {@code resume} continues from the latest checkpoint.
 */
public final class SftJob {

    /** The metrics file under RUN/metrics/. */
    public static final String METRICS = "sft.jsonl";

    private static final ObjectMapper JSON = new ObjectMapper();

    private SftJob() {
    }

    /** What a finished run left behind. */
    public record Result(Path checkpoint, List<Map<String, Object>> metrics) {
    }

    record Settings(int epochs, int batchSize, double learningRate, long seed, int trainEvalPairs) {
        static Settings of(Config c) {
            Settings s = new Settings(c.getInt("sft.epochs"), c.getInt("sft.batchSize"), c.getDouble("sft.learningRate"),
                    c.getLong("sft.seed"), c.getInt("sft.trainEvalPairs"));
            require(s.epochs >= 1, "sft.epochs must be >= 1, got " + s.epochs);
            require(s.batchSize >= 1, "sft.batchSize must be >= 1, got " + s.batchSize);
            require(s.learningRate > 0, "sft.learningRate must be > 0, got " + s.learningRate);
            require(s.trainEvalPairs >= 1, "sft.trainEvalPairs must be >= 1, got " + s.trainEvalPairs);
            TrainingMasters.validate(c.getConfig("train.master"));
            return s;
        }
    }

    /**
     * Checks the sft.* settings of {@code config} without running anything.
     *
     * @throws ConfigurationException naming the key
     */
    public static void validate(Config config) {
        Settings.of(config);
    }

    /**
     * @param init a model to fine-tune (a Hugging Face folder or a checkpoint), or null to train a
     *             model of {@code model.*} from scratch
     */
    public static Result run(SparkSession spark, String dataDir, String init, String runDir, Config config,
                             boolean resume, PrintStream progress) throws IOException {
        Settings s = Settings.of(config);
        TokenCodec vocab = PairShards.vocabulary(spark, dataDir);
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Path run = new Path(runDir);
        FileSystem fs = run.getFileSystem(sc.hadoopConfiguration());
        Checkpoints checkpoints = new Checkpoints(fs, new Path(run, RunStart.CHECKPOINTS));
        MetricsLog metrics = MetricsLog.open(fs, new Path(new Path(run, "metrics"), METRICS));

        ComputationGraph graph;
        TrainingState state;
        HfOrigin origin;
        var latest = RunStart.resumeOrNew(run, checkpoints, resume);
        if (latest.isPresent()) {
            graph = latest.get().graph();
            state = latest.get().state();
            origin = latest.get().origin();
            metrics.truncateAfterStep(state.step());
            progress.printf("sft: resuming %s at epoch %d, step %d%n", state.extra().get("runId"), state.epoch(),
                    state.step());
        } else {
            Optimization optimization = new Optimization(new Adam(s.learningRate), 0, 0);
            UserModel start = init == null ? null : UserModel.open(init, sc.hadoopConfiguration(), config);
            if (start != null) {
                start.requireTokenizer(vocab, dataDir);
                graph = LanguageModels.withLoss(start.graph(), new SftLoss(), optimization,
                        config.getDouble("model.dropout"));
                origin = start.origin();
            } else {
                graph = LanguageModels.create(config.getConfig("model"), vocab.size(), new SftLoss(), optimization,
                        DataType.FLOAT);
                origin = null;
            }
            state = TrainingState.initial(s.seed).with("runId", "sft-" + UUID.randomUUID().toString().substring(0, 8))
                    .with(TokenizerMatch.STATE_KEY, vocab.identity());
            if (start != null) {
                state = RunManifests.withInit(state, init, start);
            }
        }
        ModelShape model = LanguageModels.describe(graph.getConfiguration());

        JavaRDD<PairExample> train = PairShards.read(spark, dataDir, PairSchema.TRAIN).cache();
        List<PairExample> evalPairs = PairShards.read(spark, dataDir, PairSchema.EVAL).collect();
        long trainPairs = train.count();
        require(trainPairs >= s.batchSize, "the train split has " + trainPairs + " pairs, fewer than sft.batchSize "
                + s.batchSize);
        require(!evalPairs.isEmpty(), "the eval split of " + dataDir + " is empty: raise prep.evalFraction");
        List<PairExample> trainSample = train.takeSample(false, s.trainEvalPairs, s.seed);
        PairedBatch layout = PairedBatch.forModel(graph, vocab.padId());
        progress.printf("sft: each minibatch %s%n", layout.describe());
        int partitions = sc.defaultParallelism();
        String runId = state.extra().get("runId");

        if (state.step() == 0 && metrics.rows().isEmpty()) {
            metrics.append(row(runId, 0, 0, graph, layout, trainSample, evalPairs, s.batchSize, Double.NaN));
            report(progress, metrics.rows().get(0));
        }
        try (DistributedTrainer trainer = TrainingMasters.create(sc, graph, config.getConfig("train.master"),
                new TrainingMasters.Run(s.batchSize, 1, null, s.learningRate, state.step(), s.seed))) {
            progress.printf("sft: %s%n", trainer.describe());
            long step = state.step();
            for (int epoch = state.epoch() + 1; epoch <= s.epochs; epoch++) {
                JavaRDD<Minibatches.Batch> batches = Minibatches.of(train, s.batchSize, s.seed, epoch, false, partitions)
                        .cache();
                long count = batches.count();
                long tokens = batches.map(b -> b.pairs().stream().mapToLong(p -> p.chosen().length).sum())
                        .fold(0L, Long::sum);
                long start = System.nanoTime();
                trainer.fit(batches, (index, pairs) -> layout.buildSequences(pairs, DataType.FLOAT), step);
                double seconds = (System.nanoTime() - start) / 1e9;
                batches.unpersist();
                step += count;
                graph = trainer.network();
                Map<String, Object> r = row(runId, epoch, step, graph, layout, trainSample, evalPairs, s.batchSize,
                        tokens / seconds);
                state = new TrainingState(step, epoch, s.seed, s.seed + step, state.extra());
                Path saved = checkpoints.save(graph, state, origin);
                r.put("checkpoint", saved.toString());
                metrics.append(r);
                report(progress, r);
            }
        }
        Path last = checkpoints.latest().orElseThrow();
        RunManifests.builder("sft", fs, dataDir, state, config, List.of("model", "sft", "train"))
                .section("checkpoint", JSON.createObjectNode().put("path", last.toString())
                        .put("sha256", Checkpoints.identity(fs, last)))
                .section("shape", model.toString())
                .count("trainPairs", trainPairs).count("evalPairs", evalPairs.size())
                .count("epochs", state.epoch()).count("steps", state.step())
                .build().write(fs, run);
        return new Result(last, metrics.rows());
    }

    private static Map<String, Object> row(String runId, int epoch, long step, ComputationGraph graph,
                                           PairedBatch layout, List<PairExample> trainSample,
                                           List<PairExample> evalPairs, int batchSize, double tokensPerSecond) {
        double trainLoss = meanTokenNll(graph, layout, trainSample, batchSize);
        double evalLoss = meanTokenNll(graph, layout, evalPairs, batchSize);
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("run_id", runId);
        r.put("epoch", epoch);
        r.put("step", step);
        r.put("train_loss", trainLoss);
        r.put("train_perplexity", Math.exp(trainLoss));
        r.put("eval_loss", evalLoss);
        r.put("eval_perplexity", Math.exp(evalLoss));
        r.put("tokens_per_s", Double.isNaN(tokensPerSecond) ? null : tokensPerSecond);
        return r;
    }

    /**
     * Mean negative log-likelihood per response token over the pairs' chosen responses, weighting
     * each minibatch's mean by its token count so that the result is exact; minibatches of pairs of
     * like length ({@link PairedBatch#passes}).
     */
    static double meanTokenNll(ComputationGraph graph, PairedBatch layout, List<PairExample> pairs, int batchSize) {
        double nll = 0;
        long tokens = 0;
        for (PairedBatch.Pass pass : layout.passes(pairs, batchSize)) {
            DataSet batch = layout.buildSequences(pass.pairs(), DataType.FLOAT);
            long n = batch.getLabels().get(NDArrayIndex.all(), NDArrayIndex.point(PairedLabels.RESPONSE),
                    NDArrayIndex.all()).sumNumber().longValue();
            nll += graph.score(batch) * n;
            tokens += n;
        }
        return nll / tokens;
    }

    private static void report(PrintStream progress, Map<String, Object> r) {
        Object tps = r.get("tokens_per_s");
        progress.printf("sft: epoch %s step %s  train_loss %.4f  eval_loss %.4f  eval_perplexity %.2f%s%n",
                r.get("epoch"), r.get("step"), (Double) r.get("train_loss"), (Double) r.get("eval_loss"),
                (Double) r.get("eval_perplexity"), tps == null ? "" : String.format("  %.0f tokens/s", (Double) tps));
    }
}
