package io.sgdpo.train;

import java.io.Serializable;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.shape.Shape;
import org.nd4j.linalg.factory.Nd4j;

/**
 * An ND4J array for Java serialization, as its bytes copied out in bulk. ND4J's own serialization
 * of an array writes and reads it one element at a time through a {@code DataOutputStream}; for
 * ParameterAveraging, which ships the whole model's parameters and optimizer state to every worker
 * and back at every averaging, that was a large part of what a round spent outside the step
 * (README, "ParameterAveraging's arrays on the wire"). The bytes are kept in chunks, so an array of
 * any size fits Java's arrays; they are in the byte order of the machine that packed them, which
 * {@link #unpack} checks, as it checks their count against the shape.
 */
public final class PackedArray implements Serializable {
    private static final long serialVersionUID = 1L;
    /** Bytes per chunk: well below Java's largest array. */
    static final int CHUNK_BYTES = 1 << 26;

    private final DataType type;
    private final long[] shape;
    private final char order;
    private final boolean bigEndian;
    private final byte[][] chunks;

    private PackedArray(DataType type, long[] shape, char order, boolean bigEndian, byte[][] chunks) {
        this.type = type;
        this.shape = shape;
        this.order = order;
        this.bigEndian = bigEndian;
        this.chunks = chunks;
    }

    /** The array's elements in its own order and shape; null for null. */
    public static PackedArray of(INDArray array) {
        return of(array, CHUNK_BYTES);
    }

    static PackedArray of(INDArray array, int chunkBytes) {
        if (array == null) {
            return null;
        }
        // a view's buffer holds more than its elements, or holds them in another layout: copy them out first
        INDArray whole = array.isView() || array.data().length() != array.length()
                || !Shape.hasDefaultStridesForShape(array) ? array.dup(array.ordering()) : array;
        long bytes = whole.length() * whole.dataType().width();
        byte[][] chunks = new byte[(int) ((bytes + chunkBytes - 1) / chunkBytes)][];
        if (bytes > 0) {
            Pointer address = whole.data().addressPointer();
            long start = address.position() * address.sizeof();
            BytePointer source = new BytePointer(address).capacity(start + bytes);
            for (int c = 0; c < chunks.length; c++) {
                long from = (long) c * chunkBytes;
                chunks[c] = new byte[(int) Math.min(chunkBytes, bytes - from)];
                source.position(start + from).get(chunks[c]);
            }
        }
        return new PackedArray(whole.dataType(), whole.shape(), whole.ordering(),
                ByteOrder.nativeOrder() == ByteOrder.BIG_ENDIAN, chunks);
    }

    /** A new array, outside any workspace, with the packed elements. */
    public INDArray unpack() {
        if (bigEndian != (ByteOrder.nativeOrder() == ByteOrder.BIG_ENDIAN)) {
            throw new IllegalStateException("an array packed on a " + (bigEndian ? "big" : "little")
                    + "-endian machine cannot be read on this " + ByteOrder.nativeOrder() + " one: the driver and the"
                    + " executors of a ParameterAveraging run must share a byte order");
        }
        INDArray out;
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            out = Nd4j.createUninitialized(type, shape, order);
        }
        long bytes = out.length() * type.width();
        long held = Arrays.stream(chunks).mapToLong(c -> c.length).sum();
        if (held != bytes) {
            throw new IllegalStateException("a packed " + type + " array of shape " + Arrays.toString(shape) + " holds "
                    + held + " bytes, not " + bytes);
        }
        if (bytes == 0) {
            return out;
        }
        Pointer address = out.data().addressPointer();
        long start = address.position() * address.sizeof();
        BytePointer target = new BytePointer(address).capacity(start + bytes);
        long at = start;
        for (byte[] chunk : chunks) {
            target.position(at).put(chunk);
            at += chunk.length;
        }
        return out;
    }
}
