package io.sgdpo.output;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.UUID;

/**
 * How every stage writes its output: a directory that is built under a temporary sibling name and renamed into place only
 * when complete. A crash before {@link #commit()} leaves the previous output untouched (plus a
 * hidden {@code .NAME.tmp-*} sibling that the next run does not read).
 *
 * <p>Replacing a directory takes two renames (old aside, new in); Hadoop file systems have no
 * atomic directory swap. Between them the output is briefly absent, never half-written.
 */
public final class AtomicOutput {
    private static final Logger LOG = LoggerFactory.getLogger(AtomicOutput.class);

    private final FileSystem fs;
    private final Path target;
    private final Path tmp;
    private boolean done;

    private AtomicOutput(FileSystem fs, Path target, Path tmp) {
        this.fs = fs;
        this.target = target;
        this.tmp = tmp;
    }

    /**
     * Fails unless {@code target} is absent, empty, or holds {@code marker}: an earlier output of
     * the same kind, which a commit may replace as a whole. Anything else would be deleted by it.
     *
     * @param what what the output is, for the message (e.g. "a study report")
     */
    public static void requireReplaceable(FileSystem fs, Path target, String marker, String what)
            throws IOException {
        if (fs.exists(target) && fs.listStatus(target).length > 0 && !fs.isFile(new Path(target, marker))) {
            throw new IOException("output " + target + " exists and is not " + what + " (no " + marker
                    + "); it would be replaced as a whole: choose another --output");
        }
    }

    /** Where an output goes: its file system and its path qualified on it. */
    public record Location(FileSystem fs, Path path) {
    }

    /**
     * {@code output} (a Hadoop URI or a local path) on its file system, qualified, e.g.
     * {@code file:/...} or {@code hdfs://namenode/...}: how every stage names what it writes.
     *
     * @throws UncheckedIOException naming {@code output} when it is not a path or its file system
     *                              cannot be reached
     */
    public static Location locate(String output, Configuration hadoop) {
        try {
            Path path = new Path(output);
            FileSystem fs = path.getFileSystem(hadoop);
            return new Location(fs, fs.makeQualified(path));
        } catch (IOException | IllegalArgumentException e) {
            throw new UncheckedIOException("Cannot open output " + output + ": " + e.getMessage(),
                    e instanceof IOException io ? io : new IOException(e));
        }
    }

    /** Reserves a temporary directory beside {@code target}. */
    public static AtomicOutput begin(FileSystem fs, Path target) {
        Path parent = target.getParent();
        if (parent == null) {
            throw new IllegalArgumentException("Output must not be a file system root: " + target);
        }
        Path tmp = new Path(parent, "." + target.getName() + ".tmp-" + UUID.randomUUID());
        try {
            fs.mkdirs(parent);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot create output parent " + parent + ": " + e.getMessage(), e);
        }
        return new AtomicOutput(fs, target, tmp);
    }

    /**
     * Like {@link #begin}, but the temporary directory has a fixed name ({@code .NAME.SUFFIX}) that
     * a rerun finds again: for jobs that resume from what an interrupted run left there. It stays
     * hidden until {@link #commit()}, so a partial output never appears under the target name.
     */
    public static AtomicOutput resumable(FileSystem fs, Path target, String suffix) {
        Path parent = target.getParent();
        if (parent == null) {
            throw new IllegalArgumentException("Output must not be a file system root: " + target);
        }
        try {
            fs.mkdirs(parent);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot create output parent " + parent + ": " + e.getMessage(), e);
        }
        return new AtomicOutput(fs, target, new Path(parent, "." + target.getName() + "." + suffix));
    }

    /** Where to write until commit. */
    public Path tmp() {
        return tmp;
    }

    /** Moves the finished temporary directory to the target, replacing any previous output. */
    public void commit() throws IOException {
        Path old = null;
        if (fs.exists(target)) {
            old = new Path(target.getParent(), "." + target.getName() + ".old-" + UUID.randomUUID());
            if (!fs.rename(target, old)) {
                throw new IOException("Cannot move previous output " + target + " aside to " + old);
            }
        }
        if (!fs.rename(tmp, target)) {
            if (old != null) {
                fs.rename(old, target);
            }
            throw new IOException("Cannot rename " + tmp + " to " + target);
        }
        done = true;
        if (old != null && !fs.delete(old, true)) {
            LOG.warn("Could not delete previous output moved aside to {}", old);
        }
    }

    /** Leaves the temporary directory in place for inspection (a failed run's rejects). */
    public void keep() {
        done = true;
    }

    /** Deletes the temporary directory unless it was committed or kept. */
    public void abortIfNotCommitted() {
        if (!done) {
            try {
                fs.delete(tmp, true);
            } catch (IOException e) {
                LOG.warn("Could not delete temporary output {}", tmp, e);
            }
        }
    }

    /**
     * Writes a small text file under a temporary name and renames it over {@code path}, so a reader
     * sees the old or the new content, never a partial one (the old file is removed just before the
     * rename: on HDFS a rename does not replace).
     */
    public static void replaceString(FileSystem fs, Path path, String text) throws IOException {
        Path tmp = new Path(path.getParent(), "_tmp-" + path.getName());
        try (FSDataOutputStream out = fs.create(tmp, true)) {
            out.write(text.getBytes(StandardCharsets.UTF_8));
        }
        if (fs.exists(path)) {
            fs.delete(path, false);
        }
        if (!fs.rename(tmp, path)) {
            throw new IOException("could not rename " + tmp + " to " + path);
        }
    }

    /** Writes a small UTF-8 file that must not exist yet (inside a temporary output folder). */
    public static void writeString(FileSystem fs, Path path, String text) throws IOException {
        try (FSDataOutputStream out = fs.create(path, false)) {
            out.write(text.getBytes(StandardCharsets.UTF_8));
        }
    }
}
