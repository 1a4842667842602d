package io.sgdpo.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sgdpo.nn.Decoder;
import io.sgdpo.nn.DecoderConfig;
import io.sgdpo.nn.SftLoss;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;

/**
 * ModelZip writes DL4J's model file, and reads it: byte for byte the entries ModelSerializer writes,
 * read back bit for bit by both. Exact throughout: a serialization format, no arithmetic.
 */
class ModelZipTest {

    /** A small decoder with Adam's state filled with values, as after training. */
    private static ComputationGraph model(DataType type, long seed) {
        ComputationGraph g = Decoder.create(new DecoderConfig(29, 8, 2, 2, 6, 0.0, seed), new SftLoss(),
                new Adam(1e-3), type);
        Nd4j.getRandom().setSeed(seed);
        INDArray state = g.getUpdater().getStateViewArray();
        state.assign(Nd4j.rand(type, state.shape()).subi(0.5));
        return g;
    }

    private static byte[] modelZip(ComputationGraph g, boolean withUpdater) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ModelZip.write(g, out, withUpdater);
        return out.toByteArray();
    }

    private static byte[] dl4jZip(ComputationGraph g, boolean withUpdater) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ModelSerializer.writeModel(g, out, withUpdater);
        return out.toByteArray();
    }

    private static Map<String, byte[]> entries(byte[] zip) throws IOException {
        Map<String, byte[]> out = new LinkedHashMap<>();
        try (ZipInputStream in = new ZipInputStream(new ByteArrayInputStream(zip))) {
            for (ZipEntry e = in.getNextEntry(); e != null; e = in.getNextEntry()) {
                out.put(e.getName(), in.readAllBytes());
            }
        }
        return out;
    }

    private static byte[] zipOf(Map<String, byte[]> entries) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(out)) {
            for (Map.Entry<String, byte[]> e : entries.entrySet()) {
                zip.putNextEntry(new ZipEntry(e.getKey()));
                zip.write(e.getValue());
            }
        }
        return out.toByteArray();
    }

    private static void assertSameModel(ComputationGraph expected, ComputationGraph actual, boolean withUpdater) {
        assertEquals(expected.getConfiguration().toJson(), actual.getConfiguration().toJson());
        assertEquals(expected.params().dataType(), actual.params().dataType());
        assertTrue(expected.params().equalsWithEps(actual.params(), 0), "parameters");
        if (withUpdater) {
            assertTrue(expected.getUpdater().getStateViewArray().equalsWithEps(actual.getUpdater().getStateViewArray(),
                    0), "optimizer state");
        }
    }

    @Test
    void entriesAreTheBytesModelSerializerWrites() throws IOException {
        for (DataType type : new DataType[] {DataType.FLOAT, DataType.DOUBLE}) {
            ComputationGraph g = model(type, 3);
            for (boolean withUpdater : new boolean[] {true, false}) {
                Map<String, byte[]> ours = entries(modelZip(g, withUpdater));
                Map<String, byte[]> theirs = entries(dl4jZip(g, withUpdater));
                assertEquals(theirs.keySet(), ours.keySet(), type + " " + withUpdater);
                for (String name : theirs.keySet()) {
                    assertArrayEquals(theirs.get(name), ours.get(name), type + " " + name);
                }
            }
        }
    }

    @Test
    void eitherWriterReadsBackBitForBitThroughEitherReader() throws IOException {
        for (DataType type : new DataType[] {DataType.FLOAT, DataType.DOUBLE}) {
            ComputationGraph g = model(type, 5);
            byte[] ours = modelZip(g, true);
            assertSameModel(g, ModelZip.read(new ByteArrayInputStream(ours), true), true);
            assertSameModel(g, ModelSerializer.restoreComputationGraph(new ByteArrayInputStream(ours), true), true);
            assertSameModel(g, ModelZip.read(new ByteArrayInputStream(dl4jZip(g, true)), true), true);

            // without the optimizer's state: the parameters only, the graph's own fresh state untouched
            ComputationGraph inference = ModelZip.read(new ByteArrayInputStream(ours), false);
            assertSameModel(g, inference, false);
            assertFalse(g.getUpdater().getStateViewArray().equalsWithEps(inference.getUpdater().getStateViewArray(),
                    0));
        }
    }

    /** Parameters and optimizer state of more than one bulk copy (2^20 values) each. */
    @Test
    void arraysLongerThanOneCopy() throws IOException {
        ComputationGraph g = Decoder.create(new DecoderConfig(4096, 128, 1, 2, 6, 0.0, 11), new SftLoss(),
                new Adam(1e-3), DataType.FLOAT);
        Nd4j.getRandom().setSeed(11);
        INDArray state = g.getUpdater().getStateViewArray();
        state.assign(Nd4j.rand(DataType.FLOAT, state.shape()));
        assertTrue(g.numParams() > 1 << 20, "parameters: " + g.numParams());
        byte[] ours = modelZip(g, true);
        Map<String, byte[]> theirs = entries(dl4jZip(g, true));
        entries(ours).forEach((name, bytes) -> assertArrayEquals(theirs.get(name), bytes, name));
        assertSameModel(g, ModelZip.read(new ByteArrayInputStream(ours), true), true);
    }

    @Test
    void leavesTheCallersStreamOpen() throws IOException {
        boolean[] closed = {false};
        ByteArrayOutputStream out = new ByteArrayOutputStream() {
            @Override
            public void close() {
                closed[0] = true;
            }
        };
        ModelZip.write(model(DataType.FLOAT, 1), out, false);
        assertFalse(closed[0]);
        assertNotNull(ModelZip.read(new ByteArrayInputStream(out.toByteArray()), false));
    }

    @Test
    void brokenFilesAreRefusedNamingWhatIsWrong() throws IOException {
        ComputationGraph g = model(DataType.FLOAT, 7);
        byte[] good = modelZip(g, true);
        Map<String, byte[]> entries = entries(good);

        IOException truncated = assertThrows(IOException.class,
                () -> ModelZip.read(new ByteArrayInputStream(java.util.Arrays.copyOf(good, good.length / 2)), true));
        assertTrue(truncated.getMessage().contains("not a complete DL4J model file"), truncated.getMessage());

        IOException notZip = assertThrows(IOException.class, () -> ModelZip.read(
                new ByteArrayInputStream("{\"not\": \"a zip\"}".getBytes(StandardCharsets.UTF_8)), true));
        assertTrue(notZip.getMessage().contains(ModelSerializer.CONFIGURATION_JSON), notZip.getMessage());

        Map<String, byte[]> noParams = new LinkedHashMap<>(entries);
        noParams.remove(ModelSerializer.COEFFICIENTS_BIN);
        IOException missing = assertThrows(IOException.class,
                () -> ModelZip.read(new ByteArrayInputStream(zipOf(noParams)), true));
        assertTrue(missing.getMessage().contains("no " + ModelSerializer.COEFFICIENTS_BIN), missing.getMessage());

        Map<String, byte[]> badJson = new LinkedHashMap<>(entries);
        badJson.put(ModelSerializer.CONFIGURATION_JSON, "{\"vertices\": [".getBytes(StandardCharsets.UTF_8));
        IOException json = assertThrows(IOException.class,
                () -> ModelZip.read(new ByteArrayInputStream(zipOf(badJson)), true));
        assertTrue(json.getMessage().startsWith(ModelSerializer.CONFIGURATION_JSON), json.getMessage());

        // the data header's length (after the shape information) one short of the shape's
        Map<String, byte[]> shortData = new LinkedHashMap<>(entries);
        byte[] coefficients = shortData.get(ModelSerializer.COEFFICIENTS_BIN).clone();
        int lengthAt = dataLengthOffset(coefficients);
        ByteBuffer.wrap(coefficients).putLong(lengthAt, g.numParams() - 1);
        shortData.put(ModelSerializer.COEFFICIENTS_BIN, coefficients);
        IOException length = assertThrows(IOException.class,
                () -> ModelZip.read(new ByteArrayInputStream(zipOf(shortData)), true));
        assertTrue(length.getMessage().startsWith(ModelSerializer.COEFFICIENTS_BIN)
                && length.getMessage().contains(g.numParams() + " values"), length.getMessage());

        // parameters of another model under this configuration
        Map<String, byte[]> otherParams = new LinkedHashMap<>(entries);
        ComputationGraph wider = Decoder.create(new DecoderConfig(29, 12, 2, 2, 6, 0.0, 7), new SftLoss(),
                new Adam(1e-3), DataType.FLOAT);
        otherParams.put(ModelSerializer.COEFFICIENTS_BIN, entries(modelZip(wider, false))
                .get(ModelSerializer.COEFFICIENTS_BIN));
        IOException misfit = assertThrows(IOException.class,
                () -> ModelZip.read(new ByteArrayInputStream(zipOf(otherParams)), true));
        assertTrue(misfit.getMessage().startsWith(ModelSerializer.COEFFICIENTS_BIN + " does not fit"),
                misfit.getMessage());

        // optimizer state of another size
        Map<String, byte[]> otherState = new LinkedHashMap<>(entries);
        otherState.put(ModelSerializer.UPDATER_BIN, entries(modelZip(wider, true)).get(ModelSerializer.UPDATER_BIN));
        IOException state = assertThrows(IOException.class,
                () -> ModelZip.read(new ByteArrayInputStream(zipOf(otherState)), true));
        assertTrue(state.getMessage().startsWith(ModelSerializer.UPDATER_BIN + " does not fit"), state.getMessage());
    }

    /**
     * Where the data buffer's length sits in {@code Nd4j.write}'s layout: after the shape information
     * (mode as modified UTF-8, length, type, then its longs) and the data's mode string.
     */
    private static int dataLengthOffset(byte[] array) {
        ByteBuffer b = ByteBuffer.wrap(array);
        int at = 2 + b.getShort(0); // the shape information's allocation mode
        long shapeLength = b.getLong(at);
        at += 8;
        at += 2 + b.getShort(at); // its type
        at += (int) (8 * shapeLength);
        at += 2 + b.getShort(at); // the data's allocation mode
        return at;
    }
}
