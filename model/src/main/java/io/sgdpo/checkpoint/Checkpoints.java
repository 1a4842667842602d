package io.sgdpo.checkpoint;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import io.sgdpo.hf.HfOrigin;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Checkpoints of a model under a directory on any Hadoop file system (file://, hdfs://, ...).
 *
 * <p>Each checkpoint is a directory {@code step-NNNNNNNNNN} holding {@code model.zip} (DL4J's
 * format: configuration, parameters and optimizer state; {@link ModelZip}), {@code state.properties}
 * ({@link TrainingState}) and, for a model imported from Hugging Face, {@code origin/} (its
 * {@link HfOrigin}: configuration and tokenizer files, so that it can be exported again). It is
 * written completely under a temporary name ({@code _tmp-...}) and
 * then renamed, so a crash never leaves a partial checkpoint under a final name, and
 * {@link #latest} only ever sees complete ones.
 */
public final class Checkpoints {

    /** The model file inside a checkpoint directory. */
    public static final String MODEL = "model.zip";
    /** The training-state file inside a checkpoint directory. */
    public static final String STATE = "state.properties";
    /** The folder of a checkpoint's Hugging Face origin, when it has one. */
    public static final String ORIGIN = "origin";
    private static final Pattern NAME = Pattern.compile("step-(\\d{10})");

    private final FileSystem fs;
    private final Path root;

    public Checkpoints(FileSystem fs, Path root) {
        this.fs = fs;
        this.root = root;
    }

    /** Checkpoints under a directory given as a Hadoop URI or local path. */
    public static Checkpoints at(String uri, Configuration conf) throws IOException {
        Path root = new Path(uri);
        return new Checkpoints(root.getFileSystem(conf), root);
    }

    /**
     * A model with its training state, as loaded.
     *
     * @param origin the Hugging Face folder the model came from, or null
     */
    public record Loaded(ComputationGraph graph, TrainingState state, Path path, HfOrigin origin) {
    }

    /** Writes a checkpoint of a model without Hugging Face origin for {@code state.step()}; returns its directory. */
    public Path save(ComputationGraph graph, TrainingState state) throws IOException {
        return save(graph, state, null);
    }

    /**
     * Writes a checkpoint for {@code state.step()} and returns its directory.
     *
     * @param origin the Hugging Face folder the model came from (kept for export), or null
     */
    public Path save(ComputationGraph graph, TrainingState state, HfOrigin origin) throws IOException {
        Path target = new Path(root, String.format("step-%010d", state.step()));
        Path tmp = new Path(root, "_tmp-" + target.getName() + "-" + UUID.randomUUID());
        fs.mkdirs(tmp);
        try {
            try (OutputStream out = fs.create(new Path(tmp, MODEL), false)) {
                ModelZip.write(graph, out, true);
            }
            try (OutputStream out = fs.create(new Path(tmp, STATE), false)) {
                state.write(out);
            }
            if (origin != null) {
                origin.write(fs, new Path(tmp, ORIGIN));
            }
            if (fs.exists(target)) { // the same step saved again: the new copy replaces the old
                fs.delete(target, true);
            }
            if (!fs.rename(tmp, target)) {
                throw new IOException("could not rename " + tmp + " to " + target);
            }
            return target;
        } finally {
            if (fs.exists(tmp)) {
                fs.delete(tmp, true);
            }
        }
    }

    /** The complete checkpoint with the highest step, if any. */
    public Optional<Path> latest() throws IOException {
        if (!fs.exists(root)) {
            return Optional.empty();
        }
        Path best = null;
        long bestStep = -1;
        for (FileStatus s : fs.listStatus(root)) {
            Matcher m = NAME.matcher(s.getPath().getName());
            if (s.isDirectory() && m.matches() && Long.parseLong(m.group(1)) > bestStep
                    && fs.exists(new Path(s.getPath(), MODEL)) && fs.exists(new Path(s.getPath(), STATE))) {
                bestStep = Long.parseLong(m.group(1));
                best = s.getPath();
            }
        }
        return Optional.ofNullable(best);
    }

    /** The latest complete checkpoint, loaded, if any. */
    public Optional<Loaded> loadLatest() throws IOException {
        Optional<Path> latest = latest();
        return latest.isPresent() ? Optional.of(load(fs, latest.get())) : Optional.empty();
    }

    /** Loads a checkpoint directory (with optimizer state) and restores ND4J's random seed. */
    public static Loaded load(FileSystem fs, Path checkpoint) throws IOException {
        Path model = new Path(checkpoint, MODEL);
        Path state = new Path(checkpoint, STATE);
        if (!fs.exists(model) || !fs.exists(state)) {
            throw new IOException("not a complete checkpoint: " + checkpoint + " (needs " + MODEL + " and " + STATE + ")");
        }
        ComputationGraph graph;
        try (InputStream in = fs.open(model)) {
            graph = readModel(in, true);
        }
        TrainingState training;
        try (InputStream in = fs.open(state)) {
            training = TrainingState.read(in, state.toString());
        }
        Path originDir = new Path(checkpoint, ORIGIN);
        HfOrigin origin = fs.isDirectory(originDir) ? HfOrigin.read(fs, originDir) : null;
        Nd4j.getRandom().setSeed(training.rngSeed());
        return new Loaded(graph, training, checkpoint, origin);
    }

    /**
     * Reads a checkpoint's {@code model.zip} from a stream (e.g. bytes broadcast to executors);
     * {@code withUpdater} restores the optimizer state too, which inference does not need.
     */
    public static ComputationGraph readModel(InputStream modelZip, boolean withUpdater) throws IOException {
        io.sgdpo.nn.Decoder.silenceSameDiffLog();
        return ModelZip.read(modelZip, withUpdater);
    }

    /** Loads a checkpoint given as a Hadoop URI or local path. */
    public static Loaded load(String uri, Configuration conf) throws IOException {
        Path path = new Path(uri);
        return load(path.getFileSystem(conf), path);
    }

    /** SHA-256 of a checkpoint's model file: its identity in manifests. */
    public static String identity(FileSystem fs, Path checkpoint) throws IOException {
        try (InputStream in = new DigestInputStream(fs.open(new Path(checkpoint, MODEL)),
                MessageDigest.getInstance("SHA-256"))) {
            byte[] buffer = new byte[1 << 16];
            while (in.read(buffer) >= 0) {
                // the digest stream hashes as it reads
            }
            return HexFormat.of().formatHex(((DigestInputStream) in).getMessageDigest().digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
