package io.sgdpo.prep;

import io.sgdpo.config.ConfigurationException;

import java.util.Locale;

/** How the records of one input file are laid out (see {@code prep.format}). */
public enum InputFormat {
    /** Decide per file from its first record (or Parquet schema). */
    AUTO,
    /** prompt / chosen / rejected fields; responses are strings or chat message lists. */
    PAIRS,
    /** HH-RLHF: chosen and rejected are whole transcripts, split at the last "\n\nAssistant:". */
    HH;

    /** Parses the {@code prep.format} value, naming the key on error. */
    public static InputFormat parse(String value) {
        try {
            return valueOf(value.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new ConfigurationException("prep.format: '" + value + "' is not one of auto, pairs, hh");
        }
    }
}
