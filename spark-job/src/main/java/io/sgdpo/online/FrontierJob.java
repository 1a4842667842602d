package io.sgdpo.online;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValueFactory;
import io.sgdpo.config.ConfigurationException;
import io.sgdpo.config.SgdpoConfig;
import io.sgdpo.loss.BatchMetrics;
import io.sgdpo.output.AtomicOutput;
import io.sgdpo.prep.Manifest;
import io.sgdpo.prep.PrepJob;
import io.sgdpo.prep.UserModel;
import io.sgdpo.prep.ref.RefLogpsJob;
import io.sgdpo.prep.tokenize.TokenCodec;
import io.sgdpo.train.MetricsFiles;
import io.sgdpo.train.MetricsLog;
import io.sgdpo.train.TrainJob;
import java.awt.Color;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.FileUtil;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;

/**
 * {@code sgdpo frontier}: the reward-KL frontier of losses on on-policy pairs, after the DPO paper's
 * controlled-sentiment experiment. From one reference: story prompts ({@link StoryPrompts}, or
 * given files), on-policy pairs sampled from the reference and labelled by the reward
 * ({@link SamplePairsJob}), prep with the reference's tokenizer, the reference pass, then one
 * training run per loss x beta x seed with the same train.* settings (equal steps), each final
 * policy sampled on the held-out prompts at temperature 1 over the whole vocabulary: its mean
 * reward, and KL(pi || pi_ref) estimated as the mean over those samples of the summed per-token
 * log-ratios log pi(y_t) - log pi_ref(y_t) (EOS included when drawn).
 *
 * <p>Intermediate stages go under the work folder: the prompts, pairs, prep, reference pass, each
 * run's folder and each policy's held-out samples ({@code samples/NAME.jsonl}, renamed into place
 * when complete). The work folder records the settings of its run ({@value #WORK_SETTINGS}): the
 * same command again keeps every finished stage and run (a point is always the means of its
 * samples file) and does the rest, so an interrupted run resumes; other settings there are an
 * error. The output folder gets
 * {@code points.jsonl} (one row per policy, the reference first), {@code frontier.md} (the table,
 * means and standard deviations over seeds), {@code frontier.png} (reward against KL, one colour
 * per loss; and each run's change of the eval chosen and rejected log-probs during training),
 * {@code samples/NAME.jsonl} (every held-out sample behind each point) and {@code config.conf}.
 */
public final class FrontierJob {

    public static final String POINTS = "points.jsonl";
    public static final String TABLE = "frontier.md";
    public static final String PLOT = "frontier.png";
    public static final String CONFIG = "config.conf";
    public static final String SAMPLES = "samples";

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CHOSEN = BatchMetrics.EVAL_PREFIX + BatchMetrics.LOGPS_CHOSEN;
    private static final String REJECTED = BatchMetrics.EVAL_PREFIX + BatchMetrics.LOGPS_REJECTED;

    private FrontierJob() {
    }

    /** {@code frontier.*}. */
    record Settings(List<String> losses, List<Double> betas, List<Long> seeds, int trainPrompts, int heldOutPrompts,
                    int heldOutSamples, long promptSeed, long evalSeed) {

        static Settings of(Config config) {
            Config f = config.getConfig("frontier");
            Settings s = new Settings(SgdpoConfig.items(config, "frontier.losses"),
                    numbers(config, "frontier.betas", Double::parseDouble),
                    numbers(config, "frontier.seeds", Long::parseLong),
                    f.getInt("trainPrompts"), f.getInt("heldOutPrompts"), f.getInt("heldOutSamples"),
                    f.getLong("promptSeed"), f.getLong("evalSeed"));
            require(!s.losses.isEmpty(), "frontier.losses must name at least one loss");
            require(!s.betas.isEmpty() && s.betas.stream().allMatch(b -> b > 0),
                    "frontier.betas must be a non-empty list of numbers > 0, got " + s.betas);
            require(!s.seeds.isEmpty(), "frontier.seeds must list at least one seed");
            require(s.trainPrompts >= 1, "frontier.trainPrompts must be >= 1, got " + s.trainPrompts);
            require(s.heldOutPrompts >= 1, "frontier.heldOutPrompts must be >= 1, got " + s.heldOutPrompts);
            require(s.heldOutSamples >= 1, "frontier.heldOutSamples must be >= 1, got " + s.heldOutSamples);
            require(s.trainPrompts + s.heldOutPrompts <= StoryPrompts.size(), "frontier.trainPrompts + heldOutPrompts"
                    + " must be at most " + StoryPrompts.size() + " (the story templates' prompts)");
            require(config.getLong("train.maxSteps") > 0, "frontier needs train.maxSteps > 0: every run takes the"
                    + " same number of steps");
            for (String loss : s.losses) {
                TrainJob.validate(config.withValue("loss.name", ConfigValueFactory.fromAnyRef(loss)));
            }
            return s;
        }
    }

