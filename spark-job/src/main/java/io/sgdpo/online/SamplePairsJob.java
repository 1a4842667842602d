package io.sgdpo.online;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import io.sgdpo.config.ConfigurationException;
import io.sgdpo.config.SgdpoConfig;
import io.sgdpo.output.AtomicOutput;
import io.sgdpo.prep.Manifest;
import io.sgdpo.prep.UserModel;
import io.sgdpo.prep.tokenize.TokenCodec;
import io.sgdpo.train.PairShards;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * {@code sgdpo sample-pairs}: on-policy preference pairs. Every prompt gets {@code sample.k}
 * completions sampled from a policy on the executors ({@link OnPolicySamples}), each scored by the
 * configured {@link Reward}; the best and the worst completion of a prompt make a pair (a prompt
 * whose completions all score the same is a tie, dropped and counted).
 *
 * <p>Output folder: {@code pairs.jsonl} (prompt, chosen, rejected, as {@code sgdpo prep} reads them,
 * plus the prompt id and both rewards), {@code samples.jsonl} (every sample with its reward),
 * {@code rejects.jsonl} (each prompt that could not be sampled, with its reason) and
 * {@code _manifest.json} (inputs, policy, settings, reward, counts: pairs + ties + failures =
 * prompts). Written aside and renamed into place.
 */
public final class SamplePairsJob {

    public static final String PAIRS = "pairs.jsonl";
    public static final String SAMPLES = "samples.jsonl";
    public static final String REJECTS = "rejects.jsonl";
    public static final String MANIFEST = Manifest.FILE;

    private static final ObjectMapper JSON = new ObjectMapper();

    private SamplePairsJob() {
    }

    /** The counts of a run: pairs + ties + failures = prompts. */
    public record Result(Path output, int prompts, int pairs, int ties, int failures, int samples) {
    }

    /** A prompt that could not be sampled. */
    record Failure(String id, String text, String reason) {
    }

    /** The prompts of the input files that can be sampled, and those that cannot. */
    record Prompts(List<OnPolicySamples.Prompt> ok, List<Failure> failures) {
    }

    /**
     * Reads {@code sample.*} (and validates it).
     *
     * @throws ConfigurationException naming the key
     */
    public static OnPolicySamples.Settings settings(Config config) {
        Config c = config.getConfig("sample");
        OnPolicySamples.Settings s = new OnPolicySamples.Settings(c.getInt("k"), c.getDouble("temperature"),
                c.getInt("topK"), c.getInt("maxNewTokens"), c.getLong("seed"), c.getInt("rowsPerPass"),
                c.getInt("partitions"));
        require(s.k() >= 2, "sample.k must be >= 2 (a pair needs two samples), got " + s.k());
        require(s.temperature() > 0, "sample.temperature must be > 0, got " + s.temperature());
        require(s.topK() >= 0, "sample.topK must be >= 0 (0: every token), got " + s.topK());
        require(s.maxNewTokens() >= 1, "sample.maxNewTokens must be >= 1, got " + s.maxNewTokens());
        require(s.rowsPerPass() >= 1, "sample.rowsPerPass must be >= 1, got " + s.rowsPerPass());
        require(s.partitions() >= 0, "sample.partitions must be >= 0 (0: Spark's default parallelism), got "
                + s.partitions());
        return s;
    }

