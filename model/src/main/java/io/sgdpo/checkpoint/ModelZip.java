package io.sgdpo.checkpoint;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.zip.Deflater;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.common.primitives.Triple;
import org.nd4j.linalg.api.buffer.BaseDataBuffer;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.shape.Shape;
import org.nd4j.linalg.compression.CompressedDataBuffer;
import org.nd4j.linalg.factory.Nd4j;

/**
 * DL4J's model file ({@code ModelSerializer}'s zip: {@code configuration.json}, {@code
 * coefficients.bin}, {@code updaterState.bin}, each array in {@code Nd4j.write}'s layout), written
 * and read with each array's contents copied in bulk.
 *
 * <p>Why not {@code ModelSerializer} itself: ND4J writes and reads an array one element at a time
 * through a {@code DataOutputStream} / {@code DataInputStream}, deflates the result and, when
 * reading, first inflates every entry into a byte array. For the GPT-2 small shape with Adam's
 * state (487 M float32 values) that took 82 s to write and 59 s to read on a 2-core machine
 * ({@code sgdpo bench-checkpoint}), a checkpoint every 20 steps costing more than the 20 steps.
 * The entries here hold the same bytes as ModelSerializer's (so DL4J reads these files, and this
 * class reads DL4J's), stored without compression (float32 parameters shrink by about a tenth
 * under deflate).
 *
 * <p>The bulk copies need the array's memory on the host: on ND4J's CPU backend, float32 and
 * float64 arrays take them; anything else (the CUDA backend, other types) goes through ND4J's own
 * element-wise code, the same bytes either way.
 */
public final class ModelZip {

    /** Elements per bulk copy: 4 MiB of float32 on the heap at a time. */
    private static final int CHUNK = 1 << 20;
    /** libnd4j's largest rank: longer shape information is not an array's. */
    private static final int MAX_RANK = 32;

    private ModelZip() {
    }

    /**
     * Writes a model in DL4J's zip format to {@code out}, which stays open.
     *
     * @param withUpdater also the optimizer's state, as a checkpoint needs for resuming
     */
    public static void write(ComputationGraph graph, OutputStream out, boolean withUpdater) throws IOException {
        INDArray params = graph.params();
        if (params == null || params.isEmpty()) {
            throw new IllegalArgumentException("a model without parameters cannot be written as a checkpoint");
        }
        ZipOutputStream zip = new ZipOutputStream(new OutputStreamLeftOpen(out));
        zip.setLevel(Deflater.NO_COMPRESSION);
        zip.putNextEntry(new ZipEntry(ModelSerializer.CONFIGURATION_JSON));
        zip.write(graph.getConfiguration().toJson().getBytes(StandardCharsets.UTF_8));
        zip.putNextEntry(new ZipEntry(ModelSerializer.COEFFICIENTS_BIN));
        writeArray(params, zip);
        INDArray state = withUpdater && graph.getUpdater() != null ? graph.getUpdater().getStateViewArray() : null;
        if (state != null && state.length() > 0) {
            zip.putNextEntry(new ZipEntry(ModelSerializer.UPDATER_BIN));
            writeArray(state, zip);
        }
        zip.close();
    }