    private static <T> List<T> numbers(Config config, String key, java.util.function.Function<String, T> parse) {
        List<T> out = new ArrayList<>();
        for (String item : SgdpoConfig.items(config, key)) {
            try {
                out.add(parse.apply(item));
            } catch (NumberFormatException e) {
                throw new ConfigurationException(key + ": '" + item + "' is not a number");
            }
        }
        return out;
    }

    /** One policy's point: mean reward and KL over its held-out samples. */
    record Point(String name, String loss, double beta, long seed, double reward, double kl, double chosenChange,
                 double rejectedChange, String samples) {
    }

    /** What a run produced. */
    public record Result(Path output, int runs) {
    }

    /**
     * @param reference a Hugging Face folder or checkpoint: the reference, the initial policy and the
     *                  sampler of the pairs
     * @param prompts   train prompt files, or null for {@link StoryPrompts}
     * @param heldOut   held-out prompt files (with {@code prompts}), or null
     */
    public static Result run(SparkSession spark, String reference, List<String> prompts, List<String> heldOut,
                             String work, String output, Config config, PrintStream progress) throws IOException {
        Settings s = Settings.of(config);
        OnPolicySamples.Settings sampling = SamplePairsJob.settings(config);
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        Reward reward = Rewards.fromConfig(config, hadoop);
        Path out = new Path(output);
        FileSystem fs = out.getFileSystem(hadoop);
        AtomicOutput.requireReplaceable(fs, out, POINTS, "a frontier output");
        Path workDir = new Path(work);
        FileSystem workFs = workDir.getFileSystem(hadoop);
        long t0 = System.nanoTime();
        // A stage is done again when it is missing, and so is everything after it.
        boolean fresh = !claimWork(workFs, workDir, settingsText(config, reference, prompts, heldOut), progress);

        if (prompts == null) {
            List<String> stories = StoryPrompts.shuffled(s.promptSeed(), s.trainPrompts() + s.heldOutPrompts());
            prompts = List.of(writePrompts(workFs, new Path(workDir, "prompts/train.jsonl"),
                    stories.subList(0, s.trainPrompts()), "train-"));
            heldOut = List.of(writePrompts(workFs, new Path(workDir, "prompts/heldout.jsonl"),
                    stories.subList(s.trainPrompts(), stories.size()), "heldout-"));
        }
        String pairs = new Path(workDir, "pairs").toString();
        fresh = fresh || !complete(workFs, pairs);
        if (fresh) {
            SamplePairsJob.run(spark, prompts, reference, null, pairs, config, progress);
        }
        String prep = new Path(workDir, "prep").toString();
        fresh = fresh || !complete(workFs, prep);
        if (fresh) {
            Config withTokenizer = config.withValue("tokenizer.from", ConfigValueFactory.fromAnyRef(reference));
            PrepJob.run(spark, List.of(pairs + "/" + SamplePairsJob.PAIRS), prep, withTokenizer);
            progress.printf("frontier: pairs prepped in %s%n", prep);
        }
        String ref = new Path(workDir, "ref").toString();
        fresh = fresh || !complete(workFs, ref);
        if (fresh) {
            RefLogpsJob.run(spark, prep, reference, ref, config);
        }

        UserModel referenceModel = UserModel.open(reference, hadoop, config);
        TokenCodec tokenizer = SamplePairsJob.tokenizer(referenceModel, null, hadoop);
        BatchSampler referenceScorer = new BatchSampler(referenceModel.graph(), tokenizer.eosId(), tokenizer.padId());
        List<OnPolicySamples.Prompt> evalPrompts = SamplePairsJob.readPrompts(spark, heldOut,
                config.getString("sample.promptField"), tokenizer, referenceScorer.length()).ok();
        OnPolicySamples.Settings evalSampling = new OnPolicySamples.Settings(s.heldOutSamples(), 1.0, 0,
                sampling.maxNewTokens(), s.evalSeed(), sampling.rowsPerPass(), sampling.partitions());

        Path samplesDir = new Path(workDir, SAMPLES);
        workFs.mkdirs(samplesDir);
        Evaluator evaluator = new Evaluator(spark, workFs, samplesDir, tokenizer, reward, referenceScorer,
                evalPrompts, evalSampling, progress);
        List<Point> points = new ArrayList<>();
        points.add(!fresh && workFs.isFile(evaluator.file("reference"))
                ? evaluator.read("reference", "reference", 0, 0, Double.NaN, Double.NaN)
                : evaluator.point("reference", "reference", 0, 0, referenceModel.graph(), Double.NaN, Double.NaN));
        int total = s.losses().size() * s.betas().size() * s.seeds().size();
        int done = 0;
        int trainedHere = 0;
        long trainStart = System.nanoTime();
        for (String loss : s.losses()) {
            for (double beta : s.betas()) {
                for (long seed : s.seeds()) {
                    String name = String.format(Locale.ROOT, "%s-beta%s-seed%d", loss, beta, seed);
                    Path runDir = new Path(new Path(workDir, "runs"), name);
                    if (!fresh && complete(workFs, runDir.toString()) && workFs.isFile(evaluator.file(name))) {
                        List<Map<String, Object>> rows = MetricsLog.open(workFs, new Path(runDir, "metrics/"
                                + TrainJob.METRICS)).rows();
                        points.add(evaluator.read(name, loss, beta, seed, change(rows, CHOSEN), change(rows, REJECTED)));
                        done++;
                        progress.printf("frontier: run %d/%d %s: trained and sampled before (%s)%n", done, total,
                                name, runDir);
                        continue;
                    }
                    double elapsed = (System.nanoTime() - trainStart) / 1e9;
                    progress.printf("frontier: run %d/%d %s (%.0f s so far%s)%n", done + 1, total, name,
                            (System.nanoTime() - t0) / 1e9, trainedHere == 0 ? "" : String.format(Locale.ROOT,
                                    ", ETA %.0f s", elapsed / trainedHere * (total - done)));
                    Config runConfig = config.withValue("loss.name", ConfigValueFactory.fromAnyRef(loss))
                            .withValue("loss.beta", ConfigValueFactory.fromAnyRef(beta))
                            .withValue("train.seed", ConfigValueFactory.fromAnyRef(seed));
                    workFs.delete(runDir, true);
                    TrainJob.Result trained = TrainJob.run(spark, ref, reference, runDir.toString(), runConfig,
                            false, progress);
                    ComputationGraph policy = UserModel.open(trained.checkpoint().toString(), hadoop, config)
                            .graph();
                    points.add(evaluator.point(name, loss, beta, seed, policy,
                            change(trained.metrics(), CHOSEN), change(trained.metrics(), REJECTED)));
                    done++;
                    trainedHere++;
                }
            }
        }

        AtomicOutput target = AtomicOutput.begin(fs, out);
        try {
            Path outSamples = new Path(target.tmp(), SAMPLES);
            fs.mkdirs(outSamples);
            for (Point p : points) {
                Path from = new Path(workDir, p.samples());
                if (!FileUtil.copy(workFs, from, fs, new Path(target.tmp(), p.samples()), false, hadoop)) {
                    throw new IOException("cannot copy " + from + " into " + outSamples);
                }
            }
            try (OutputStream os = fs.create(new Path(target.tmp(), POINTS), false)) {
                for (Point p : points) {
                    SamplePairsJob.writeLine(os, JSON.valueToTree(p));
                }
            }
            AtomicOutput.writeString(fs, new Path(target.tmp(), TABLE), table(points, s, config, reward,
                    evalPrompts.size()));
            MetricsFiles.savePng(fs, List.of(frontierChart(points, s.losses()), mechanismChart(points, s.losses())),
                    new Path(target.tmp(), PLOT));
            AtomicOutput.writeString(fs, new Path(target.tmp(), CONFIG), configText(config));
            target.commit();
        } finally {
            target.abortIfNotCommitted();
        }
        progress.printf("frontier: %d runs in %.0f s -> %s%n", s.losses().size() * s.betas().size() * s.seeds().size(),
                (System.nanoTime() - t0) / 1e9, out);
        return new Result(out, s.losses().size() * s.betas().size() * s.seeds().size());
    }

