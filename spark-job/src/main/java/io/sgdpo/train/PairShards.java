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

    // Reference columns written by sgdpo ref-logps.
    static final String CHOSEN_REF_LOGPS = "chosen_ref_logps";
    static final String REJECTED_REF_LOGPS = "rejected_ref_logps";

    /** The pairs of one split with their per-token reference log-probs (a ref-logps output). */
    public static JavaRDD<PairExample> readWithReference(SparkSession spark, String dir, String split) {
        Path pairs = new Path(dir, PairSchema.PAIRS_DIR);
        requireExists(spark, pairs, "pair shards");
        Dataset<Row> all = spark.read().parquet(pairs.toString());
        for (String column : new String[] {CHOSEN_REF_LOGPS, REJECTED_REF_LOGPS}) {
            if (!java.util.Arrays.asList(all.columns()).contains(column)) {
                throw new IllegalArgumentException(dir + " has no reference log-probs (column " + column
                        + "): run sgdpo ref-logps on it first");
            }
        }
        Dataset<Row> rows = all.where(functions.col(PairSchema.SPLIT).equalTo(split))
                .select(PairSchema.PAIR_ID, PairSchema.PROMPT_IDS, PairSchema.CHOSEN_IDS, PairSchema.REJECTED_IDS,
                        CHOSEN_REF_LOGPS, REJECTED_REF_LOGPS);
        return rows.javaRDD().map(r -> new PairExample(r.getString(0), PairSchema.ids(r, PairSchema.PROMPT_IDS),
                PairSchema.ids(r, PairSchema.CHOSEN_IDS), PairSchema.ids(r, PairSchema.REJECTED_IDS),
                doubles(r, 4), doubles(r, 5)));
    }

    private static double[] doubles(Row r, int column) {
        java.util.List<Double> values = r.getList(column);
        double[] out = new double[values.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = values.get(i);
        }
        return out;
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
