package io.sgdpo.prep;

import io.sgdpo.output.AtomicOutput;
import com.typesafe.config.Config;
import io.sgdpo.config.SgdpoConfig;
import io.sgdpo.prep.tokenize.Segmenter;
import io.sgdpo.prep.tokenize.Segmenters;
import io.sgdpo.prep.tokenize.ModelTokenizer;
import io.sgdpo.prep.tokenize.TokenCodec;
import io.sgdpo.prep.tokenize.TokenizerSpec;
import io.sgdpo.prep.tokenize.Vocabulary;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.io.LongWritable;
import org.apache.hadoop.io.Text;
import org.apache.hadoop.mapreduce.Job;
import org.apache.hadoop.mapreduce.lib.input.FileInputFormat;
import org.apache.hadoop.mapreduce.lib.input.FileSplit;
import org.apache.hadoop.mapreduce.lib.input.TextInputFormat;
import org.apache.spark.api.java.JavaNewHadoopRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Tuple2;

import java.io.IOException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.apache.spark.sql.functions.col;

/**
 * The data-prep Spark job: raw preference records in, validated and tokenized pair shards out.
 *
 * <pre>
 * inputs --read lines (with file + line)--> parse/validate --dedupe by pair id--> split (file role, pair id)
 *        --count pieces of the train split--> trimmed vocabulary --encode + truncate--> pairs / rejects
 * </pre>
 *
 * <p>With {@code tokenizer.from} (a Hugging Face model folder) no vocabulary is built: pairs are
 * encoded with that model's own tokenizer ({@link ModelTokenizer}), and message-list prompts are
 * rendered with its chat template when it has one.
 *
 * <p>Inputs come in two roles. Pairs of an ordinary input ({@code --input}) are split by a hash of
 * their id with {@code prep.evalFraction}; every pair of an eval input ({@code --eval-input}) goes to
 * the eval split, for data sets that ship their own held-out file (UltraFeedback's
 * {@code train_prefs} and {@code test_prefs}). {@link SplitRule} decides both the vocabulary's pairs
 * and the stored split.
 *
 * Everything is written under a temporary directory beside the output and renamed into place at the
 * end, manifest last; a rerun whose inputs, config and tokenizer match the existing manifest does
 * nothing.
 */
public final class PrepJob {
    private static final Logger LOG = LoggerFactory.getLogger(PrepJob.class);

    /** Bumped whenever the output of the same inputs and config would change. */
    public static final int OUTPUT_VERSION = 1;
    /** Config namespaces that define a prep output (and so its fingerprint). */
    public static final List<String> CONFIG_NAMESPACES = List.of("prep", "tokenizer");
    /** Estimated stored bytes per token id, for sizing shards (uncompressed int32: an upper bound). */
    private static final int BYTES_PER_ID = 4;

    /** What a run did. */
    public enum Status { BUILT, UP_TO_DATE }

    /**
     * @param status   whether the output was (re)built or found up to date
     * @param output   the qualified output directory
     * @param manifest the manifest now in the output directory
     */
    public record Result(Status status, String output, Manifest manifest) {
    }

    private PrepJob() {
    }

    /**
     * Runs the job on ordinary inputs only: every pair's split follows its id and
     * {@code prep.evalFraction}. Same as {@link #run(SparkSession, List, List, String, Config)} with no
     * eval inputs.
     *
     * @param inputs files or folders (any Hadoop URI)
     * @param output the output directory (any Hadoop URI); replaced atomically when rebuilt
     * @param config the loaded configuration (see {@link SgdpoConfig#load})
     */
    public static Result run(SparkSession spark, List<String> inputs, String output, Config config) {
        return run(spark, inputs, List.of(), output, config);
    }

