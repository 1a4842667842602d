package io.sgdpo.prep.ref;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import io.sgdpo.config.ConfigurationException;

/**
 * The {@code ref.*} settings of the reference log-prob pass (documented in data-prep's reference.conf).
 *
 * @param batchSize        pairs per forward pass (2 x batchSize rows)
 * @param concurrentShards shards scored at once; 0 = Spark's default parallelism
 */
public record RefSettings(int batchSize, int concurrentShards) {

    public RefSettings {
        if (batchSize < 1) {
            throw new ConfigurationException("ref.batchSize must be >= 1, got " + batchSize);
        }
        if (concurrentShards < 0) {
            throw new ConfigurationException("ref.concurrentShards must be >= 0 (0 = Spark's default parallelism), got "
                    + concurrentShards);
        }
    }

    /** Reads the {@code ref} block; a value of the wrong type is an error naming its key. */
    public static RefSettings from(Config config) {
        try {
            return new RefSettings(config.getInt("ref.batchSize"), config.getInt("ref.concurrentShards"));
        } catch (ConfigException e) {
            throw new ConfigurationException("Bad ref.* setting: " + e.getMessage(), e);
        }
    }
}
