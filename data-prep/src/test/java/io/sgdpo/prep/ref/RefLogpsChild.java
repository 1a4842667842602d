package io.sgdpo.prep.ref;

import java.util.HashMap;
import java.util.Map;
import org.apache.spark.sql.SparkSession;

/**
 * Runs {@link RefLogpsJob} in a child JVM (local[1], one shard at a time) for the kill-and-rerun
 * test: {@code RefLogpsChild DATA MODEL OUTPUT}.
 */
public final class RefLogpsChild {

    private RefLogpsChild() {
    }

    public static void main(String[] args) {
        SparkSession spark = RefFixture.spark("local[1]");
        try {
            Map<String, String> overrides = new HashMap<>(RefFixture.REF);
            overrides.put("ref.concurrentShards", "1");
            RefLogpsJob.run(spark, args[0], args[1], args[2], RefFixture.config(overrides));
        } finally {
            spark.stop();
        }
        System.exit(0);
    }
}