    /**
     * Runs the job.
     *
     * <p>Every pair of an eval input is in the eval split and none of its text goes into the
     * vocabulary. Ordinary inputs are still split by hash, so with {@code prep.evalFraction > 0} the
     * eval split also holds a hash-chosen share of them; set it to 0 to evaluate on the eval inputs
     * alone. When the same pair (same id) is in an ordinary and in an eval input, the eval copy is kept
     * and the ordinary one rejected as a duplicate, so no pair is both trained and evaluated on and
     * the eval inputs lose no pair to the train split; among inputs of one role the first occurrence
     * (input order, then line) is kept. The role of each file is part of the manifest and of its
     * fingerprint.
     *
     * @param inputs     ordinary inputs: files or folders (any Hadoop URI); at least one
     * @param evalInputs eval inputs: files or folders whose pairs all go to the eval split; may be
     *                   empty; a file may not be reached from both lists
     * @param output     the output directory (any Hadoop URI); replaced atomically when rebuilt
     * @param config     the loaded configuration (see {@link SgdpoConfig#load})
     */
    public static Result run(SparkSession spark, List<String> inputs, List<String> evalInputs, String output,
                             Config config) {
        long t0 = System.nanoTime();
        PrepSettings settings = PrepSettings.from(config);
        Configuration hconf = spark.sparkContext().hadoopConfiguration();
        String tokenizerFrom = config.getString("tokenizer.from").trim();
        ModelTokenizer modelTokenizer = tokenizerFrom.isEmpty() ? null : ModelTokenizer.open(tokenizerFrom, hconf);
        TokenizerSpec spec = modelTokenizer == null ? TokenizerSpec.fromConfig(config, hconf) : null;
        List<InputFile> files = InputFiles.resolve(inputs, evalInputs, hconf, settings);
        SplitRule splits = SplitRule.of(files, settings.evalFraction());
        String configJson = SgdpoConfig.renderJson(config, CONFIG_NAMESPACES);
        String tokenizerIdentity = modelTokenizer == null ? spec.identity()
                : modelTokenizer.identity() + ":" + modelTokenizer.settingsIdentity();
        String fingerprint = PrepManifest.fingerprint(OUTPUT_VERSION, files, configJson, tokenizerIdentity);

        AtomicOutput.Location location = AtomicOutput.locate(output, hconf);
        Path out = location.path();
        FileSystem fs = location.fs();
        List<String> allInputs = new ArrayList<>(inputs);
        allInputs.addAll(evalInputs);
        checkOutputOutsideInputs(allInputs, out, hconf);
        Manifest existing = existingManifest(fs, out);
        if (existing != null && fingerprint.equals(existing.fingerprint())) {
            LOG.info("Output {} is up to date (fingerprint {}): nothing to do", out, fingerprint);
            return new Result(Status.UP_TO_DATE, out.toString(), existing);
        }

        AtomicOutput target = AtomicOutput.begin(fs, out);
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        List<JavaRDD<?>> cached = new ArrayList<>();
        List<Broadcast<?>> broadcasts = new ArrayList<>();
        try {
            Phases phases = new Phases();
            int parallelism = settings.partitions() > 0 ? settings.partitions() : jsc.defaultParallelism();
            JavaRDD<RawLine> raw = readAll(spark, jsc, files, hconf, parallelism, cached);
            if (raw.getNumPartitions() < parallelism) {
                // A .gz file is one split: spread its lines so that parsing and tokenizing use every core.
                raw = raw.repartition(parallelism);
            }
            phases.done("read");

            RecordParser parser = modelTokenizer == null ? settings.parser()
                    : settings.parser().withChatTemplate(modelTokenizer.chatTemplate());
            InputFile[] byIndex = files.toArray(new InputFile[0]);
            JavaRDD<ParsedRecord> parsed = raw.map(r -> {
                InputFile f = byIndex[r.fileIndex];
                return parser.parse(r.bytes, f.format(), f.path(), f.index(), r.line);
            });
            parsed.persist(StorageLevel.MEMORY_AND_DISK());
            cached.add(parsed);

            // Only ids and positions travel to find duplicates; records stay where they are.
            Map<String, Position> firstOfDuplicated = parsed.filter(ParsedRecord::isPair)
                    .mapToPair(p -> new Tuple2<>(p.pairId,
                            new Position(byIndex[p.fileIndex].evalInput(), p.fileIndex, p.line, 1)))
                    .reduceByKey(Position::earlier)
                    .filter(t -> t._2().count > 1)
                    .collectAsMap();
            Broadcast<HashMap<String, Position>> dupes = jsc.broadcast(new HashMap<>(firstOfDuplicated));
            broadcasts.add(dupes);
            JavaRDD<ParsedRecord> deduped = parsed.map(p -> markDuplicate(p, dupes.value(), byIndex));
            phases.done("parse_dedupe");

            TokenCodec vocab = modelTokenizer != null ? modelTokenizer
                    : buildVocabulary(deduped, spec, settings, splits);
            phases.done("vocabulary");
            Broadcast<PairEncoder> encoder = jsc.broadcast(new PairEncoder(vocab, settings, splits));
            broadcasts.add(encoder);
            JavaRDD<PrepOutcome> outcomes = deduped
                    .map(p -> p.isPair() ? encoder.value().encode(p) : PrepOutcome.reject(p));
            outcomes.persist(StorageLevel.MEMORY_AND_DISK());
            cached.add(outcomes);

            PrepStats stats = outcomes.aggregate(new PrepStats(), PrepStats::add, PrepStats::merge);
            phases.done("encode_count");
            writeRejects(spark, outcomes, target.tmp(), stats);
            phases.done("write_rejects");
            double fraction = stats.read == 0 ? 0 : (double) stats.rejected() / stats.read;
            if (fraction > settings.maxRejectFraction()) {
                String msg = String.format("Rejected fraction %.4f (%d of %d records) exceeds prep.maxRejectFraction = %s;"
                                + " by reason: %s. Rejects left for inspection under %s/%s",
                        fraction, stats.rejected(), stats.read, settings.maxRejectFraction(),
                        nonZero(stats.rejectedByReason), target.tmp(), PairSchema.REJECTS_DIR);
                target.keep();
                throw new PrepException(msg);
            }
            int shards = writePairs(spark, outcomes, target.tmp(), stats, settings, byIndex);
            phases.done("write_pairs");
            String vocabJson = vocab.toJson();
            AtomicOutput.writeString(fs, new Path(target.tmp(), PairSchema.VOCAB_FILE), vocabJson);

            Manifest manifest = PrepManifest.build(fingerprint, OUTPUT_VERSION, files, configJson, vocab,
                    vocabJson, settings, stats, shards, fs, new Path(target.tmp(), PairSchema.PAIRS_DIR),
                    spark.sparkContext().master(), (System.nanoTime() - t0) / 1_000_000, phases.millis);
            // The manifest is what marks an output complete: it goes last, then the whole folder is renamed.
            AtomicOutput.writeString(fs, new Path(target.tmp(), Manifest.FILE), manifest.render());
            target.commit();
            LOG.info("Prep output {}: read {}, kept {}, rejected {}; phase ms {}", out, stats.read, stats.kept,
                    stats.rejected(), phases.millis);
            return new Result(Status.BUILT, out.toString(), manifest);
        } catch (IOException e) {
            throw new PrepException("Writing " + out + " failed: " + e.getMessage(), e);
        } finally {
            target.abortIfNotCommitted();
            for (JavaRDD<?> rdd : cached) {
                // Blocking: a session stopped right after the job must not race pending removals.
                rdd.unpersist(true);
            }
            broadcasts.forEach(b -> b.destroy());
        }
    }

