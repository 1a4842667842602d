package io.sgdpo.prep.ref;

import io.sgdpo.checkpoint.Checkpoints;
import io.sgdpo.checkpoint.ModelZip;
import io.sgdpo.hf.HfModels;
import io.sgdpo.hf.HfOrigin;
import io.sgdpo.nn.LanguageModels;
import io.sgdpo.nn.ModelShape;
import io.sgdpo.prep.PrepException;
import io.sgdpo.prep.tokenize.ModelTokenizer;
import io.sgdpo.prep.tokenize.TokenizerMatch;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Optional;
import java.util.Properties;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * The reference model as the driver sees it: its identity (a checkpoint's SHA-256 of
 * {@code model.zip}, see {@link Checkpoints#identity}; a Hugging Face folder's import identity), the
 * DL4J model bytes to broadcast, the sizes read from the graph configuration inside them (so that
 * the sequence length and vocabulary always match the parameters rather than whatever
 * {@code model.*} says), and what tells which tokenizer the model reads.
 *
 * @param path              qualified checkpoint directory or Hugging Face folder
 * @param identity          hex SHA-256 identifying the weights
 * @param bytes             the DL4J model file (for a Hugging Face folder: its import, serialised)
 * @param shape             sizes of the model
 * @param dataType          data type of the network's parameters
 * @param tokenizerJson     the tokenizer.json the model came with (Hugging Face origin), or null
 * @param recordedTokenizer the tokenizer identity a checkpoint's training state recorded, or null
 */
public record ReferenceCheckpoint(Path path, String identity, byte[] bytes, ModelShape shape, DataType dataType,
                                  byte[] tokenizerJson, String recordedTokenizer) {

    /**
     * Reads and checks a checkpoint directory or a Hugging Face folder given as a Hadoop URI or local
     * path; a Hugging Face folder is built for the sequence length {@code maxLength}.
     */
    public static ReferenceCheckpoint open(String uri, Configuration hconf, int maxLength) {
        Path path;
        FileSystem fs;
        try {
            path = new Path(uri);
            fs = path.getFileSystem(hconf);
            path = fs.makeQualified(path);
            if (!fs.exists(path)) {
                throw new PrepException("Checkpoint " + uri + " does not exist");
            }
            if (!fs.getFileStatus(path).isDirectory()) {
                throw new PrepException("Checkpoint " + uri + " is not a checkpoint directory (a folder holding "
                        + Checkpoints.MODEL + " and " + Checkpoints.STATE + ") nor a Hugging Face model folder");
            }
            if (HfModels.isHfFolder(fs, path)) {
                return imported(fs, path, maxLength);
            }
            if (!fs.exists(new Path(path, Checkpoints.MODEL)) || !fs.exists(new Path(path, Checkpoints.STATE))) {
                Optional<Path> latest = new Checkpoints(fs, path).latest();
                throw new PrepException("Checkpoint " + uri + " is not a checkpoint: it lacks " + Checkpoints.MODEL
                        + " or " + Checkpoints.STATE + " (and it is no Hugging Face folder: no config.json)"
                        + latest.map(p -> "; it holds checkpoints, the latest being " + p).orElse(""));
            }
            byte[] bytes;
            Path model = new Path(path, Checkpoints.MODEL);
            long size = fs.getFileStatus(model).getLen();
            if (size > Integer.MAX_VALUE - 64) {
                throw new PrepException("Checkpoint " + uri + ": " + Checkpoints.MODEL + " of " + size
                        + " bytes is too large to broadcast as one array");
            }
            try (InputStream in = fs.open(model)) {
                bytes = in.readAllBytes();
            }
            String identity = Checkpoints.identity(fs, path);
            if (!identity.equals(sha256(bytes))) {
                throw new PrepException("Checkpoint " + uri + " changed while it was being read");
            }
            ComputationGraphConfiguration conf = configuration(bytes, uri);
            Path originDir = new Path(path, Checkpoints.ORIGIN);
            HfOrigin origin = fs.isDirectory(originDir) ? HfOrigin.read(fs, originDir) : null;
            return new ReferenceCheckpoint(path, identity, bytes, shapeOf(conf, uri), conf.getDataType(),
                    origin == null ? null : origin.file(ModelTokenizer.TOKENIZER_JSON),
                    recordedTokenizer(fs, new Path(path, Checkpoints.STATE)));
        } catch (IOException e) {
            throw new PrepException("Cannot read checkpoint " + uri + ": " + e.getMessage(), e);
        }
    }

    /** A Hugging Face folder, imported on the driver and serialised as a DL4J model for the executors. */
    private static ReferenceCheckpoint imported(FileSystem fs, Path path, int maxLength) throws IOException {
        HfModels.Imported model = HfModels.load(fs, path, maxLength);
        ByteArrayOutputStream zip = new ByteArrayOutputStream();
        ModelZip.write(model.graph(), zip, false);
        ComputationGraphConfiguration conf = model.graph().getConfiguration();
        return new ReferenceCheckpoint(path, model.identity(), zip.toByteArray(), LanguageModels.describe(conf),
                conf.getDataType(), model.origin().file(ModelTokenizer.TOKENIZER_JSON), null);
    }

    /** The tokenizer identity recorded in a checkpoint's training state, or null. */
    private static String recordedTokenizer(FileSystem fs, Path state) throws IOException {
        Properties p = new Properties();
        try (InputStream in = fs.open(state)) {
            p.load(new java.io.InputStreamReader(in, StandardCharsets.UTF_8));
        }
        return p.getProperty("extra." + TokenizerMatch.STATE_KEY);
    }

    /** The graph configuration stored in a DL4J model file, without loading the parameters. */
    static ComputationGraphConfiguration configuration(byte[] modelZip, String uri) throws IOException {
        try (ZipInputStream zip = new ZipInputStream(new ByteArrayInputStream(modelZip))) {
            for (ZipEntry e = zip.getNextEntry(); e != null; e = zip.getNextEntry()) {
                if (ModelSerializer.CONFIGURATION_JSON.equals(e.getName())) {
                    String json = new String(zip.readAllBytes(), StandardCharsets.UTF_8);
                    try {
                        return ComputationGraphConfiguration.fromJson(json);
                    } catch (RuntimeException ex) {
                        throw new PrepException("Checkpoint " + uri + ": " + Checkpoints.MODEL
                                + " does not hold a ComputationGraph configuration: " + ex.getMessage(), ex);
                    }
                }
            }
        } catch (java.util.zip.ZipException e) {
            throw new PrepException("Checkpoint " + uri + ": " + Checkpoints.MODEL + " is not a DL4J model file ("
                    + e.getMessage() + ")", e);
        }
        throw new PrepException("Checkpoint " + uri + ": " + Checkpoints.MODEL + " is not a DL4J model file (no "
                + ModelSerializer.CONFIGURATION_JSON + ")");
    }

    /** The sizes of a graph built by this project, whatever its architecture. */
    static ModelShape shapeOf(ComputationGraphConfiguration conf, String uri) {
        try {
            return LanguageModels.describe(conf);
        } catch (IllegalArgumentException e) {
            throw new PrepException("Checkpoint " + uri + " does not hold an sgdpo model: " + e.getMessage(), e);
        }
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
