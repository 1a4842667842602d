package io.sgdpo.bench.train;

import com.typesafe.config.Config;
import io.sgdpo.bench.prep.RefLogpsBenchmark;
import io.sgdpo.bench.prep.RepeatFigures;
import io.sgdpo.checkpoint.Checkpoints;
import io.sgdpo.checkpoint.TrainingState;
import io.sgdpo.cli.SparkSessions;
import io.sgdpo.cli.TaskThreads;
import io.sgdpo.config.SgdpoConfig;
import io.sgdpo.loss.LossSpec;
import io.sgdpo.loss.Losses;
import io.sgdpo.loss.PreferenceLoss;
import io.sgdpo.nn.Architecture;
import io.sgdpo.nn.DecoderConfig;
import io.sgdpo.nn.LanguageModels;
import io.sgdpo.nn.ModelShape;
import io.sgdpo.nn.Optimization;
import io.sgdpo.nn.PairExample;
import io.sgdpo.nn.PairedBatch;
import io.sgdpo.nn.PairedPreferenceLoss;
import io.sgdpo.nn.SftLoss;
import io.sgdpo.prep.PairSchema;
import io.sgdpo.prep.PrepJob;
import io.sgdpo.prep.ref.RefLogpsJob;
import io.sgdpo.train.Minibatches;
import io.sgdpo.train.PairShards;
import io.sgdpo.train.TrainJob;
import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.SparkSession;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.learning.config.Adam;

/**
 * The training job around the step: {@code sgdpo train} end to end ({@link TrainJob#run} on Spark
 * local[2] with ParameterAveraging, the default {@code train.*} settings but {@code maxSteps}),
 * beside a plain {@code ComputationGraph.fit} of the very minibatches that run trains on, from the
 * same initial network. Both train on a prepared slice of the shared HH-RLHF file with reference
 * log-probs of a randomly initialised model of the configuration's {@code model.*} block (the
 * default decoder unless {@code --conf} says otherwise; any architecture).
 */
final class JobVariants {

    /**
     * HH records prepped per step, plus {@link #EXTRA_RECORDS}: enough train pairs for one epoch of
     * the steps at the default batch size (4) after prep's rejects and eval split.
     */
    private static final int RECORDS_PER_STEP = 5;
    private static final int EXTRA_RECORDS = 40;

    private final Path work;
    private final Config config;
    private final String data;
    private final String init;
    private final List<DataSet> batches;
    /** The same minibatches padded to {@code model.maxLength}, as before minibatches took their own length. */
    private final List<DataSet> paddedBatches;
    private final long tokens;
    private final long steps;
    private final String model;
    private final double flopsPerRun;

    private JobVariants(Path work, Config config, String data, String init, List<DataSet> batches,
                        List<DataSet> paddedBatches, long tokens, long steps, String model, double flopsPerRun) {
        this.flopsPerRun = flopsPerRun;
        this.paddedBatches = paddedBatches;
        this.work = work;
        this.config = config;
        this.data = data;
        this.init = init;
        this.batches = batches;
        this.tokens = tokens;
        this.steps = steps;
        this.model = model;
    }

