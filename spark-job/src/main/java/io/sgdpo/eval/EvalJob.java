package io.sgdpo.eval;

import static io.sgdpo.config.ConfigurationException.require;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import io.sgdpo.config.ConfigurationException;
import io.sgdpo.loss.LossSpec;
import io.sgdpo.loss.Losses;
import io.sgdpo.loss.PreferenceLoss;
import io.sgdpo.nn.ModelShape;
import io.sgdpo.nn.Generator;
import io.sgdpo.nn.PairExample;
import io.sgdpo.nn.PairedBatch;
import io.sgdpo.output.AtomicOutput;
import io.sgdpo.prep.Manifest;
import io.sgdpo.prep.PairSchema;
import io.sgdpo.prep.UserModel;
import io.sgdpo.prep.tokenize.TokenCodec;
import io.sgdpo.train.Evaluation;
import io.sgdpo.train.PairShards;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.deeplearning4j.nn.graph.ComputationGraph;

/**
 * {@code sgdpo eval}: held-out metrics of a checkpoint on a data set's eval split, under the same
 * {@code eval_} names as training's evaluation, plus generations: for a few eval prompts the greedy
 * response and some top-k samples, and, given a gold answers file, the exact-match accuracy of
 * greedy responses (the gold metric).
 *
 * <p>Output folder: {@code eval.json} (checkpoint, data, pair count, metrics, gold score),
 * {@code _manifest.json} (the data, model and gold file with their checksums, see {@link Manifest}),
 * {@code generations.jsonl}, and {@code gold.jsonl} (each gold prompt, its answer, the greedy
 * response, whether it matched). The folder is written aside and renamed into place, replacing a
 * previous evaluation, so a crash never leaves a partial one.
 */
public final class EvalJob {

    /** Summary file in the output folder. */
    public static final String RESULT = "eval.json";
    /** Sampled and greedy generations for eval prompts. */
    public static final String GENERATIONS = "generations.jsonl";
    /** Per-prompt gold results. */
    public static final String GOLD = "gold.jsonl";

    /** The manifest's role of the gold answers file. */
    public static final String GOLD_ROLE = "gold";

    private static final ObjectMapper JSON = new ObjectMapper();

    private EvalJob() {
    }

    /** Exact-match accuracy of greedy responses on gold prompts. */
    public record GoldScore(String source, int prompts, int correct) {
        public double exactMatch() {
            return (double) correct / prompts;
        }
    }

    /** What an evaluation found; {@code gold} is null without a gold answers file. */
    public record Result(Path output, int pairs, Map<String, Double> metrics, GoldScore gold) {
    }

    record Settings(LossSpec loss, int batchSize, int maxPairs, int prompts, int samples, double temperature,
                    int topK, int maxNewTokens, long seed) {

        static Settings of(Config c) {
            LossSpec loss = LossSpec.fromConfig(c.getConfig("loss"));
            Config e = c.getConfig("eval");
            Settings s = new Settings(loss, e.getInt("batchSize"), e.getInt("maxPairs"), e.getInt("prompts"),
                    e.getInt("samples"), e.getDouble("temperature"), e.getInt("topK"), e.getInt("maxNewTokens"),
                    e.getLong("seed"));
            require(s.batchSize >= 1, "eval.batchSize must be >= 1, got " + s.batchSize);
            require(s.maxPairs >= 0, "eval.maxPairs must be >= 0 (0: every eval pair), got " + s.maxPairs);
            require(s.prompts >= 0, "eval.prompts must be >= 0, got " + s.prompts);
            require(s.samples >= 0, "eval.samples must be >= 0, got " + s.samples);
            require(s.temperature > 0, "eval.temperature must be > 0, got " + s.temperature);
            require(s.topK >= 0, "eval.topK must be >= 0 (0: every token), got " + s.topK);
            require(s.maxNewTokens >= 1, "eval.maxNewTokens must be >= 1, got " + s.maxNewTokens);
            return s;
        }
    }

    /**
     * Checks the eval.* and loss.* settings of {@code config} without running anything.
     *
     * @throws ConfigurationException naming the key
     */
    public static void validate(Config config) {
        Settings.of(config);
    }

