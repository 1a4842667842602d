package io.sgdpo.prep;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import io.sgdpo.config.ConfigurationException;

import java.io.Serializable;

/**
 * The typed, range-checked {@code prep.*} and {@code tokenizer.vocabSize} settings. Every problem is
 * reported with the key that caused it.
 */
public record PrepSettings(InputFormat format, String promptField, String chosenField, String rejectedField,
                           double evalFraction, int maxPromptLength, int maxTotalLength,
                           double maxRejectFraction, long shardTargetBytes, int partitions,
                           int vocabSize) implements Serializable {

    /** Reads and validates the settings. */
    public static PrepSettings from(Config c) {
        try {
            PrepSettings s = new PrepSettings(
                    InputFormat.parse(c.getString("prep.format")),
                    nonBlank(c, "prep.fields.prompt"),
                    nonBlank(c, "prep.fields.chosen"),
                    nonBlank(c, "prep.fields.rejected"),
                    c.getDouble("prep.evalFraction"),
                    c.getInt("prep.maxPromptLength"),
                    c.getInt("prep.maxTotalLength"),
                    c.getDouble("prep.maxRejectFraction"),
                    c.getBytes("prep.shardTargetBytes"),
                    c.getInt("prep.partitions"),
                    c.getInt("tokenizer.vocabSize"));
            check(s.evalFraction >= 0 && s.evalFraction < 1, "prep.evalFraction", "must be in [0, 1)", s.evalFraction);
            check(s.maxPromptLength >= 1, "prep.maxPromptLength", "must be >= 1", s.maxPromptLength);
            check(s.maxTotalLength >= 2, "prep.maxTotalLength", "must be >= 2", s.maxTotalLength);
            check(s.maxRejectFraction >= 0 && s.maxRejectFraction <= 1, "prep.maxRejectFraction",
                    "must be in [0, 1]", s.maxRejectFraction);
            check(s.shardTargetBytes >= 1024, "prep.shardTargetBytes", "must be >= 1024", s.shardTargetBytes);
            check(s.partitions >= 0, "prep.partitions", "must be >= 0", s.partitions);
            check(s.vocabSize >= 0, "tokenizer.vocabSize", "must be >= 0", s.vocabSize);
            return s;
        } catch (ConfigException e) {
            // Typesafe's messages already name the key and where its value came from.
            throw new ConfigurationException(e.getMessage(), e);
        }
    }

    /** A parser for these field names. */
    public RecordParser parser() {
        return new RecordParser(promptField, chosenField, rejectedField);
    }

    private static String nonBlank(Config c, String key) {
        String v = c.getString(key);
        if (v.isBlank()) {
            throw new ConfigurationException(key + " must not be empty");
        }
        return v;
    }

    private static void check(boolean ok, String key, String rule, Object value) {
        if (!ok) {
            throw new ConfigurationException(key + " " + rule + ", got " + value);
        }
    }
}
