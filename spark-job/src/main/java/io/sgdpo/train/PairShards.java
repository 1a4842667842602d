package io.sgdpo.train;

import io.sgdpo.nn.PairExample;
import io.sgdpo.prep.PairSchema;
import io.sgdpo.prep.tokenize.Vocabulary;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.apache.commons.io.IOUtils;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;

/** Reads the pair shards of a prep (or ref-logps) output directory as {@link PairExample}s. */
public final class PairShards {

    private PairShards() {
    }

    /** The pairs of one split ({@code train} or {@code eval}), without reference log-probs. */
    public static JavaRDD<PairExample> read(SparkSession spark, String dir, String split) {
        Path pairs = new Path(dir, PairSchema.PAIRS_DIR);
        requireExists(spark, pairs, "pair shards (run sgdpo prep first)");
        Dataset<Row> rows = spark.read().parquet(pairs.toString())
                .where(functions.col(PairSchema.SPLIT).equalTo(split))
                .select(PairSchema.PAIR_ID, PairSchema.PROMPT_IDS, PairSchema.CHOSEN_IDS, PairSchema.REJECTED_IDS);
        return rows.javaRDD().map(r -> new PairExample(r.getString(0), PairSchema.ids(r, PairSchema.PROMPT_IDS),
                PairSchema.ids(r, PairSchema.CHOSEN_IDS), PairSchema.ids(r, PairSchema.REJECTED_IDS)));
    }

    /** The vocabulary saved beside the shards. */
    public static Vocabulary vocabulary(SparkSession spark, String dir) throws IOException {
        Path file = new Path(dir, PairSchema.VOCAB_FILE);
        requireExists(spark, file, "vocabulary");
        FileSystem fs = file.getFileSystem(spark.sparkContext().hadoopConfiguration());
        try (var in = fs.open(file)) {
            return Vocabulary.fromJson(IOUtils.toString(in, StandardCharsets.UTF_8));
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