    /**
     * Preps the data, scores it with a fresh model of the configuration's {@code model} block (any
     * architecture) and lays out the minibatches the job will train on.
     *
     * @param confFile a configuration file over the defaults (as {@code sgdpo train --conf}), or null
     */
    static JobVariants prepare(Path work, int steps, File confFile, PrintStream out) throws IOException {
        deleteRecursively(work);
        Files.createDirectories(work);
        Path hh = Path.of(System.getProperty("sgdpo.shared.data", "../shared/data"),
                "hh-rlhf/harmless-base-test.jsonl.gz");
        if (!Files.isRegularFile(hh)) {
            throw new IOException("HH file not found: " + hh + " (set -Dsgdpo.shared.data)");
        }
        Path slice = work.resolve("hh.jsonl");
        RefLogpsBenchmark.slice(hh, RECORDS_PER_STEP * steps + EXTRA_RECORDS, slice);
        Config config = SgdpoConfig.load(confFile, Map.of("train.maxSteps", String.valueOf(steps)));
        String prep = work.resolve("prep").toString();
        String data = work.resolve("data").toString();
        SparkSession spark = session();
        try {
            PrepJob.run(spark, List.of(slice.toString()), prep, config);
            int vocab = PairShards.vocabulary(spark, prep).size();
            ComputationGraph reference = LanguageModels.create(config.getConfig("model"), vocab, new SftLoss(),
                    new Optimization(new Adam(1e-3), 0, 0), DataType.FLOAT);
            ModelShape shape = LanguageModels.describe(reference.getConfiguration());
            String init = new Checkpoints(FileSystem.getLocal(new Configuration()),
                    new org.apache.hadoop.fs.Path(work.resolve("init").toUri()))
                    .save(reference, TrainingState.initial(config.getLong("model.seed"))).toString();
            RefLogpsJob.run(spark, prep, init, data, config);

            // The job's minibatches, step by step: Minibatches.of per epoch, as TrainJob lays them out.
            LossSpec spec = LossSpec.fromConfig(config.getConfig("loss"));
            PreferenceLoss loss = Losses.create(spec);
            int batchSize = config.getInt("train.batchSize");
            long seed = config.getLong("train.seed");
            int padId = PairShards.vocabulary(spark, prep).padId();
            PairedBatch layout = PairedBatch.forModel(reference, padId);
            PairedBatch padded = new PairedBatch(shape.maxLength(), padId);
            List<DataSet> paddedBatches = new ArrayList<>();
            JavaRDD<PairExample> train = PairShards.readWithReference(spark, data, PairSchema.TRAIN).cache();
            long perEpoch = train.count() / batchSize;
            List<DataSet> batches = new ArrayList<>();
            long tokens = 0;
            for (long epoch = 1; batches.size() < steps; epoch++) {
                List<Minibatches.Batch> epochBatches = new ArrayList<>(Minibatches.of(train, batchSize, seed, epoch,
                        false, config.getBoolean("train.groupByLength"), 2).collect());
                epochBatches.sort(Comparator.comparingLong(Minibatches.Batch::index));
                for (Minibatches.Batch b : epochBatches) {
                    if (batches.size() == steps) {
                        break;
                    }
                    long step = (epoch - 1) * perEpoch + b.index();
                    batches.add(layout.build(b.pairs(), loss, seed, step, DataType.FLOAT));
                    paddedBatches.add(padded.build(b.pairs(), loss, seed, step, DataType.FLOAT));
                    for (PairExample p : b.pairs()) {
                        tokens += 2L * p.prompt().length + p.chosen().length + p.rejected().length;
                    }
                }
            }
            String model = shape.architecture() == Architecture.DECODER
                    ? DecoderConfig.fromConfig(config.getConfig("model"), vocab).toString() : shape.toString();
            out.printf("bench-train: job variants on %d HH records: %d train pairs, %d steps of %d pairs, %d tokens;"
                    + " %s%n", RECORDS_PER_STEP * steps + EXTRA_RECORDS, train.count(), steps, batchSize, tokens,
                    model);
            long positions = positions(batches);
            double meanLength = batches.stream().mapToLong(b -> b.getFeatures().size(2)).average().orElse(0);
            out.printf("bench-train: minibatches padded to %.1f positions on average (model.maxLength %d); real tokens"
                    + " %.0f%% of the padded positions%n", meanLength, shape.maxLength(), 100.0 * tokens / positions);
            // the positions computed, padding too
            double flops = 3.0 * LanguageModels.forwardFlopsPerToken(reference) * positions;
            return new JobVariants(work, config, data, init, batches, paddedBatches, tokens, steps, model,
                    flops);
        } finally {
            spark.stop();
        }
    }

    /** Seconds of a plain {@code ComputationGraph.fit} over the job's minibatches, the job's network. */
    double timePlain() throws IOException {
        return timePlain(batches);
    }