    /**
     * Reads a model written by {@link #write} or by DL4J's {@code ModelSerializer}.
     *
     * @param withUpdater restore the optimizer's state too (when the file has one); inference does not need it
     * @throws IOException naming what is missing or broken when the stream is not a complete model file
     */
    public static ComputationGraph read(InputStream modelZip, boolean withUpdater) throws IOException {
        String json = null;
        INDArray params = null;
        ComputationGraph graph = null;
        INDArray state = null;
        ZipInputStream zip = new ZipInputStream(modelZip);
        try {
            for (ZipEntry e = zip.getNextEntry(); e != null; e = zip.getNextEntry()) {
                String name = e.getName();
                if (name.equals(ModelSerializer.CONFIGURATION_JSON)) {
                    json = new String(zip.readAllBytes(), StandardCharsets.UTF_8);
                } else if (name.equals(ModelSerializer.COEFFICIENTS_BIN)) {
                    params = readArray(new DataInputStream(zip), name, null);
                    if (params.isEmpty()) {
                        throw new IOException(name + ": no parameters");
                    }
                } else if (name.equals(ModelSerializer.UPDATER_BIN) && withUpdater) {
                    // in the files' order the graph exists by now: its own state array takes the values
                    // (as ModelSerializer's setStateViewArray would copy them), no second array of that size
                    graph = graph == null && json != null && params != null ? graph(json, params) : graph;
                    INDArray own = graph == null ? null : graph.getUpdater().getStateViewArray();
                    state = readArray(new DataInputStream(zip), name, own);
                }
            }
        } catch (ZipException | EOFException e) {
            throw new IOException("not a complete DL4J model file (" + e + ")", e);
        }
        if (json == null || params == null) {
            throw new IOException("not a DL4J model file: no " + (json == null ? ModelSerializer.CONFIGURATION_JSON
                    : ModelSerializer.COEFFICIENTS_BIN) + " entry");
        }
        graph = graph == null ? graph(json, params) : graph;
        if (state != null && state != graph.getUpdater().getStateViewArray()) {
            try {
                graph.getUpdater().setStateViewArray(state);
            } catch (RuntimeException e) {
                throw new IOException(ModelSerializer.UPDATER_BIN + " does not fit the configuration's optimizer ("
                        + state.length() + " values): " + e.getMessage(), e);
            }
        }
        return graph;
    }

    /** The graph of a configuration, initialised with {@code params} as its parameter array (not a copy). */
    private static ComputationGraph graph(String json, INDArray params) throws IOException {
        ComputationGraphConfiguration conf;
        try {
            conf = ComputationGraphConfiguration.fromJson(json);
        } catch (RuntimeException e) {
            throw new IOException(ModelSerializer.CONFIGURATION_JSON + " is not a ComputationGraph configuration: "
                    + e.getMessage(), e);
        }
        conf.setDataType(params.dataType());
        ComputationGraph graph = new ComputationGraph(conf);
        try {
            graph.init(params, false);
        } catch (RuntimeException e) {
            throw new IOException(ModelSerializer.COEFFICIENTS_BIN + " does not fit the configuration ("
                    + params.length() + " parameters): " + e.getMessage(), e);
        }
        return graph;
    }

    /** {@code Nd4j.write}'s layout: the shape information, then the data buffer's header and values, big-endian. */
    private static void writeArray(INDArray array, OutputStream out) throws IOException {
        INDArray a = array.isView() ? array.dup() : array; // as Nd4j.write: a view's shape information differs
        DataOutputStream data = new DataOutputStream(out);
        if (!copiesInBulk(a.dataType())) {
            Nd4j.write(a, data);
            data.flush();
            return;
        }
        a.shapeInfoDataBuffer().write(data);
        DataBuffer buffer = a.data();
        data.writeUTF(buffer.allocationMode().name());
        data.writeLong(buffer.length());
        data.writeUTF(buffer.dataType().name());
        Chunk chunk = new Chunk(buffer);
        for (long from = 0; from < buffer.length(); from += CHUNK) {
            int n = (int) Math.min(CHUNK, buffer.length() - from);
            chunk.fromHost(from, n);
            data.write(chunk.bytes, 0, n * chunk.width);
        }
        data.flush();
    }

    /**
     * The inverse of {@link #writeArray}, ND4J's own reader for what the bulk copy does not take:
     * into {@code into} (when not null and of the same type and shape), else into a new array.
     */
    private static INDArray readArray(DataInputStream in, String entry, INDArray into) throws IOException {
        try {
            return readArrayOrFail(in, entry, into);
        } catch (RuntimeException e) { // ND4J's own parsing of a header it does not expect
            throw new IOException(entry + ": not an ND4J array (" + e + ")", e);
        }
    }