    /** The file in the work folder naming the settings of the run it holds. */
    public static final String WORK_SETTINGS = "frontier-settings.conf";
    /** What a run puts in the work folder: cleared when a run of other settings starts there. */
    private static final List<String> WORK_STAGES = List.of("prompts", "pairs", "prep", "ref", "runs", SAMPLES);

    /** Everything the points depend on: the run's settings, the reference and the prompt files. */
    private static String settingsText(Config config, String reference, List<String> prompts, List<String> heldOut) {
        return configText(config) + "\n# reference: " + reference + "\n# prompts: "
                + (prompts == null ? "story prompts" : prompts + ", held out: " + heldOut) + "\n";
    }

    /** The settings of a run, as config.conf records them. */
    private static String configText(Config config) {
        return config.withOnlyPath("frontier").withFallback(config.withOnlyPath("sample"))
                .withFallback(config.withOnlyPath("reward")).withFallback(config.withOnlyPath("train"))
                .withFallback(config.withOnlyPath("loss")).withFallback(config.withOnlyPath("prep"))
                .withFallback(config.withOnlyPath("model"))
                .root().render(ConfigRenderOptions.defaults().setOriginComments(false));
    }

    /**
     * True when the work folder holds a run of the same settings, whose finished stages and runs are
     * kept (an interrupted run resumes); otherwise clears what a run puts there and records these
     * settings. A work folder of other settings is an error, not overwritten.
     */
    private static boolean claimWork(FileSystem fs, Path work, String settings, PrintStream progress)
            throws IOException {
        Path file = new Path(work, WORK_SETTINGS);
        if (fs.isFile(file)) {
            if (!readString(fs, file).equals(settings)) {
                throw new ConfigurationException("--work " + work + " holds a frontier run of other settings (" + file
                        + "): give another --work folder, or delete this one to start again");
            }
            progress.printf("frontier: %s holds a run of these settings: finished stages and runs are kept%n", work);
            return true;
        }
        for (String stage : WORK_STAGES) {
            fs.delete(new Path(work, stage), true);
        }
        AtomicOutput.replaceString(fs, file, settings);
        return false;
    }