    /** An output inside an input folder would be read back as input by the next run. */
    /** The manifest of a complete output already at {@code out}, or null; a broken one is an error. */
    private static Manifest existingManifest(FileSystem fs, Path out) {
        try {
            return Manifest.readIfComplete(fs, out);
        } catch (IOException e) {
            throw new PrepException("Cannot tell whether output " + out + " is up to date: " + e.getMessage()
                    + "; remove the output folder or choose another --output", e);
        }
    }

    private static void checkOutputOutsideInputs(List<String> inputs, Path out, Configuration hconf) {
        String o = out.toString() + "/";
        for (String input : inputs) {
            try {
                Path p = new Path(input);
                String in = p.getFileSystem(hconf).makeQualified(p).toString();
                if (o.startsWith(in.endsWith("/") ? in : in + "/")) {
                    throw new PrepException("Output " + out + " lies inside input " + input
                            + ": the next run would read it back as input; choose another --output");
                }
            } catch (IOException e) {
                throw new PrepException("Cannot read input path " + input + ": " + e.getMessage(), e);
            }
        }
    }

    /** One input line (or Parquet row) with its file and 1-based line number. */
    static final class RawLine implements Serializable {
        private static final long serialVersionUID = 1L;
        final int fileIndex;
        final long line;
        final byte[] bytes;

