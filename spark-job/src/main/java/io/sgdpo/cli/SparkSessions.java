package io.sgdpo.cli;

import io.sgdpo.output.LocalFiles;
import java.util.Map;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

/**
 * The Spark session of every {@code sgdpo} command that runs Spark, and of the benchmarks, which
 * measure what the product runs.
 */
public final class SparkSessions {

    private SparkSessions() {
    }

    /**
     * The session: spark.* settings of {@code overrides} apply; without a master from there or from
     * spark-submit, the job runs in local mode on every core. On a cluster the executors get each
     * task's share of native threads ({@link TaskThreads}). Local files go through {@link LocalFiles}
     * unless the configuration names another class for them.
     */
    public static SparkSession start(String appName, Map<String, String> overrides) {
        SparkConf conf = new SparkConf().setAppName(appName);
        overrides.forEach((k, v) -> {
            if (k.startsWith("spark.")) {
                conf.set(k, v);
            }
        });
        if (!conf.contains("spark.master")) {
            conf.setMaster("local[*]");
        }
        conf.setIfMissing(LocalFiles.SPARK_KEY, LocalFiles.class.getName());
        TaskThreads.forExecutors(conf);
        return SparkSession.builder().config(conf).getOrCreate();
    }
}