    /**
     * @param inputs prompt files (JSONL, or Parquet by the .parquet extension) with a
     *               {@code sample.promptField} field and an optional {@code id} field
     * @param policy a Hugging Face folder or a checkpoint
     * @param data   a prep output whose vocabulary to use for a checkpoint trained from scratch, or null
     */
    public static Result run(SparkSession spark, List<String> inputs, String policy, String data, String output,
                             Config config, PrintStream progress) throws IOException {
        OnPolicySamples.Settings s = settings(config);
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        Reward reward = Rewards.fromConfig(config, hadoop);
        Path out = new Path(output);
        FileSystem fs = out.getFileSystem(hadoop);
        AtomicOutput.requireReplaceable(fs, out, MANIFEST, "a sample-pairs output");
        UserModel model = UserModel.open(policy, hadoop, config);
        TokenCodec tokenizer = tokenizer(model, data, hadoop);
        BatchSampler sampler = new BatchSampler(model.graph(), tokenizer.eosId(), tokenizer.padId());
        Prompts prompts = readPrompts(spark, inputs, config.getString("sample.promptField"), tokenizer,
                sampler.length());
        progress.printf("sample-pairs: %d prompts (%d failed) x %d samples from %s%n", prompts.ok().size(),
                prompts.failures().size(), s.k(), policy);
        List<OnPolicySamples.Sample> samples = OnPolicySamples.draw(spark, model.graph(), tokenizer.eosId(),
                tokenizer.padId(), prompts.ok(), s, "sample-pairs", progress);

        AtomicOutput target = AtomicOutput.begin(fs, out);
        try {
            int pairs = 0;
            int ties = 0;
            try (OutputStream pairsOut = fs.create(new Path(target.tmp(), PAIRS), false);
                 OutputStream samplesOut = fs.create(new Path(target.tmp(), SAMPLES), false)) {
                for (int p = 0; p < prompts.ok().size(); p++) {
                    OnPolicySamples.Prompt prompt = prompts.ok().get(p);
                    List<OnPolicySamples.Sample> mine = samples.subList(p * s.k(), (p + 1) * s.k());
                    String[] texts = new String[s.k()];
                    double[] rewards = new double[s.k()];
                    int best = 0;
                    int worst = 0;
                    for (int j = 0; j < s.k(); j++) {
                        OnPolicySamples.Sample x = mine.get(j);
                        if (!x.promptId().equals(prompt.id()) || x.index() != j) {
                            throw new IllegalStateException("sample " + x.promptId() + "/" + x.index()
                                    + " where " + prompt.id() + "/" + j + " was expected");
                        }
                        texts[j] = completion(tokenizer, prompt.ids(), x.tokens());
                        rewards[j] = reward.score(prompt.text(), texts[j]);
                        best = rewards[j] > rewards[best] ? j : best;
                        worst = rewards[j] < rewards[worst] ? j : worst;
                        ObjectNode line = JSON.createObjectNode();
                        line.put("prompt_id", prompt.id());
                        line.put("sample", j);
                        line.put("prompt", prompt.text());
                        line.put("completion", texts[j]);
                        line.put("tokens", x.tokens().length);
                        line.put("ended", x.ended());
                        line.put("reward", rewards[j]);
                        writeLine(samplesOut, line);
                    }
                    if (rewards[best] == rewards[worst]) {
                        ties++;
                        continue;
                    }
                    ObjectNode pair = JSON.createObjectNode();
                    pair.put("prompt_id", prompt.id());
                    pair.put("prompt", prompt.text());
                    pair.put("chosen", texts[best]);
                    pair.put("rejected", texts[worst]);
                    pair.put("chosen_reward", rewards[best]);
                    pair.put("rejected_reward", rewards[worst]);
                    writeLine(pairsOut, pair);
                    pairs++;
                }
            }
            try (OutputStream rejects = fs.create(new Path(target.tmp(), REJECTS), false)) {
                for (Failure f : prompts.failures()) {
                    ObjectNode line = JSON.createObjectNode();
                    line.put("prompt_id", f.id());
                    line.put("prompt", f.text());
                    line.put("reason", f.reason());
                    writeLine(rejects, line);
                }
            }
            int total = prompts.ok().size() + prompts.failures().size();
            Result result = new Result(out, total, pairs, ties, prompts.failures().size(), samples.size());
            if (pairs + ties + result.failures() != total) {
                throw new IllegalStateException("counts do not reconcile: " + pairs + " pairs + " + ties + " ties + "
                        + result.failures() + " failures != " + total + " prompts");
            }
            manifest(inputs, hadoop, model, config, reward, result).write(fs, target.tmp());
            target.commit();
            progress.printf("sample-pairs: %s: %d prompts -> %d pairs, %d ties, %d failures (%d samples)%n", out,
                    total, pairs, ties, result.failures(), samples.size());
            return result;
        } finally {
            target.abortIfNotCommitted();
        }
    }

    /** The model's own tokenizer, or the vocabulary of {@code data} for a model trained from scratch. */
    static TokenCodec tokenizer(UserModel model, String data, Configuration hadoop) throws IOException {
        if (data != null) {
            TokenCodec vocab = PairShards.vocabulary(data, hadoop);
            model.requireTokenizer(vocab, data);
            return vocab;
        }
        TokenCodec own = model.tokenizer();
        if (own == null) {
            throw new ConfigurationException("the model " + model.uri() + " was trained from scratch and carries no"
                    + " tokenizer: pass --data with the prep output it was trained on");
        }
        return own;
    }