        RawLine(int fileIndex, long line, byte[] bytes) {
            this.fileIndex = fileIndex;
            this.line = line;
            this.bytes = bytes;
        }
    }

    /** A line before its number is known: which split it came from and its position there. */
    static final class SplitLine implements Serializable {
        private static final long serialVersionUID = 1L;
        final String path;
        final long splitStart;
        final long indexInSplit;
        final byte[] bytes;

        SplitLine(String path, long splitStart, long indexInSplit, byte[] bytes) {
            this.path = path;
            this.splitStart = splitStart;
            this.indexInSplit = indexInSplit;
            this.bytes = bytes;
        }
    }

    private static JavaRDD<RawLine> readAll(SparkSession spark, JavaSparkContext jsc, List<InputFile> files,
                                            Configuration hconf, int parallelism, List<JavaRDD<?>> cached)
            throws IOException {
        List<JavaRDD<RawLine>> parts = new ArrayList<>();
        List<InputFile> jsonl = files.stream().filter(f -> !f.parquet()).toList();
        if (!jsonl.isEmpty()) {
            parts.add(readJsonl(jsc, jsonl, hconf, parallelism, cached));
        }
        for (InputFile f : files) {
            if (f.parquet()) {
                int index = f.index();
                // Row order within a Parquet file is its row-group order, so zipWithIndex numbers rows.
                parts.add(spark.read().parquet(f.path()).toJSON().javaRDD().zipWithIndex()
                        .map(t -> new RawLine(index, t._2() + 1, t._1().getBytes(java.nio.charset.StandardCharsets.UTF_8))));
            }
        }
        JavaRDD<RawLine> all = parts.get(0);
        for (int i = 1; i < parts.size(); i++) {
            all = all.union(parts.get(i));
        }
        return all;
    }

    /**
     * Reads JSONL with Hadoop's TextInputFormat (so .gz and other codecs, and splitting of large plain
     * files, come for free) and keeps the raw bytes, so invalid UTF-8 can be detected rather than
     * silently replaced. Line numbers come from counting the lines of each split, in offset order.
     */
    private static JavaRDD<RawLine> readJsonl(JavaSparkContext jsc, List<InputFile> files, Configuration hconf,
                                              int parallelism, List<JavaRDD<?>> cached) throws IOException {
        Job job = Job.getInstance(hconf);
        FileInputFormat.setInputPaths(job, files.stream().map(f -> new Path(f.path())).toArray(Path[]::new));
        // Splittable (uncompressed) input: at least one split per core, so no reshuffle is needed.
        long total = files.stream().mapToLong(InputFile::size).sum();
        long blockCap = hconf.getLong("fs.local.block.size", 32L << 20);
        FileInputFormat.setMaxInputSplitSize(job, Math.max(1L << 20, Math.min(blockCap, total / parallelism + 1)));
        @SuppressWarnings("unchecked")
        JavaNewHadoopRDD<LongWritable, Text> hadoop = (JavaNewHadoopRDD<LongWritable, Text>)
                jsc.newAPIHadoopRDD(job.getConfiguration(), TextInputFormat.class, LongWritable.class, Text.class);
        JavaRDD<SplitLine> lines = hadoop.mapPartitionsWithInputSplit((split, it) -> {
            FileSplit fs = (FileSplit) split;
            String path = fs.getPath().toString();
            long start = fs.getStart();
            return new Iterator<SplitLine>() {
                long k = 0;

                @Override
                public boolean hasNext() {
                    return it.hasNext();
                }

                @Override
                public SplitLine next() {
                    Text t = it.next()._2();
                    // The reader reuses its Text object: copy the bytes.
                    return new SplitLine(path, start, k++, Arrays.copyOf(t.getBytes(), t.getLength()));
                }
            };
        }, true);
        lines.persist(StorageLevel.MEMORY_AND_DISK());
        cached.add(lines);

        List<Tuple2<String, Tuple2<Long, Long>>> counts = lines.mapPartitions(it -> {
            if (!it.hasNext()) {
                return Collections.<Tuple2<String, Tuple2<Long, Long>>>emptyIterator();
            }
            SplitLine first = it.next();
            long n = 1;
            while (it.hasNext()) {
                it.next();
                n++;
            }
            return List.of(new Tuple2<>(first.path, new Tuple2<>(first.splitStart, n))).iterator();
        }).collect();

        Map<String, TreeMap<Long, Long>> bySplit = new HashMap<>();
        for (Tuple2<String, Tuple2<Long, Long>> c : counts) {
            bySplit.computeIfAbsent(c._1(), k -> new TreeMap<>()).put(c._2()._1(), c._2()._2());
        }
        Map<String, Long> baseLine = new HashMap<>();
        for (Map.Entry<String, TreeMap<Long, Long>> e : bySplit.entrySet()) {
            long before = 0;
            for (Map.Entry<Long, Long> s : e.getValue().entrySet()) {
                baseLine.put(e.getKey() + "@" + s.getKey(), before);
                before += s.getValue();
            }
        }
        Map<String, Integer> indexByPath = new HashMap<>();
        for (InputFile f : files) {
            indexByPath.put(f.path(), f.index());
            indexByPath.put(new Path(f.path()).toUri().getPath(), f.index());
        }
        return lines.map(l -> {
            Integer index = indexByPath.get(l.path);
            if (index == null) {
                index = indexByPath.get(new Path(l.path).toUri().getPath());
            }
            if (index == null) {
                throw new IllegalStateException("Split of unknown input file " + l.path);
            }
            return new RawLine(index, baseLine.get(l.path + "@" + l.splitStart) + l.indexInSplit + 1, l.bytes);
        });
    }