    /** The same over the job's minibatches padded to {@code model.maxLength}. */
    double timePlainPadded() throws IOException {
        return timePlain(paddedBatches);
    }

    /** Padded positions of the padded minibatches over those of the job's: the arithmetic the padding adds. */
    double paddedPositionsRatio() {
        return (double) positions(paddedBatches) / positions(batches);
    }

    /** Positions the minibatches compute: rows x their length, padding included. */
    static long positions(List<DataSet> minibatches) {
        return minibatches.stream().mapToLong(b -> b.getFeatures().size(0) * b.getFeatures().size(2)).sum();
    }

    private double timePlain(List<DataSet> minibatches) throws IOException {
        ComputationGraph policy = policy();
        long start = System.nanoTime();
        for (DataSet b : minibatches) {
            policy.fit(b);
        }
        return (System.nanoTime() - start) / 1e9;
    }

    /**
     * One run of the job: the seconds of the whole {@link TrainJob#run} and the tokens per second of
     * its updates alone, the median of the job's own {@code tokens_per_s} (tokens / seconds of the
     * trainer's fit) over its chunks after the first, whose fit also builds the workers' networks,
     * and the job's own seconds by phase ({@link TrainJob.Result#seconds}).
     */
    record Run(double seconds, double updateTokensPerSecond, Map<String, Double> phases) {
    }

    /** One whole {@link TrainJob#run} (the Spark session's start and stop excluded). */
    Run timeJob(int round) throws IOException {
        Path run = work.resolve("run-" + round);
        deleteRecursively(run);
        SparkSession spark = session();
        try (TaskThreads threads = TaskThreads.inLocalMode(spark.sparkContext())) { // as sgdpo train runs its tasks
            PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
            long start = System.nanoTime();
            TrainJob.Result result = TrainJob.run(spark, data, init, run.toString(), config, false, quiet);
            double seconds = (System.nanoTime() - start) / 1e9;
            double[] chunks = result.metrics().stream().map(r -> r.get("tokens_per_s")).filter(v -> v != null)
                    .mapToDouble(v -> ((Number) v).doubleValue()).toArray();
            double[] afterFirst = chunks.length > 1 ? Arrays.copyOfRange(chunks, 1, chunks.length) : chunks;
            return new Run(seconds, RepeatFigures.median(afterFirst), result.seconds());
        } finally {
            spark.stop();
            deleteRecursively(run);
        }
    }

    long tokens() {
        return tokens;
    }

    /** 3 x forward FLOPs of every padded position the steps process. */
    double flopsPerRun() {
        return flopsPerRun;
    }

    long steps() {
        return steps;
    }

    String model() {
        return model;
    }

    /** The job's settings that decide the work around the step. */
    String settings() {
        return String.format("prep.maxTotalLength %d, train.groupByLength %s, train.logEvery %d, train.evalEvery %d,"
                        + " train.checkpointEvery %d, train.batchSize %d, train.maxSteps %d, train.master.kind %s",
                config.getInt("prep.maxTotalLength"), config.getBoolean("train.groupByLength"),
                config.getInt("train.logEvery"),
                config.getInt("train.evalEvery"), config.getInt("train.checkpointEvery"),
                config.getInt("train.batchSize"), steps, config.getString("train.master.kind"));
    }

    private ComputationGraph policy() throws IOException {
        ComputationGraph reference = Checkpoints.load(init, new Configuration()).graph();
        LossSpec spec = LossSpec.fromConfig(config.getConfig("loss"));
        Optimization optimization = new Optimization(new Adam(config.getDouble("train.learningRate")),
                config.getDouble("train.gradientClip"), 0);
        return LanguageModels.withLoss(reference, new PairedPreferenceLoss(spec), optimization,
                config.getDouble("model.dropout"));
    }

    private static SparkSession session() {
        return SparkSessions.start("bench-train-job", Map.of("spark.master", "local[2]", "spark.ui.enabled", "false"));
    }

    static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