    /**
     * @param dataDir    a ref-logps output (or a prep output, for losses without a reference)
     * @param checkpoint a checkpoint folder
     * @param goldFile   a gold answers file, or null
     */
    public static Result run(SparkSession spark, String dataDir, String checkpoint, String outDir, String goldFile,
                             Config config, PrintStream progress) throws IOException {
        Settings s = Settings.of(config);
        PreferenceLoss loss = Losses.create(s.loss());
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        GoldAnswers gold = goldFile == null ? null : GoldAnswers.read(goldFile, hadoop);
        TokenCodec vocab = PairShards.vocabulary(spark, dataDir);
        UserModel model = UserModel.open(checkpoint, hadoop, config);
        model.requireTokenizer(vocab, dataDir);
        ComputationGraph policy = model.graph();
        ModelShape decoder = model.shape();
        List<PairExample> pairs = new ArrayList<>((loss.needsReference()
                ? PairShards.readWithReference(spark, dataDir, PairSchema.EVAL)
                : PairShards.read(spark, dataDir, PairSchema.EVAL)).collect());
        if (pairs.isEmpty()) {
            throw new ConfigurationException("the eval split of " + dataDir + " is empty: raise prep.evalFraction");
        }
        // Shards come back in any order: sort so that maxPairs and the generation prompts are stable.
        pairs.sort(Comparator.comparing(PairExample::pairId));
        if (s.maxPairs() > 0 && pairs.size() > s.maxPairs()) {
            pairs = pairs.subList(0, s.maxPairs());
        }
        PairedBatch layout = PairedBatch.forModel(policy, vocab.padId());
        progress.printf("eval: %s on %d eval pairs of %s (%s)%n", checkpoint, pairs.size(), dataDir,
                s.loss().getName());
        // The reference checkpoint itself is compared with itself in one forward pass (rewards 0, see Evaluation).
        boolean isReference = loss.needsReference() && Evaluation.isScoredReference(hadoop, dataDir, model.identity());
        if (isReference) {
            progress.printf("eval: %s is the checkpoint that scored %s: rewards against itself are 0%n", checkpoint,
                    dataDir);
        }
        Map<String, Double> metrics = Evaluation.metrics(JavaSparkContext.fromSparkContext(spark.sparkContext()),
                policy, layout, pairs, loss, s.batchSize(), s.seed(), isReference);
        progress.printf("eval: eval_loss %.4f  eval_rewards/accuracies %.3f  eval_rewards/margins %.4f%n",
                metrics.get("eval_loss"), metrics.get("eval_rewards/accuracies"), metrics.get("eval_rewards/margins"));

        Generator generator = new Generator(policy, decoder.maxLength(), vocab.eosId(), vocab.padId());
        Path out = new Path(outDir);
        FileSystem fs = out.getFileSystem(hadoop);
        AtomicOutput output = AtomicOutput.begin(fs, out);
        try {
            writeGenerations(fs, new Path(output.tmp(), GENERATIONS), generator, vocab, pairs, s);
            GoldScore score = gold == null ? null
                    : scoreGold(fs, new Path(output.tmp(), GOLD), generator, vocab, gold, s, decoder.maxLength(),
                    progress);
            ObjectNode result = JSON.createObjectNode();
            result.put("checkpoint", checkpoint);
            result.put("data", dataDir);
            result.put("split", PairSchema.EVAL);
            result.put("loss", s.loss().getName());
            result.put("pairs", pairs.size());
            ObjectNode m = result.putObject("metrics");
            metrics.forEach(m::put);
            if (score != null) {
                ObjectNode g = result.putObject("gold");
                g.put("source", score.source());
                g.put("prompts", score.prompts());
                g.put("correct", score.correct());
                g.put("exact_match", score.exactMatch());
            }
            AtomicOutput.writeString(fs, new Path(output.tmp(), RESULT),
                    JSON.writerWithDefaultPrettyPrinter().writeValueAsString(result));
            Manifest.Builder manifest = Manifest.builder("eval")
                    .input(Manifest.Input.ofOutput(new Path(dataDir).getFileSystem(hadoop), new Path(dataDir)))
                    .model(Manifest.Model.of(model))
                    .config(config, List.of("loss", "eval"))
                    .count("pairs", pairs.size());
            if (score != null) {
                Path goldPath = new Path(goldFile);
                manifest.input(Manifest.Input.ofFile(GOLD_ROLE, goldPath.getFileSystem(hadoop), goldPath))
                        .count("goldPrompts", score.prompts()).count("goldCorrect", score.correct());
            }
            AtomicOutput.writeString(fs, new Path(output.tmp(), Manifest.FILE), manifest.build().render());
            output.commit();
            return new Result(out, pairs.size(), metrics, score);
        } finally {
            output.abortIfNotCommitted();
        }
    }

