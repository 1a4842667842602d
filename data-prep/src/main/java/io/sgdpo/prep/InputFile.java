package io.sgdpo.prep;

import java.io.Serializable;

/**
 * One resolved input file with what the manifest records about it.
 *
 * @param index     position among all inputs: the {@code --input} files first (command-line order,
 *                  then sorted within a folder), then the {@code --eval-input} files in the same way
 * @param path      fully qualified Hadoop path
 * @param name      file name, stored in the pairs' {@code source} column
 * @param size      length in bytes as stored (compressed for .gz)
 * @param sha256    checksum of the stored bytes
 * @param parquet   true for Parquet, false for JSONL (plain or compressed)
 * @param format    PAIRS or HH, from config or detected
 * @param evalInput true for an eval input, whose pairs all go to the eval split; false for an
 *                  ordinary input, whose pairs are split by a hash of their id (see {@link SplitRule})
 */
public record InputFile(int index, String path, String name, long size, String sha256, boolean parquet,
                        InputFormat format, boolean evalInput) implements Serializable {

    /** The manifest's {@code role} of an ordinary input ({@code --input}). */
    public static final String ROLE_INPUT = "input";
    /** The manifest's {@code role} of an eval input ({@code --eval-input}). */
    public static final String ROLE_EVAL_INPUT = "eval-input";

    /** {@link #ROLE_EVAL_INPUT} or {@link #ROLE_INPUT}, as the manifest records it. */
    public String role() {
        return evalInput ? ROLE_EVAL_INPUT : ROLE_INPUT;
    }
}
