package io.sgdpo.train;

import io.sgdpo.nn.PairExample;
import io.sgdpo.prep.PairSchema;
import io.sgdpo.prep.tokenize.TokenCodec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.apache.commons.io.IOUtils;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;

/**
 * Reads the pair shards of a prep or ref-logps output directory as {@link PairExample}s (through
 * {@link PairSchema#example}, the one row-to-pair conversion).
 */
public final class PairShards {

    private PairShards() {
    }

    /** The pairs of one split ({@code train} or {@code eval}), without reference log-probs. */
    public static JavaRDD<PairExample> read(SparkSession spark, String dir, String split) {
        return select(spark, dir, split, false);
    }

    /** The pairs of one split with their per-token reference log-probs (a ref-logps output). */
    public static JavaRDD<PairExample> readWithReference(SparkSession spark, String dir, String split) {
        return select(spark, dir, split, true);
    }

    private static JavaRDD<PairExample> select(SparkSession spark, String dir, String split, boolean reference) {
        Path pairs = new Path(dir, PairSchema.PAIRS_DIR);
        requireExists(spark, pairs, "pair shards (run sgdpo prep first)");
        Dataset<Row> all = spark.read().parquet(pairs.toString());
        String[] columns = reference
                ? new String[] {PairSchema.PAIR_ID, PairSchema.PROMPT_IDS, PairSchema.CHOSEN_IDS, PairSchema.REJECTED_IDS,
                    PairSchema.CHOSEN_REF_LOGPS, PairSchema.REJECTED_REF_LOGPS}
                : new String[] {PairSchema.PAIR_ID, PairSchema.PROMPT_IDS, PairSchema.CHOSEN_IDS, PairSchema.REJECTED_IDS};
        for (String column : columns) {
            if (!Arrays.asList(all.columns()).contains(column)) {
                throw new IllegalArgumentException(dir + " has no column " + column
                        + (reference ? ": run sgdpo ref-logps on it first" : ""));
            }
        }
        Dataset<Row> rows = all.where(functions.col(PairSchema.SPLIT).equalTo(split))
                .select(columns[0], Arrays.copyOfRange(columns, 1, columns.length));
        return rows.javaRDD().map(PairSchema::example);
    }

    /** The vocabulary saved beside the shards: the trimmed one, or the model tokenizer prep used. */
    public static TokenCodec vocabulary(SparkSession spark, String dir) throws IOException {
        return vocabulary(dir, spark.sparkContext().hadoopConfiguration());
    }

    /** The vocabulary saved beside the shards, read without Spark. */
    public static TokenCodec vocabulary(String dir, Configuration hadoop) throws IOException {
        Path file = new Path(dir, PairSchema.VOCAB_FILE);
        FileSystem fs = file.getFileSystem(hadoop);
        if (!fs.exists(file)) {
            throw new IllegalArgumentException("no vocabulary at " + file + " (a prep or ref-logps output holds one)");
        }
        try (var in = fs.open(file)) {
            return TokenCodec.fromJson(IOUtils.toString(in, StandardCharsets.UTF_8));
        }
    }

    private static void requireExists(SparkSession spark, Path path, String what) {
        try {
            if (!path.getFileSystem(spark.sparkContext().hadoopConfiguration()).exists(path)) {
                throw new IllegalArgumentException("no " + what + " at " + path);
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + path + ": " + e.getMessage(), e);
        }
    }
}