    private static void writeGenerations(FileSystem fs, Path file, Generator generator, TokenCodec vocab,
                                         List<PairExample> pairs, Settings s) throws IOException {
        Random random = new Random(s.seed());
        List<PairExample> shown = pairs.subList(0, Math.min(s.prompts(), pairs.size()));
        List<int[]> greedy = generator.greedy(shown.stream().map(PairExample::prompt).toList(), s.maxNewTokens());
        try (OutputStream os = fs.create(file, false)) {
            for (int i = 0; i < shown.size(); i++) {
                PairExample p = shown.get(i);
                ObjectNode line = JSON.createObjectNode();
                line.put("pair_id", p.pairId());
                line.put("prompt", vocab.decode(p.prompt()));
                line.put("chosen", vocab.decode(withoutEos(p.chosen(), vocab)));
                line.put("rejected", vocab.decode(withoutEos(p.rejected(), vocab)));
                line.put("greedy", vocab.decode(greedy.get(i)));
                ArrayNode samples = line.putArray("samples");
                for (int k = 0; k < s.samples(); k++) {
                    samples.add(vocab.decode(generator.sample(p.prompt(), s.maxNewTokens(), s.temperature(), s.topK(),
                            random)));
                }
                os.write((JSON.writeValueAsString(line) + "\n").getBytes(StandardCharsets.UTF_8));
            }
        }
    }

    private static GoldScore scoreGold(FileSystem fs, Path file, Generator generator, TokenCodec vocab,
                                       GoldAnswers gold, Settings s, int length, PrintStream progress)
            throws IOException {
        List<int[]> prompts = new ArrayList<>();
        for (GoldAnswers.Item item : gold.items()) {
            int[] prompt = vocab.encodePrompt(item.prompt());
            if (prompt.length >= length) {
                throw new ConfigurationException(gold.source() + ": prompt '" + item.prompt() + "' has "
                        + prompt.length + " ids; the checkpoint's length " + length + " leaves no room to answer");
            }
            prompts.add(prompt);
        }
        int correct = 0;
        try (OutputStream os = fs.create(file, false)) {
            for (int from = 0; from < prompts.size(); from += s.batchSize()) {
                int to = Math.min(prompts.size(), from + s.batchSize());
                List<int[]> responses = generator.greedy(prompts.subList(from, to), s.maxNewTokens());
                for (int i = from; i < to; i++) {
                    GoldAnswers.Item item = gold.items().get(i);
                    String response = vocab.decode(responses.get(i - from));
                    boolean ok = GoldAnswers.correct(response, item.answer());
                    correct += ok ? 1 : 0;
                    ObjectNode line = JSON.createObjectNode();
                    line.put("prompt", item.prompt());
                    line.put("answer", item.answer());
                    line.put("greedy", response);
                    line.put("correct", ok);
                    os.write((JSON.writeValueAsString(line) + "\n").getBytes(StandardCharsets.UTF_8));
                }
                progress.printf("eval: gold %d/%d prompts, exact match so far %.3f%n", to, prompts.size(),
                        (double) correct / to);
            }
        }
        GoldScore score = new GoldScore(gold.source(), gold.items().size(), correct);
        progress.printf("eval: gold exact match %.3f (%d/%d greedy responses)%n", score.exactMatch(), correct,
                score.prompts());
        return score;
    }

    private static int[] withoutEos(int[] response, TokenCodec vocab) {
        int n = response.length;
        return n > 0 && response[n - 1] == vocab.eosId() ? Arrays.copyOf(response, n - 1) : response;
    }
}
