package io.sgdpo.prep.ref;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import io.sgdpo.checkpoint.Checkpoints;
import io.sgdpo.config.SgdpoConfig;
import io.sgdpo.config.ConfigurationException;
import io.sgdpo.nn.ModelShape;
import io.sgdpo.prep.tokenize.TokenCodec;
import io.sgdpo.prep.tokenize.TokenizerMatch;
import io.sgdpo.output.AtomicOutput;
import io.sgdpo.prep.Manifest;
import io.sgdpo.prep.PairSchema;
import io.sgdpo.prep.PrepException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.sum;

/**
 * The reference log-prob pass: a prep output and a reference checkpoint in, the same pairs with
 * the reference model's per-token log-probs of both responses (and their sums) out.
 *
 * <pre>
 * DIR/pairs/S.parquet --read--> mapPartitions(score batches with the broadcast checkpoint)
 *                     --write--> DIR2/pairs/S.parquet        (one output shard per input shard)
 * </pre>
 *
 * <p>Resumable: the output is built in a hidden sibling with a fixed name ({@code .DIR2.ref-logps-partial},
 * see {@link AtomicOutput#resumable}). Each shard is written under a {@code _tmp-} name, renamed,
 * and only then recorded as complete in {@code _shards/S.json} together with the run's fingerprint
 * (input manifest, checkpoint, batch size). A rerun skips the shards recorded for the same
 * fingerprint and recomputes the others; a different checkpoint starts over. When every shard is
 * there, vocab.json and the manifest are written and the folder is renamed to DIR2, so DIR2 only
 * ever holds a complete output. Shards are scored concurrently, one Spark job each.
 */