    /** Where a record sits in the input, and how many records share its pair id. */
    static final class Position implements Serializable {
        private static final long serialVersionUID = 1L;
        final boolean evalInput;
        final int fileIndex;
        final long line;
        final long count;

        Position(boolean evalInput, int fileIndex, long line, long count) {
            this.evalInput = evalInput;
            this.fileIndex = fileIndex;
            this.line = line;
            this.count = count;
        }

        /**
         * The position whose record is kept, with the summed count: one in an eval input before one in
         * an ordinary input (a pair of the held-out file must not be trained on, and the held-out file
         * stays whole), then input order, then line.
         */
        static Position earlier(Position a, Position b) {
            boolean aFirst = a.evalInput != b.evalInput ? a.evalInput
                    : a.fileIndex != b.fileIndex ? a.fileIndex < b.fileIndex : a.line <= b.line;
            Position first = aFirst ? a : b;
            return new Position(first.evalInput, first.fileIndex, first.line, a.count + b.count);
        }
    }

    /**
     * Keeps one occurrence of a pair id (see {@link Position#earlier}: eval inputs first, then input
     * order, then line); the others become duplicates.
     */
    private static ParsedRecord markDuplicate(ParsedRecord p, Map<String, Position> firstOfDuplicated,
                                              InputFile[] files) {
        if (!p.isPair()) {
            return p;
        }
        Position first = firstOfDuplicated.get(p.pairId);
        if (first == null || (first.fileIndex == p.fileIndex && first.line == p.line)) {
            return p;
        }
        return p.rejectAs(RejectReason.DUPLICATE, "same pair id " + p.pairId + " as "
                + files[first.fileIndex].name() + ":" + first.line);
    }

    /** Wall time of each phase, for the manifest (phases overlap where Spark evaluates lazily). */
    private static final class Phases {
        final Map<String, Long> millis = new LinkedHashMap<>();
        private long last = System.nanoTime();

        void done(String phase) {
            long now = System.nanoTime();
            millis.put(phase, (now - last) / 1_000_000);
            last = now;
        }
    }

