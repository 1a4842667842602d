package io.sgdpo.train;

import com.typesafe.config.Config;
import io.sgdpo.prep.ref.RefLogpsJob;
import java.io.File;
import java.io.PrintStream;
import java.util.Map;
import org.apache.spark.sql.SparkSession;

/**
 * A prepared HH slice, an SFT reference trained on it, and its shards with reference log-probs
 * from the real ref-logps job: what every training test starts from.
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
        SftJob.Result sft = SftJob.run(spark, prep, null, sftRun, config, false, new PrintStream(System.out));
        String data = new File(work, "ref").getAbsolutePath();
        RefLogpsJob.run(spark, prep, sft.checkpoint().toString(), data, config);
        return new TrainFixture(config, prep, sft.checkpoint().toString(), data);
    }
}