public final class RefLogpsJob {
    private static final Logger LOG = LoggerFactory.getLogger(RefLogpsJob.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Bumped whenever the output for the same input, checkpoint and config would change. */
    public static final int OUTPUT_VERSION = 1;
    /** Suffix of the hidden work folder beside the output. */
    public static final String PARTIAL_SUFFIX = "ref-logps-partial";
    /** Per-shard completion records inside the output. */
    public static final String SHARDS_DIR = "_shards";
    /**
     * Passes' worth of a shard's rows read at a time, among which a decoder's passes group pairs of
     * like length ({@code ref.batchSize} x this many pairs in memory per task).
     */
    public static final int READ_AHEAD_PASSES = 8;
    private static final String WORK_FILE = "_work.json";
    private static final String TMP_PREFIX = "_tmp-";

    /** What a run did. */
    public enum Status { BUILT, UP_TO_DATE }

    /**
     * @param status         whether the output was (re)built or found up to date
     * @param output         the qualified output directory
     * @param manifest       the manifest now in the output directory
     * @param shardsComputed shards scored by this run
     * @param shardsResumed  shards an interrupted run had completed, reused
     */
    public record Result(Status status, String output, Manifest manifest, int shardsComputed, int shardsResumed) {
    }

    private RefLogpsJob() {
    }

    /**
     * Runs the pass.
     *
     * @param data   a prep output directory (any Hadoop URI)
     * @param model  a checkpoint directory ({@code model.zip} + {@code state.properties})
     * @param output the output directory; replaced as a whole when rebuilt
     * @param config the loaded configuration (see {@link SgdpoConfig#load}); {@code ref.*} is read
     */
    public static Result run(SparkSession spark, String data, String model, String output, Config config) {
        long t0 = System.nanoTime();
        RefSettings settings = RefSettings.from(config);
        Configuration hconf = spark.sparkContext().hadoopConfiguration();
        Input input = Input.open(data, hconf);
        ReferenceCheckpoint ckpt = ReferenceCheckpoint.open(model, hconf, config.getInt("model.maxLength"));
        checkFits(input, ckpt, data, model);

        AtomicOutput.Location location = AtomicOutput.locate(output, hconf);
        Path out = location.path();
        FileSystem fs = location.fs();
        String in = input.dir.toString() + "/";
        if ((out + "/").startsWith(in) || in.startsWith(out + "/")) {
            throw new PrepException("Output " + out + " and input " + input.dir + " must not contain each other");
        }

        ObjectNode fp = JSON.createObjectNode();
        fp.put("outputVersion", OUTPUT_VERSION);
        fp.put("input", input.identity);
        fp.put("checkpoint", ckpt.identity());
        fp.put("batchSize", settings.batchSize());
        String fingerprint = Manifest.sha256(fp.toString());

        Manifest existing;
        try {
            existing = Manifest.readIfComplete(fs, out);
        } catch (IOException e) {
            throw new PrepException("Cannot tell whether output " + out + " is up to date: " + e.getMessage()
                    + "; remove the output folder or choose another --output", e);
        }
        if (existing != null && fingerprint.equals(existing.fingerprint())) {
            LOG.info("Output {} is up to date (fingerprint {}): nothing to do", out, fingerprint);
            return new Result(Status.UP_TO_DATE, out.toString(), existing, 0, 0);
        }

        refuseForeignOutput(fs, out, existing);
        AtomicOutput target = AtomicOutput.resumable(fs, out, PARTIAL_SUFFIX);
        Path work = target.tmp();
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Broadcast<byte[]> bytes = null;
        try {
            prepareWork(fs, work, fingerprint);
            List<ShardRecord> done = new ArrayList<>();
            List<FileStatus> pending = new ArrayList<>();
            for (FileStatus shard : input.shards) {
                ShardRecord r = ShardRecord.readIfComplete(fs, work, shard, fingerprint);
                if (r != null) {
                    done.add(r);
                } else {
                    pending.add(shard);
                }
            }
            int resumed = done.size();
            if (resumed > 0) {
                LOG.info("Resuming in {}: {} of {} shards already complete", work, resumed, input.shards.size());
            }
            if (!pending.isEmpty()) {
                bytes = jsc.broadcast(ckpt.bytes());
                ReferenceScorer scorer = new ReferenceScorer(ckpt.identity(), bytes, settings.batchSize(),
                        input.padId);
                int threads = settings.concurrentShards() > 0 ? settings.concurrentShards() : jsc.defaultParallelism();
                done.addAll(scoreAll(spark, jsc, pending, work, scorer, fingerprint, ckpt.identity(),
                        Math.min(threads, pending.size())));
            }
            done.sort((a, b) -> a.shard().compareTo(b.shard()));
            long pairs = done.stream().mapToLong(ShardRecord::rows).sum();
            if (pairs != input.pairs) {
                throw new PrepException("Counts do not reconcile: the input manifest lists " + input.pairs
                        + " pairs, the output shards hold " + pairs);
            }
            copy(fs, new Path(input.dir, PairSchema.VOCAB_FILE), new Path(work, PairSchema.VOCAB_FILE));
            Manifest manifest = manifest(fs, fingerprint, input, ckpt, config, settings, done, resumed, spark,
                    (System.nanoTime() - t0) / 1_000_000);
            fs.delete(new Path(work, WORK_FILE), false);
            // The manifest marks the output complete: written last, then the folder is renamed into place.
            AtomicOutput.writeString(fs, new Path(work, Manifest.FILE), manifest.render());
            target.commit();
            LOG.info("ref-logps output {}: {} pairs in {} shards ({} computed, {} resumed)", out, pairs, done.size(),
                    done.size() - resumed, resumed);
            return new Result(Status.BUILT, out.toString(), manifest, done.size() - resumed, resumed);
        } catch (IOException e) {
            throw new PrepException("Writing " + out + " failed: " + e.getMessage(), e);
        } finally {
            // No abort: what is complete in the work folder is what a rerun resumes from.
            if (bytes != null) {
                bytes.destroy();
            }
        }
    }

    /** The prep output being read: its identity, vocabulary and shards, checked against its manifest. */
    private record Input(Path dir, Manifest manifest, String identity, List<FileStatus> shards, long pairs,
                         int padId, TokenCodec vocabulary, int maxTotalLength) {

        static Input open(String data, Configuration hconf) {
            try {
                Path dir = new Path(data);
                FileSystem fs = dir.getFileSystem(hconf);
                dir = fs.makeQualified(dir);
                if (!fs.exists(dir)) {
                    throw new PrepException("Input " + data + " does not exist (--data must be a prep output folder)");
                }
                Manifest m = Manifest.readIfComplete(fs, dir);
                if (m == null) {
                    throw new PrepException("Input " + data + " is not a complete prep output (it needs "
                            + PairSchema.MANIFEST_FILE + " and " + PairSchema.PAIRS_DIR + "/): run sgdpo prep first");
                }
                if (!"prep".equals(m.stage())) {
                    throw new PrepException("Input " + data + " is a '" + m.stage() + "' output, not a prep output");
                }
                String identity = Manifest.fileSha256(fs, dir);
                FileStatus[] found = fs.listStatus(new Path(dir, PairSchema.PAIRS_DIR),
                        p -> p.getName().endsWith(".parquet") && !p.getName().startsWith("_")
                                && !p.getName().startsWith("."));
                Arrays.sort(found, (a, b) -> a.getPath().getName().compareTo(b.getPath().getName()));
                List<String> listed = new ArrayList<>();
                m.section("pairs").path("files").forEach(f -> listed.add(f.path("name").asText() + ":"
                        + f.path("bytes").asLong()));
                List<String> present = new ArrayList<>();
                for (FileStatus f : found) {
                    present.add(f.getPath().getName() + ":" + f.getLen());
                }
                if (!listed.equals(present)) {
                    throw new PrepException("Input " + data + ": the shards under " + PairSchema.PAIRS_DIR
                            + "/ differ from those its manifest lists (" + present + " vs " + listed + ")");
                }
                TokenCodec vocabulary;
                try (InputStream v = fs.open(new Path(dir, PairSchema.VOCAB_FILE))) {
                    vocabulary = TokenCodec.fromJson(new String(v.readAllBytes(), StandardCharsets.UTF_8));
                }
                return new Input(dir, m, identity, List.of(found), m.count("kept"),
                        vocabulary.padId(), vocabulary, m.config().path("prep").path("maxTotalLength").asInt());
            } catch (IOException | IllegalArgumentException e) {
                throw new PrepException("Cannot read input " + data + ": " + e.getMessage(), e);
            }
        }
    }

    /**
     * A rebuilt output replaces the folder at the output path: never let that be a folder this job
     * did not write (a mistyped --output pointing at data).
     */
    private static void refuseForeignOutput(FileSystem fs, Path out, Manifest existing) {
        try {
            if (!fs.exists(out)) {
                return;
            }
            boolean ours = existing != null && "ref-logps".equals(existing.stage());
            if (!ours && (!fs.getFileStatus(out).isDirectory() || fs.listStatus(out).length > 0)) {
                throw new PrepException("Output " + out + " exists and is not a ref-logps output: refusing to replace"
                        + " it; choose another --output or remove it");
            }
        } catch (IOException e) {
            throw new PrepException("Cannot inspect output " + out + ": " + e.getMessage(), e);
        }
    }

    /** The model must read the data's tokenizer and cover prep's longest sequence. */
    private static void checkFits(Input input, ReferenceCheckpoint ckpt, String data, String model) {
        ModelShape d = ckpt.shape();
        try {
            TokenizerMatch.require(input.vocabulary, data, d.vocabSize(), ckpt.tokenizerJson(),
                    ckpt.recordedTokenizer(), model);
        } catch (ConfigurationException e) {
            throw new PrepException("Input " + data + " does not fit the model: " + e.getMessage(), e);
        }
        if (input.maxTotalLength < 2 || input.maxTotalLength > d.maxLength() + 1) {
            throw new PrepException("Input " + data + " was prepped with prep.maxTotalLength = " + input.maxTotalLength
                    + " but the checkpoint " + model + " has model.maxLength = " + d.maxLength()
                    + ": prompt + response must be <= maxLength + 1 (prep again with prep.maxTotalLength <= "
                    + (d.maxLength() + 1) + ")");
        }
    }

    /** Starts a fresh work folder unless it holds a run with the same fingerprint; removes leftovers. */
    private static void prepareWork(FileSystem fs, Path work, String fingerprint) throws IOException {
        Path marker = new Path(work, WORK_FILE);
        boolean same = false;
        if (fs.exists(marker)) {
            try (InputStream in = fs.open(marker)) {
                same = fingerprint.equals(JSON.readTree(in.readAllBytes()).path("fingerprint").asText());
            } catch (IOException e) {
                same = false;
            }
        }
        if (!same && fs.exists(work)) {
            LOG.info("Work folder {} belongs to another input, checkpoint or config: starting over", work);
            fs.delete(work, true);
        }
        fs.mkdirs(new Path(work, PairSchema.PAIRS_DIR));
        fs.mkdirs(new Path(work, SHARDS_DIR));
        for (Path dir : new Path[] {new Path(work, PairSchema.PAIRS_DIR), new Path(work, SHARDS_DIR)}) {
            for (FileStatus s : fs.listStatus(dir, p -> p.getName().startsWith(TMP_PREFIX))) {
                fs.delete(s.getPath(), true); // a killed run's half-written shard or record
            }
        }
        if (!same) {
            ObjectNode w = JSON.createObjectNode().put("fingerprint", fingerprint);
            AtomicOutput.writeString(fs, marker, w.toString());
        }
    }

    private static List<ShardRecord> scoreAll(SparkSession spark, JavaSparkContext jsc, List<FileStatus> pending,
                                              Path work, ReferenceScorer scorer, String fingerprint,
                                              String checkpoint, int threads) {
        String group = "sgdpo-ref-logps-" + UUID.randomUUID();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        List<Future<ShardRecord>> futures = new ArrayList<>();
        try {
            for (FileStatus shard : pending) {
                futures.add(pool.submit(() -> {
                    jsc.setJobGroup(group, "sgdpo ref-logps " + shard.getPath().getName(), false);
                    return scoreShard(spark, shard, work, scorer, fingerprint, checkpoint);
                }));
            }
            List<ShardRecord> records = new ArrayList<>();
            for (Future<ShardRecord> f : futures) {
                records.add(f.get());
            }
            return records;
        } catch (ExecutionException e) {
            jsc.cancelJobGroup(group);
            Throwable c = e.getCause();
            throw c instanceof PrepException p ? p
                    : new PrepException("Scoring failed: " + c.getMessage() + " (complete shards are kept; rerun to "
                    + "resume)", c);
        } catch (InterruptedException e) {
            jsc.cancelJobGroup(group);
            Thread.currentThread().interrupt();
            throw new PrepException("Interrupted", e);
        } finally {
            pool.shutdownNow();
        }
    }

    /** Scores one input shard into {@code work/pairs/<same name>} and records it as complete. */
    private static ShardRecord scoreShard(SparkSession spark, FileStatus shard, Path work, ReferenceScorer scorer,
                                          String fingerprint, String checkpoint) throws IOException {
        long t0 = System.nanoTime();
        String name = shard.getPath().getName();
        FileSystem fs = work.getFileSystem(spark.sparkContext().hadoopConfiguration());
        Dataset<Row> pairs = spark.read().schema(PairSchema.PAIRS).parquet(shard.getPath().toString());
        Row totals = pairs.agg(count(lit(1)), sum(col(PairSchema.PROMPT_LEN)),
                sum(col(PairSchema.CHOSEN_LEN).plus(col(PairSchema.REJECTED_LEN)))).first();
        long rows = totals.getLong(0);
        long promptTokens = totals.isNullAt(1) ? 0 : totals.getLong(1);
        long responseTokens = totals.isNullAt(2) ? 0 : totals.getLong(2);

        JavaRDD<Row> scored = pairs.javaRDD().mapPartitions(scorer);
        Path tmp = new Path(new Path(work, PairSchema.PAIRS_DIR), TMP_PREFIX + name + "-" + UUID.randomUUID());
        // One task keeps the shard's row order (prep sorted it by pair id) and writes one file.
        spark.createDataFrame(scored, PairSchema.PAIRS_WITH_REFERENCE).coalesce(1)
                .write().mode(SaveMode.ErrorIfExists).parquet(tmp.toString());
        FileStatus[] parts = fs.listStatus(tmp, p -> p.getName().startsWith("part-"));
        if (parts.length != 1) {
            throw new PrepException("Scoring shard " + name + " wrote " + parts.length + " files, expected one");
        }
        Path target = new Path(new Path(work, PairSchema.PAIRS_DIR), name);
        if (fs.exists(target)) {
            fs.delete(target, false); // written by a run killed before it recorded the shard
        }
        if (!fs.rename(parts[0].getPath(), target)) {
            throw new IOException("Cannot rename " + parts[0].getPath() + " to " + target);
        }
        fs.delete(tmp, true);
        long written = spark.read().parquet(target.toString()).count();
        if (written != rows) {
            throw new PrepException("Shard " + name + ": read " + rows + " pairs but wrote " + written);
        }
        ShardRecord r = new ShardRecord(name, fingerprint, checkpoint, shard.getLen(), rows,
                fs.getFileStatus(target).getLen(), promptTokens, responseTokens,
                (System.nanoTime() - t0) / 1_000_000);
        r.write(fs, work, TMP_PREFIX);
        LOG.info("ref-logps shard {}: {} pairs, {} response tokens, {} ms", name, rows, responseTokens, r.millis());
        return r;
    }

    private static void copy(FileSystem fs, Path from, Path to) throws IOException {
        if (!fs.exists(from)) {
            throw new PrepException("Input has no " + from.getName() + ": " + from);
        }
        try (InputStream in = from.getFileSystem(fs.getConf()).open(from)) {
            byte[] b = in.readAllBytes();
            try (var o = fs.create(to, true)) {
                o.write(b);
            }
        }
    }

    private static Manifest manifest(FileSystem fs, String fingerprint, Input input, ReferenceCheckpoint ckpt,
                                     Config config, RefSettings settings, List<ShardRecord> shards, int resumed,
                                     SparkSession spark, long durationMs) throws IOException {
        Manifest.Builder m = Manifest.builder("ref-logps").fingerprint(fingerprint)
                .config(config, List.of("ref"));
        m.section("outputVersion", OUTPUT_VERSION);
        m.input(new Manifest.Input(Manifest.Input.ROLE_DATA, input.dir.toString(), input.identity,
                JSON.createObjectNode().put("stage", input.manifest.stage())
                        .put("fingerprint", input.manifest.fingerprint()).put("pairs", input.pairs)));

        ModelShape d = ckpt.shape();
        boolean checkpoint = fs.exists(new Path(ckpt.path(), Checkpoints.MODEL));
        m.model(new Manifest.Model(checkpoint ? Manifest.Model.CHECKPOINT : Manifest.Model.HUGGING_FACE,
                ckpt.path().toString(), ckpt.identity(), JSON.createObjectNode()
                .put("dataType", ckpt.dataType().name())
                .put("architecture", d.architecture().configName())
                .put("maxLength", d.maxLength())
                .put("vocabSize", d.vocabSize())
                .put("dModel", d.dModel())
                .put("layers", d.layers())));

        m.section("vocabulary", input.manifest.section("vocabulary").deepCopy());
        // The prep manifest's provenance travels along, so the output alone tells where its pairs came from.
        m.section("prep", input.manifest.json());

        long pairs = shards.stream().mapToLong(ShardRecord::rows).sum();
        m.count("inputPairs", input.pairs);
        m.count("pairs", pairs);
        m.count("promptTokens", shards.stream().mapToLong(ShardRecord::promptTokens).sum());
        m.count("responseTokens", shards.stream().mapToLong(ShardRecord::responseTokens).sum());
        m.count("shards", shards.size());
        m.count("shardsComputed", shards.size() - resumed);
        m.count("shardsResumed", resumed);

        ObjectNode sh = JSON.createObjectNode();
        sh.put("dir", PairSchema.PAIRS_DIR);
        sh.put("shards", shards.size());
        ArrayNode files = sh.putArray("files");
        for (ShardRecord r : shards) {
            files.addObject().put("name", r.shard()).put("bytes", r.outputBytes()).put("pairs", r.rows());
        }
        m.section("pairs", sh);
        ObjectNode run = JSON.createObjectNode();
        run.put("sparkMaster", spark.sparkContext().master());
        run.put("durationMs", durationMs);
        run.put("concurrentShards", settings.concurrentShards());
        m.section("run", run);
        return m.build();
    }
}
