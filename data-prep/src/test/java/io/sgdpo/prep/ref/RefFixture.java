package io.sgdpo.prep.ref;

import com.typesafe.config.Config;
import io.sgdpo.checkpoint.Checkpoints;
import io.sgdpo.checkpoint.TrainingState;
import io.sgdpo.config.SgdpoConfig;
import io.sgdpo.nn.Decoder;
import io.sgdpo.nn.DecoderConfig;
import io.sgdpo.nn.SftLoss;
import io.sgdpo.prep.PairSchema;
import io.sgdpo.prep.PrepJob;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.learning.config.Adam;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Small, fast inputs for the ref-logps tests: a slice of the shared HH-RLHF test file prepped with
 * short lengths into several shards, and tiny decoder checkpoints that fit it.
 */
final class RefFixture {

    /** Pairs read from the HH file. */
    static final int RECORDS = 160;
    /** Prep and decoder sizes: prompt + response <= 48 = maxLength + 1. */
    static final int MAX_TOTAL = 48;
    static final int MAX_LENGTH = MAX_TOTAL - 1;
    /** Small shards (about 240 bytes per pair estimated) so that resuming has several to skip. */
    static final Map<String, String> PREP = Map.of(
            "prep.maxPromptLength", "24",
            "prep.maxTotalLength", Integer.toString(MAX_TOTAL),
            "tokenizer.vocabSize", "300",
            "prep.shardTargetBytes", "4000");
    /** Every ref-logps run of the tests: small batches, so that a shard takes several forward passes. */
    static final Map<String, String> REF = Map.of("ref.batchSize", "4");

    private RefFixture() {
    }

    /** The first {@link #RECORDS} lines of the shared HH test file as plain JSONL. */
    static Path hhSlice(Path dir) throws IOException {
        String root = System.getProperty("sgdpo.shared.data");
        if (root == null) {
            fail("System property sgdpo.shared.data is not set (the parent pom sets it to ../shared/data)");
        }
        Path hh = Path.of(root, "hh-rlhf/harmless-base-test.jsonl.gz");
        if (!Files.isRegularFile(hh)) {
            fail("Shared data file missing: " + hh);
        }
        Path slice = dir.resolve("hh-slice.jsonl");
        try (BufferedReader r = new BufferedReader(new InputStreamReader(new GZIPInputStream(Files.newInputStream(hh)),
                StandardCharsets.UTF_8)); BufferedWriter w = Files.newBufferedWriter(slice)) {
            for (int i = 0; i < RECORDS; i++) {
                w.write(r.readLine());
                w.write('\n');
            }
        }
        return slice;
    }

    static SparkSession spark(String master) {
        return SparkSession.builder().master(master).appName("sgdpo-ref-test")
                .config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", "4")
                .config("spark.driver.host", "127.0.0.1")
                .getOrCreate();
    }

    static Config config(Map<String, String> overrides) {
        return SgdpoConfig.load(null, overrides);
    }

    static Config refConfig() {
        return config(REF);
    }

    /** Preps the slice; returns the prep output directory. */
    static Path prep(SparkSession spark, Path slice, Path out) {
        PrepJob.run(spark, List.of(slice.toString()), out.toString(), config(PREP));
        return out;
    }

    /** A freshly initialised tiny decoder saved as a checkpoint; returns the checkpoint directory. */
    static Path checkpoint(Path root, int vocabSize, int maxLength, long seed) throws IOException {
        DecoderConfig c = new DecoderConfig(vocabSize, 16, 1, 2, maxLength, 0.0, seed);
        var graph = Decoder.create(c, new SftLoss(), new Adam(1e-3), DataType.FLOAT);
        FileSystem fs = FileSystem.getLocal(new Configuration());
        return Path.of(new Checkpoints(fs, new org.apache.hadoop.fs.Path(root.toUri()))
                .save(graph, TrainingState.initial(seed)).toUri());
    }

    /** Rows of an output's pairs, by pair id. */
    static Map<String, Row> rowsById(SparkSession spark, Path dir) {
        Map<String, Row> out = new HashMap<>();
        for (Row r : spark.read().parquet(dir.resolve(PairSchema.PAIRS_DIR).toString()).collectAsList()) {
            out.put(r.getString(r.fieldIndex(PairSchema.PAIR_ID)), r);
        }
        return out;
    }

    /** Pair ids of each shard file of an output, in file order, by file name. */
    static Map<String, List<String>> idsByShard(SparkSession spark, Path dir) throws IOException {
        Map<String, List<String>> out = new HashMap<>();
        try (Stream<Path> s = Files.list(dir.resolve(PairSchema.PAIRS_DIR))) {
            for (Path p : s.filter(p -> p.getFileName().toString().endsWith(".parquet")).toList()) {
                List<String> ids = new ArrayList<>();
                for (Row r : spark.read().parquet(p.toString()).select(PairSchema.PAIR_ID).collectAsList()) {
                    ids.add(r.getString(0));
                }
                out.put(p.getFileName().toString(), ids);
            }
        }
        return out;
    }

    static void deleteRecursively(Path dir) throws IOException {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
        }
    }
}