    /**
     * Counts pieces of the train split (prompt and both responses) and keeps the K most frequent; eval
     * pairs, eval inputs included, never shape the vocabulary.
     */
    private static Vocabulary buildVocabulary(JavaRDD<ParsedRecord> deduped, TokenizerSpec spec, PrepSettings s,
                                              SplitRule splits) {
        if (s.vocabSize() == 0) {
            return Vocabulary.fromCounts(spec, Map.of(), 0);
        }
        List<Tuple2<String, Long>> top = deduped
                .filter(p -> p.isPair() && splits.isTrain(p.fileIndex, p.pairId))
                .mapPartitionsToPair(it -> {
                    Segmenter seg = Segmenters.get(spec);
                    Map<String, Long> local = new HashMap<>();
                    while (it.hasNext()) {
                        ParsedRecord p = it.next();
                        for (String text : new String[]{p.prompt, p.chosen, p.rejected}) {
                            for (String piece : seg.segment(text)) {
                                if (piece.length() > 1) {
                                    local.merge(piece, 1L, Long::sum);
                                }
                            }
                        }
                    }
                    List<Tuple2<String, Long>> out = new ArrayList<>(local.size());
                    local.forEach((k, v) -> out.add(new Tuple2<>(k, v)));
                    return out.iterator();
                })
                .reduceByKey(Long::sum)
                .takeOrdered(s.vocabSize(), new PieceOrder());
        Map<String, Long> counts = new LinkedHashMap<>();
        top.forEach(t -> counts.put(t._1(), t._2()));
        return Vocabulary.fromCounts(spec, counts, s.vocabSize());
    }

    /** Descending count, then ascending bytes: deterministic whatever the partitioning. */
    private static final class PieceOrder implements Comparator<Tuple2<String, Long>>, Serializable {
        private static final long serialVersionUID = 1L;

        @Override
        public int compare(Tuple2<String, Long> a, Tuple2<String, Long> b) {
            int c = Long.compare(b._2(), a._2());
            return c != 0 ? c : a._1().compareTo(b._1());
        }
    }

    private static void writeRejects(SparkSession spark, JavaRDD<PrepOutcome> outcomes, Path dir, PrepStats stats) {
        JavaRDD<Row> rows = outcomes.filter(o -> !o.isPair())
                .map(o -> PairSchema.rejectRow(o.reason.id(), o.detail, o.sourceFile, o.line, o.raw));
        int files = (int) Math.max(1, Math.min(64, stats.rejected() / 200_000 + 1));
        spark.createDataFrame(rows, PairSchema.REJECTS)
                .coalesce(files)
                .sortWithinPartitions(col(PairSchema.SOURCE_FILE), col(PairSchema.LINE))
                .write().mode(SaveMode.ErrorIfExists)
                .parquet(new Path(dir, PairSchema.REJECTS_DIR).toString());
    }

    private static int writePairs(SparkSession spark, JavaRDD<PrepOutcome> outcomes, Path dir, PrepStats stats,
                                  PrepSettings s, InputFile[] files) {
        long bytes = (stats.promptTokens + stats.responseTokens) * BYTES_PER_ID;
        int shards = (int) Math.max(1, Math.min(10_000, (bytes + s.shardTargetBytes() - 1) / s.shardTargetBytes()));
        JavaRDD<Row> rows = outcomes.filter(PrepOutcome::isPair)
                .map(o -> PairSchema.pairRow(o.pairId, o.split, files[o.fileIndex].name(),
                        o.promptIds, o.chosenIds, o.rejectedIds));
        Dataset<Row> df = spark.createDataFrame(rows, PairSchema.PAIRS);
        // Hash-partitioned and sorted by id: the same pairs land in the same shard in the same order
        // whatever the parallelism of the run. One shard needs no shuffle, only the sort.
        Dataset<Row> placed = shards == 1 ? df.coalesce(1) : df.repartition(shards, col(PairSchema.PAIR_ID));
        placed.sortWithinPartitions(PairSchema.PAIR_ID)
                .write().mode(SaveMode.ErrorIfExists)
                .parquet(new Path(dir, PairSchema.PAIRS_DIR).toString());
        return shards;
    }

    private static Map<String, Long> nonZero(Map<String, Long> m) {
        Map<String, Long> out = new TreeMap<>();
        m.forEach((k, v) -> {
            if (v > 0) {
                out.put(k, v);
            }
        });
        return out;
    }
}
