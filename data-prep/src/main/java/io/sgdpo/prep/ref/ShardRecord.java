package io.sgdpo.prep.ref;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sgdpo.output.AtomicOutput;
import io.sgdpo.prep.PairSchema;
import java.io.IOException;
import java.io.InputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * {@code _shards/S.json}: the record that output shard S is complete. Written (under a temporary
 * name, then renamed) only after the shard's file is in place, so a shard counts as complete only
 * when both exist and agree: same run fingerprint, same input file size, output file of the
 * recorded size.
 *
 * @param shard          file name of the input shard (and of its output shard)
 * @param fingerprint    the run's fingerprint (input manifest, checkpoint, batch size)
 * @param checkpoint     SHA-256 of the checkpoint's model file
 * @param inputBytes     size of the input shard
 * @param rows           pairs in it (input = output)
 * @param outputBytes    size of the output shard
 * @param promptTokens   prompt ids in the shard
 * @param responseTokens chosen + rejected ids scored
 * @param millis         wall time of scoring and writing it
 */
record ShardRecord(String shard, String fingerprint, String checkpoint, long inputBytes, long rows,
                   long outputBytes, long promptTokens, long responseTokens, long millis) {

    private static final ObjectMapper JSON = new ObjectMapper();

    void write(FileSystem fs, Path work, String tmpPrefix) throws IOException {
        ObjectNode n = JSON.valueToTree(this);
        Path dir = new Path(work, RefLogpsJob.SHARDS_DIR);
        Path tmp = new Path(dir, tmpPrefix + shard + ".json");
        AtomicOutput.writeString(fs, tmp, n.toString());
        Path target = new Path(dir, shard + ".json");
        fs.delete(target, false);
        if (!fs.rename(tmp, target)) {
            throw new IOException("Cannot rename " + tmp + " to " + target);
        }
    }

    /** The record of an input shard when it and its output shard are complete for this fingerprint, else null. */
    static ShardRecord readIfComplete(FileSystem fs, Path work, FileStatus input, String fingerprint) {
        String name = input.getPath().getName();
        try {
            Path file = new Path(new Path(work, RefLogpsJob.SHARDS_DIR), name + ".json");
            if (!fs.exists(file)) {
                return null;
            }
            JsonNode n;
            try (InputStream in = fs.open(file)) {
                n = JSON.readTree(in.readAllBytes());
            }
            ShardRecord r = JSON.treeToValue(n, ShardRecord.class);
            Path output = new Path(new Path(work, PairSchema.PAIRS_DIR), name);
            boolean ok = fingerprint.equals(r.fingerprint()) && name.equals(r.shard())
                    && r.inputBytes() == input.getLen() && fs.exists(output)
                    && fs.getFileStatus(output).getLen() == r.outputBytes();
            return ok ? r : null;
        } catch (IOException | RuntimeException e) {
            return null; // unreadable record: the shard is recomputed
        }
    }
}