    private static INDArray readArrayOrFail(DataInputStream in, String entry, INDArray into) throws IOException {
        Triple<DataBuffer.AllocationMode, Long, DataType> shapeHeader = BaseDataBuffer.readHeader(in);
        if (shapeHeader.getMiddle() < 4 || shapeHeader.getMiddle() > 2 * MAX_RANK + 4) {
            throw new IOException(entry + ": not an ND4J array (shape information of " + shapeHeader.getMiddle()
                    + " values)");
        }
        DataBuffer shapeInfo = Nd4j.createBufferDetached(new long[] {shapeHeader.getMiddle()}, shapeHeader.getRight());
        shapeInfo.read(in, shapeHeader.getLeft(), shapeHeader.getMiddle(), shapeHeader.getRight());
        Triple<DataBuffer.AllocationMode, Long, DataType> dataHeader = BaseDataBuffer.readHeader(in);
        long[] shape = Shape.shape(shapeInfo.asLong());
        long length = Shape.lengthOf(shape);
        if (dataHeader.getMiddle() != length) {
            throw new IOException(entry + ": its shape " + Arrays.toString(shape) + " holds " + length
                    + " values, its data " + dataHeader.getMiddle());
        }
        DataType type = dataHeader.getRight();
        if (!copiesInBulk(type) || dataHeader.getLeft().ordinal() < 3) { // legacy layouts: ND4J converts them
            DataBuffer data = CompressedDataBuffer.readUnknown(in, dataHeader.getLeft(),
                    dataHeader.getMiddle(), type);
            return Nd4j.createArrayFromShapeBuffer(data, shapeInfo);
        }
        char order = Shape.order(shapeInfo.asLong());
        boolean fits = into != null && !into.isView() && into.dataType() == type && into.ordering() == order
                && Arrays.equals(into.shape(), shape);
        INDArray array = fits ? into : Nd4j.createUninitializedDetached(type, order, shape);
        DataBuffer buffer = array.data();
        Chunk chunk = new Chunk(buffer);
        for (long from = 0; from < length; from += CHUNK) {
            int n = (int) Math.min(CHUNK, length - from);
            in.readFully(chunk.bytes, 0, n * chunk.width);
            chunk.toHost(from, n);
        }
        return array;
    }

    /**
     * One bulk copy's buffers, reused chunk after chunk: {@code n} values of a float32 or float64
     * host buffer between its memory and big-endian bytes.
     */
    private static final class Chunk {
        final DataBuffer buffer;
        final int width;
        final byte[] bytes;
        final ByteBuffer bigEndian;
        final float[] floats;
        final double[] doubles;

        Chunk(DataBuffer buffer) {
            this.buffer = buffer;
            width = buffer.getElementSize();
            int values = (int) Math.min(CHUNK, buffer.length());
            bytes = new byte[values * width];
            bigEndian = ByteBuffer.wrap(bytes).order(ByteOrder.BIG_ENDIAN);
            boolean single = buffer.dataType() == DataType.FLOAT;
            floats = single ? new float[values] : null;
            doubles = single ? null : new double[values];
        }

        /** Values [from, from + n) of the buffer into {@link #bytes}. */
        void fromHost(long from, int n) {
            bigEndian.clear();
            if (floats != null) {
                new FloatPointer(buffer.addressPointer()).position(from).get(floats, 0, n);
                bigEndian.asFloatBuffer().put(floats, 0, n);
            } else {
                new DoublePointer(buffer.addressPointer()).position(from).get(doubles, 0, n);
                bigEndian.asDoubleBuffer().put(doubles, 0, n);
            }
        }

        /** The first n values of {@link #bytes} into the buffer at [from, from + n). */
        void toHost(long from, int n) {
            bigEndian.clear();
            if (floats != null) {
                bigEndian.asFloatBuffer().get(floats, 0, n);
                new FloatPointer(buffer.addressPointer()).position(from).put(floats, 0, n);
            } else {
                bigEndian.asDoubleBuffer().get(doubles, 0, n);
                new DoublePointer(buffer.addressPointer()).position(from).put(doubles, 0, n);
            }
        }
    }

    /** Float32 and float64 arrays in host memory (ND4J's CPU backend). */
    private static boolean copiesInBulk(DataType type) {
        return (type == DataType.FLOAT || type == DataType.DOUBLE) && Nd4j.getEnvironment().isCPU();
    }

    /** Lets the zip stream finish and release its deflater without closing the caller's stream. */
    private static final class OutputStreamLeftOpen extends FilterOutputStream {
        OutputStreamLeftOpen(OutputStream out) {
            super(out);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
        }

        @Override
        public void close() throws IOException {
            out.flush();
        }
    }
}
