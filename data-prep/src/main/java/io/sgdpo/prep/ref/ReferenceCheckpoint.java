package io.sgdpo.prep.ref;

import io.sgdpo.checkpoint.Checkpoints;
import io.sgdpo.nn.Decoder;
import io.sgdpo.nn.DecoderConfig;
import io.sgdpo.nn.PositionEmbedding;
import io.sgdpo.nn.TransformerBlock;
import io.sgdpo.prep.PrepException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Optional;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.FeedForwardLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * The reference checkpoint as the driver sees it: its identity (SHA-256 of {@code model.zip}, see
 * {@link Checkpoints#identity}), the bytes to broadcast, and the decoder sizes read from the graph
 * configuration inside the file, so that the sequence length and vocabulary always match the
 * parameters rather than whatever {@code model.*} says.
 *
 * @param path      qualified checkpoint directory
 * @param identity  hex SHA-256 of its model file
 * @param bytes     the model file
 * @param decoder   sizes of the decoder (dropout and seed are not needed for scoring and read as 0 and the graph seed)
 * @param dataType  data type of the network's parameters
 */
public record ReferenceCheckpoint(Path path, String identity, byte[] bytes, DecoderConfig decoder,
                                  DataType dataType) {

    /** Reads and checks a checkpoint directory given as a Hadoop URI or local path. */
    public static ReferenceCheckpoint open(String uri, Configuration hconf) {
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
                        + Checkpoints.MODEL + " and " + Checkpoints.STATE + ")");
            }
            if (!fs.exists(new Path(path, Checkpoints.MODEL)) || !fs.exists(new Path(path, Checkpoints.STATE))) {
                Optional<Path> latest = new Checkpoints(fs, path).latest();
                throw new PrepException("Checkpoint " + uri + " is not a checkpoint: it lacks " + Checkpoints.MODEL
                        + " or " + Checkpoints.STATE
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
            return new ReferenceCheckpoint(path, identity, bytes, decoderOf(conf, uri), conf.getDataType());
        } catch (IOException e) {
            throw new PrepException("Cannot read checkpoint " + uri + ": " + e.getMessage(), e);
        }
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

    /** The decoder sizes of a graph built by {@link Decoder#configuration}. */
    static DecoderConfig decoderOf(ComputationGraphConfiguration conf, String uri) {
        Layer pos = layer(conf, "pos");
        Layer head = layer(conf, Decoder.OUTPUT);
        if (!(pos instanceof PositionEmbedding p) || !(head instanceof FeedForwardLayer lm)) {
            throw new PrepException("Checkpoint " + uri + " does not hold an sgdpo decoder (no position embedding '"
                    + "pos' or output layer '" + Decoder.OUTPUT + "')");
        }
        int layers = 0;
        int heads = 0;
        for (int i = 0; layer(conf, "block" + i) instanceof TransformerBlock b; i++) {
            layers++;
            heads = b.getHeads();
        }
        return new DecoderConfig((int) lm.getNOut(), p.getModelWidth(), layers, heads, p.getLength(), 0.0,
                conf.getDefaultConfiguration().getSeed());
    }

    private static Layer layer(ComputationGraphConfiguration conf, String name) {
        GraphVertex v = conf.getVertices().get(name);
        return v instanceof LayerVertex lv ? lv.getLayerConf().getLayer() : null;
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
