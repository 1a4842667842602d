package io.sgdpo.train;

import com.typesafe.config.Config;
import io.sgdpo.checkpoint.Checkpoints;
import io.sgdpo.nn.PairExample;
import io.sgdpo.nn.PairedBatch;
import io.sgdpo.nn.SequenceLogProbs;
import io.sgdpo.prep.PairSchema;
import java.io.File;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * A prepared HH slice, an SFT reference trained on it, and its shards with reference log-probs:
 * what every training test starts from.
 */
final class TrainFixture {

    final Config config;
    final String prep;
    final String reference;
    final String data;

    private TrainFixture(Config config, String prep, String reference, String data) {
        this.config = config;
        this.prep = prep;
        this.reference = reference;
        this.data = data;
    }

    static TrainFixture create(SparkSession spark, File work, int records, Map<String, String> overrides)
            throws Exception {
        Config config = HhSlice.prep(spark, work, records, overrides);
        String prep = new File(work, "prep").getAbsolutePath();
        String sftRun = new File(work, "sft").getAbsolutePath();
        SftJob.Result sft = SftJob.run(spark, prep, sftRun, config, false, new PrintStream(System.out));
        String data = new File(work, "ref").getAbsolutePath();
        writeReference(spark, prep, sft.checkpoint().toString(), data);
        return new TrainFixture(config, prep, sft.checkpoint().toString(), data);
    }

    /** Prep shards plus per-token reference log-probs of the checkpoint, computed in-process. */
    static void writeReference(SparkSession spark, String prep, String checkpoint, String out) throws Exception {
        var graph = Checkpoints.load(checkpoint, new Configuration()).graph();
        int length = io.sgdpo.nn.Decoder.describe(graph.getConfiguration(), 0, 0).maxLength();
        PairedBatch layout = new PairedBatch(length, io.sgdpo.prep.tokenize.Vocabulary.PAD_ID);
        StructType schema = PairSchema.PAIRS
                .add(PairShards.CHOSEN_REF_LOGPS, DataTypes.createArrayType(DataTypes.DoubleType))
                .add(PairShards.REJECTED_REF_LOGPS, DataTypes.createArrayType(DataTypes.DoubleType));
        List<Row> rows = new ArrayList<>();
        for (String split : List.of(PairSchema.TRAIN, PairSchema.EVAL)) {
            List<PairExample> pairs = PairShards.read(spark, prep, split).collect();
            for (int from = 0; from < pairs.size(); from += 16) {
                List<PairExample> slice = pairs.subList(from, Math.min(pairs.size(), from + 16));
                var scored = SequenceLogProbs.of(graph, layout, slice);
                for (int i = 0; i < slice.size(); i++) {
                    PairExample p = slice.get(i);
                    rows.add(RowFactory.create(p.pairId(), split, "hh", boxed(p.prompt()), boxed(p.chosen()),
                            boxed(p.rejected()), p.prompt().length, p.chosen().length, p.rejected().length,
                            boxed(scored.get(i).policyChosen()), boxed(scored.get(i).policyRejected())));
                }
            }
        }
        Dataset<Row> table = spark.createDataFrame(rows, schema);
        table.coalesce(1).write().parquet(new File(out, PairSchema.PAIRS_DIR).getAbsolutePath());
        java.nio.file.Files.copy(new File(prep, PairSchema.VOCAB_FILE).toPath(),
                new File(out, PairSchema.VOCAB_FILE).toPath());
    }

    private static List<Integer> boxed(int[] values) {
        List<Integer> l = new ArrayList<>();
        for (int v : values) {
            l.add(v);
        }
        return l;
    }

    private static List<Double> boxed(double[] values) {
        List<Double> l = new ArrayList<>();
        for (double v : values) {
            l.add(v);
        }
        return l;
    }
}
