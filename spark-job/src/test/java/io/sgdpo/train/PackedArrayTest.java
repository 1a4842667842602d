package io.sgdpo.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * An array through Java serialization packed: the same elements, shape, layout and type. A byte copy,
 * so every comparison is exact.
 */
class PackedArrayTest {

    @Test
    void arraysOfEveryLayoutComeBackElementForElement() throws Exception {
        Nd4j.getRandom().setSeed(7);
        INDArray rowMajor = Nd4j.rand(DataType.FLOAT, 3, 5);
        INDArray columnMajor = Nd4j.rand(DataType.DOUBLE, new int[] {4, 3}, 'f');
        INDArray column = Nd4j.rand(DataType.FLOAT, 4, 6).get(NDArrayIndex.all(), NDArrayIndex.point(2));
        INDArray transposed = Nd4j.rand(DataType.FLOAT, 2, 3).permute(1, 0);
        INDArray integers = Nd4j.createFromArray(new int[] {3, -1, 7, 1 << 30});
        for (INDArray a : new INDArray[] {rowMajor, columnMajor, column, transposed, integers}) {
            INDArray back = roundTrip(PackedArray.of(a)).unpack();
            assertSame(a, back);
        }
        assertTrue(column.isView(), "the column is a view, so packing must copy its elements out");
    }

    @Test
    void chunksSplitAnArrayAnywhere() throws Exception {
        INDArray a = Nd4j.linspace(DataType.FLOAT, 1, 23, 23).reshape(23);
        for (int chunk : new int[] {1, 7, 92, 1000}) {
            assertSame(a, roundTrip(PackedArray.of(a, chunk)).unpack());
        }
    }

    @Test
    void thePackedFormIsAboutTheRawBytes() throws Exception {
        INDArray a = Nd4j.rand(DataType.FLOAT, 100_000);
        long packed = serialized(PackedArray.of(a)).length;
        long raw = 4L * a.length();
        assertTrue(packed >= raw && packed < raw + 1024, "packed " + packed + " bytes for " + raw + " raw");
        assertNull(PackedArray.of(null));
    }

    private static void assertSame(INDArray expected, INDArray actual) {
        assertEquals(expected.dataType(), actual.dataType());
        assertArrayEquals(expected.shape(), actual.shape());
        assertEquals(expected.ordering(), actual.ordering());
        assertArrayEquals(expected.castTo(DataType.DOUBLE).ravel().toDoubleVector(),
                actual.castTo(DataType.DOUBLE).ravel().toDoubleVector());
    }

    private static PackedArray roundTrip(PackedArray p) throws IOException, ClassNotFoundException {
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(serialized(p)))) {
            return (PackedArray) in.readObject();
        }
    }

    private static byte[] serialized(Object o) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(o);
        }
        return bytes.toByteArray();
    }
}
