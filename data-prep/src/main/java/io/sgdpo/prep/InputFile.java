package io.sgdpo.prep;

import java.io.Serializable;

/**
 * One resolved input file with what the manifest records about it.
 *
 * @param index   position among all inputs (command-line order, then sorted within a folder);
 *                the earlier of two duplicate records is the one kept
 * @param path    fully qualified Hadoop path
 * @param name    file name, stored in the pairs' {@code source} column
 * @param size    length in bytes as stored (compressed for .gz)
 * @param sha256  checksum of the stored bytes
 * @param parquet true for Parquet, false for JSONL (plain or compressed)
 * @param format  PAIRS or HH, from config or detected
 */
public record InputFile(int index, String path, String name, long size, String sha256, boolean parquet,
                        InputFormat format) implements Serializable {
}