    /**
     * The completion's text as it continues the prompt's: the decoded prompt + completion without
     * the decoded prompt (so a leading space survives), or the completion decoded alone when the
     * decoded prompt is not a prefix.
     */
    static String completion(TokenCodec tokenizer, int[] prompt, int[] tokens) {
        int[] all = java.util.Arrays.copyOf(prompt, prompt.length + tokens.length);
        System.arraycopy(tokens, 0, all, prompt.length, tokens.length);
        String whole = tokenizer.decode(all);
        String head = tokenizer.decode(prompt);
        return whole.startsWith(head) ? whole.substring(head.length()) : tokenizer.decode(tokens);
    }

    /**
     * Reads the prompt files in order. A prompt's id is its {@code id} field when the file has one,
     * else FILE#LINE (its 1-based record number); a missing or blank prompt, a duplicate id and a
     * prompt that leaves the model no room to continue are failures.
     */
    static Prompts readPrompts(SparkSession spark, List<String> inputs, String field, TokenCodec tokenizer,
                               int length) {
        List<OnPolicySamples.Prompt> ok = new ArrayList<>();
        List<Failure> failures = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (String input : inputs) {
            Dataset<Row> rows = input.endsWith(".parquet") ? spark.read().parquet(input) : spark.read().json(input);
            List<String> columns = List.of(rows.columns());
            if (!columns.contains(field)) {
                throw new ConfigurationException(input + " has no '" + field + "' field (sample.promptField); its"
                        + " fields: " + columns);
            }
            boolean hasId = columns.contains("id");
            List<Row> all = rows.collectAsList();
            for (int i = 0; i < all.size(); i++) {
                Row r = all.get(i);
                Object idValue = hasId ? r.getAs("id") : null;
                String id = idValue != null ? idValue.toString() : new Path(input).getName() + "#" + (i + 1);
                Object text = r.getAs(field);
                if (!seen.add(id)) {
                    failures.add(new Failure(id, text == null ? "" : text.toString(), "duplicate id"));
                } else if (!(text instanceof String prompt) || prompt.isBlank()) {
                    failures.add(new Failure(id, text == null ? "" : text.toString(), "missing or blank " + field));
                } else {
                    int[] ids = tokenizer.encodePrompt(prompt);
                    if (ids.length == 0 || ids.length >= length) {
                        failures.add(new Failure(id, prompt, "prompt of " + ids.length + " ids; the model's length "
                                + length + " (model.maxLength) leaves room for 1 to " + (length - 1)));
                    } else {
                        ok.add(new OnPolicySamples.Prompt(id, prompt, ids));
                    }
                }
            }
        }
        if (ok.isEmpty() && failures.isEmpty()) {
            throw new ConfigurationException("no prompts in " + inputs);
        }
        return new Prompts(ok, failures);
    }

    /** Prompt files (each with its SHA-256; a Parquet folder file by file), policy, settings, reward, counts. */
    private static Manifest manifest(List<String> inputs, Configuration hadoop, UserModel model, Config config,
                                     Reward reward, Result r) throws IOException {
        Manifest.Builder m = Manifest.builder("sample-pairs").model(Manifest.Model.of(model))
                .config(config, List.of("sample", "reward", "model")).section("reward", reward.describe());
        for (String input : inputs) {
            Path path = new Path(input);
            FileSystem fs = path.getFileSystem(hadoop);
            if (fs.isFile(path)) {
                m.input(Manifest.Input.ofFile("prompts", fs, path));
            } else {
                var files = fs.listFiles(path, true);
                while (files.hasNext()) {
                    Path f = files.next().getPath();
                    if (!f.getName().startsWith("_") && !f.getName().startsWith(".")) {
                        m.input(Manifest.Input.ofFile("prompts", fs, f));
                    }
                }
            }
        }
        return m.count("prompts", r.prompts()).count("pairs", r.pairs()).count("ties", r.ties())
                .count("failures", r.failures()).count("samples", r.samples()).build();
    }

    static com.fasterxml.jackson.databind.JsonNode json(String text) {
        try {
            return JSON.readTree(text);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static void writeLine(OutputStream out, ObjectNode line) throws IOException {
        out.write((JSON.writeValueAsString(line) + "\n").getBytes(StandardCharsets.UTF_8));
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new ConfigurationException(message);
        }
    }
}