    private static String readString(FileSystem fs, Path file) throws IOException {
        try (InputStream in = fs.open(file)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** Whether a stage's output in the work folder is complete (its manifest is written last). */
    private static boolean complete(FileSystem fs, String dir) throws IOException {
        return fs.isFile(new Path(dir, Manifest.FILE));
    }

    /** Samples one policy on the held-out prompts and scores the samples: reward, and log-ratio to the reference. */
    private record Evaluator(SparkSession spark, FileSystem fs, Path dir, TokenCodec tokenizer, Reward reward,
                             BatchSampler reference, List<OnPolicySamples.Prompt> prompts,
                             OnPolicySamples.Settings sampling, PrintStream progress) {

        Point point(String name, String loss, double beta, long seed, ComputationGraph policy, double chosenChange,
                    double rejectedChange) throws IOException {
            List<OnPolicySamples.Sample> samples = OnPolicySamples.draw(spark, policy, tokenizer.eosId(),
                    tokenizer.padId(), prompts, sampling, "frontier: " + name, progress);
            Map<String, OnPolicySamples.Prompt> byId = new LinkedHashMap<>();
            prompts.forEach(p -> byId.put(p.id(), p));
            List<int[]> promptIds = new ArrayList<>();
            List<int[]> scored = new ArrayList<>();
            for (OnPolicySamples.Sample x : samples) {
                promptIds.add(byId.get(x.promptId()).ids());
                scored.add(x.draw().scored(tokenizer.eosId()));
            }
            BatchSampler own = new BatchSampler(policy, tokenizer.eosId(), tokenizer.padId());
            double[] logp = own.logProbSums(promptIds, scored, sampling.rowsPerPass());
            double[] refLogp = reference.logProbSums(promptIds, scored, sampling.rowsPerPass());
            Path file = file(name);
            Path tmp = new Path(dir, "." + file.getName() + ".tmp");
            try (OutputStream os = fs.create(tmp, true)) {
                for (int i = 0; i < samples.size(); i++) {
                    OnPolicySamples.Sample x = samples.get(i);
                    OnPolicySamples.Prompt p = byId.get(x.promptId());
                    String text = SamplePairsJob.completion(tokenizer, p.ids(), x.tokens());
                    ObjectNode line = JSON.createObjectNode();
                    line.put("prompt_id", x.promptId());
                    line.put("sample", x.index());
                    line.put("completion", text);
                    line.put("ended", x.ended());
                    line.put("reward", reward.score(p.text(), text));
                    line.put("logp", logp[i]);
                    line.put("ref_logp", refLogp[i]);
                    SamplePairsJob.writeLine(os, line);
                }
            }
            // Only a complete samples file carries the name a resumed run looks for.
            fs.delete(file, false);
            if (!fs.rename(tmp, file)) {
                throw new IOException("cannot rename " + tmp + " to " + file);
            }
            return read(name, loss, beta, seed, chosenChange, rejectedChange);
        }

        Path file(String name) {
            return new Path(dir, name + ".jsonl");
        }

        /** A policy's point: the means of its samples file, summed in its order. */
        Point read(String name, String loss, double beta, long seed, double chosenChange, double rejectedChange)
                throws IOException {
            Path file = file(name);
            double rewardSum = 0;
            double klSum = 0;
            int n = 0;
            try (BufferedReader in = new BufferedReader(new InputStreamReader(fs.open(file), StandardCharsets.UTF_8))) {
                for (String text = in.readLine(); text != null; text = in.readLine()) {
                    JsonNode x = JSON.readTree(text);
                    rewardSum += x.path("reward").asDouble();
                    klSum += x.path("logp").asDouble() - x.path("ref_logp").asDouble();
                    n++;
                }
            }
            if (n == 0) {
                throw new IOException(file + " holds no samples");
            }
            Point point = new Point(name, loss, beta, seed, rewardSum / n, klSum / n, chosenChange, rejectedChange,
                    SAMPLES + "/" + file.getName());
            progress.printf(Locale.ROOT, "frontier: %s: reward %.4f  KL %.3f  (%d held-out samples)%n", name,
                    point.reward(), point.kl(), n);
            return point;
        }
    }

    /** The last minus the first value of a metric over a run's rows (NaN when no row has it). */
    static double change(List<Map<String, Object>> rows, String key) {
        Double first = null;
        Double last = null;
        for (Map<String, Object> r : rows) {
            if (r.get(key) instanceof Number v && Double.isFinite(v.doubleValue())) {
                first = first == null ? v.doubleValue() : first;
                last = v.doubleValue();
            }
        }
        return first == null ? Double.NaN : last - first;
    }

    static String table(List<Point> points, Settings s, Config config, Reward reward, int heldOut) {
        StringBuilder b = new StringBuilder();
        b.append("# Reward-KL frontier\n\n");
        b.append(String.format(Locale.ROOT, "Reward: %s. Each policy sampled %d x %d held-out prompts at temperature"
                + " 1 (all tokens, at most %d new tokens); KL(pi || pi_ref) = mean over the samples of the summed"
                + " per-token log-ratios. %d steps x %d pairs per run, learning rate %s.%n%n", reward.describe(),
                s.heldOutSamples(), heldOut, config.getInt("sample.maxNewTokens"), config.getLong("train.maxSteps"),
                config.getInt("train.batchSize"), String.valueOf(config.getDouble("train.learningRate"))));
        b.append("Mean +- standard deviation over seeds; the log-prob changes are the eval split's mean summed"
                + " log-probs of the chosen and rejected responses, end of training minus step 0.\n\n");
        b.append("| loss | beta | seeds | reward | KL | change of logps/chosen | change of logps/rejected |\n");
        b.append("|---|---|---|---|---|---|---|\n");
        Point ref = points.get(0);
        b.append(String.format(Locale.ROOT, "| reference | - | - | %.4f | %.3f | - | - |%n", ref.reward(), ref.kl()));
        for (String loss : s.losses()) {
            for (double beta : s.betas()) {
                List<Point> group = points.stream().filter(p -> p.loss().equals(loss) && p.beta() == beta).toList();
                b.append(String.format(Locale.ROOT, "| %s | %s | %d | %s | %s | %s | %s |%n", loss, beta, group.size(),
                        spread(group.stream().mapToDouble(Point::reward).toArray(), 4),
                        spread(group.stream().mapToDouble(Point::kl).toArray(), 3),
                        spread(group.stream().mapToDouble(Point::chosenChange).toArray(), 2),
                        spread(group.stream().mapToDouble(Point::rejectedChange).toArray(), 2)));
            }
        }
        b.append(FrontierComparison.markdown(points, s.losses(), s.seeds(), s.betas()));
        b.append("\n## Every run\n\n| run | reward | KL | change of logps/chosen | change of logps/rejected |\n"
                + "|---|---|---|---|---|\n");
        for (Point p : points.subList(1, points.size())) {
            b.append(String.format(Locale.ROOT, "| %s | %.4f | %.3f | %.2f | %.2f |%n", p.name(), p.reward(), p.kl(),
                    p.chosenChange(), p.rejectedChange()));
        }
        b.append("\nEvery number comes from points.jsonl (these rows), whose rows name their samples file under"
                + " samples/.\n");
        return b.toString();
    }

    /**
     * Writes {@code frontier.md} and {@code frontier.png} of an earlier run again from its
     * {@code points.jsonl} and {@code config.conf} (after a change to the report, without training
     * anything again); the points, samples and config stay as they are.
     */
    public static void report(String output, Configuration hadoop) throws IOException {
        Path out = new Path(output);
        FileSystem fs = out.getFileSystem(hadoop);
        Path pointsFile = new Path(out, POINTS);
        Path configFile = new Path(out, CONFIG);
        if (!fs.isFile(pointsFile) || !fs.isFile(configFile)) {
            throw new ConfigurationException("--report " + output + ": not a frontier output (no " + POINTS + " or "
                    + CONFIG + ")");
        }
        Config config;
        try {
            config = ConfigFactory.parseString(readString(fs, configFile)).withFallback(SgdpoConfig.reference())
                    .resolve();
        } catch (com.typesafe.config.ConfigException e) {
            throw new ConfigurationException(configFile + ": " + e.getMessage());
        }
        Settings s = Settings.of(config);
        List<Point> points = new ArrayList<>();
        int line = 0;
        for (String text : readString(fs, pointsFile).split("\n")) {
            line++;
            if (text.isBlank()) {
                continue;
            }
            try {
                points.add(JSON.readValue(text, Point.class));
            } catch (IOException e) {
                throw new ConfigurationException(pointsFile + ", line " + line + ": not a point: " + e.getMessage());
            }
        }
        if (points.isEmpty() || !"reference".equals(points.get(0).loss())) {
            throw new ConfigurationException(pointsFile + ": the first row must be the reference's point");
        }
        int heldOut = s.heldOutPrompts();
        Path referenceSamples = new Path(out, points.get(0).samples());
        if (fs.isFile(referenceSamples)) {
            heldOut = (int) readString(fs, referenceSamples).lines().count() / s.heldOutSamples();
        }
        Reward reward = Rewards.fromConfig(config, hadoop);
        AtomicOutput.replaceString(fs, new Path(out, TABLE), table(points, s, config, reward, heldOut));
        Path plot = new Path(out, PLOT);
        Path tmp = new Path(out, "." + PLOT + ".tmp");
        MetricsFiles.savePng(fs, List.of(frontierChart(points, s.losses()), mechanismChart(points, s.losses())), tmp);
        fs.delete(plot, false);
        if (!fs.rename(tmp, plot)) {
            throw new IOException("cannot rename " + tmp + " to " + plot);
        }
    }

    /** "mean +- sd" (sample standard deviation; mean alone for one value). */
    static String spread(double[] v, int digits) {
        double mean = java.util.Arrays.stream(v).average().orElse(Double.NaN);
        if (v.length < 2) {
            return String.format(Locale.ROOT, "%." + digits + "f", mean);
        }
        double ss = java.util.Arrays.stream(v).map(x -> (x - mean) * (x - mean)).sum();
        return String.format(Locale.ROOT, "%." + digits + "f +- %." + digits + "f", mean, Math.sqrt(ss / (v.length - 1)));
    }

    private static final Color[] COLOURS = {new Color(0xd62728), new Color(0x1f77b4), new Color(0x2ca02c),
        new Color(0xff7f0e), new Color(0x9467bd), new Color(0x8c564b)};

    private static XYChart frontierChart(List<Point> points, List<String> losses) {
        XYChart c = scatter("reward vs KL(pi || pi_ref), held-out samples", "KL(pi || pi_ref)", "mean reward");
        XYSeries ref = c.addSeries("reference", new double[] {points.get(0).kl()}, new double[] {points.get(0).reward()});
        ref.setMarkerColor(Color.BLACK);
        for (int i = 0; i < losses.size(); i++) {
            String loss = losses.get(i);
            List<Point> mine = points.stream().filter(p -> p.loss().equals(loss)).toList();
            c.addSeries(loss, mine.stream().mapToDouble(Point::kl).toArray(),
                    mine.stream().mapToDouble(Point::reward).toArray()).setMarkerColor(COLOURS[i % COLOURS.length]);
        }
        return c;
    }

    private static XYChart mechanismChart(List<Point> points, List<String> losses) {
        XYChart c = scatter("eval log-probs: change during training", "change of logps/rejected",
                "change of logps/chosen");
        for (int i = 0; i < losses.size(); i++) {
            String loss = losses.get(i);
            List<Point> mine = points.stream().filter(p -> p.loss().equals(loss)
                    && Double.isFinite(p.chosenChange()) && Double.isFinite(p.rejectedChange())).toList();
            if (!mine.isEmpty()) {
                c.addSeries(loss, mine.stream().mapToDouble(Point::rejectedChange).toArray(),
                        mine.stream().mapToDouble(Point::chosenChange).toArray())
                        .setMarkerColor(COLOURS[i % COLOURS.length]);
            }
        }
        return c;
    }

    private static XYChart scatter(String title, String x, String y) {
        XYChart c = new XYChartBuilder().width(560).height(420).title(title).xAxisTitle(x).yAxisTitle(y).build();
        c.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
        c.getStyler().setMarkerSize(7);
        return c;
    }

    private static String writePrompts(FileSystem fs, Path file, List<String> prompts, String idPrefix)
            throws IOException {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < prompts.size(); i++) {
            ObjectNode line = JSON.createObjectNode();
            line.put("id", idPrefix + i);
            line.put("prompt", prompts.get(i));
            b.append(JSON.writeValueAsString(line)).append('\n');
        }
        AtomicOutput.replaceString(fs, file, b.toString());
        return file.toString();
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new ConfigurationException(message);
        }
    }
}
