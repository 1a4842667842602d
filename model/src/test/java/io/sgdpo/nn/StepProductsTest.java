package io.sgdpo.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.interval;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@link StepProducts} against the product computed in double precision from the same operands:
 * a row and several rows, weights laid out row by row, column by column, as a view at an offset
 * into a larger array (as DL4J's parameters are) and with gaps between rows; float32 weights
 * (straight to CBLAS when dense, as the test asserts) and float64 ones (through libnd4j's op). A
 * tolerance, since the float32 sums round: 64 units of roundoff times the product of the operands'
 * norms, which bounds every sum of absolute terms (about 1e-3 here, far below the error of order 1
 * that a weight taken the wrong way round, or at the wrong offset, gives).
 */
class StepProductsTest {

    private static final double U = Math.ulp(1.0f) / 2;
    private static final int IN = 24;
    private static final int OUT = 40;

    @Test
    void everyLayoutAndPathEqualsTheProduct() {
        Nd4j.getRandom().setSeed(3);
        INDArray w = Nd4j.randn(DataType.DOUBLE, IN, OUT); // [in, out]
        for (DataType type : new DataType[] {DataType.FLOAT, DataType.DOUBLE}) {
            INDArray rounded = w.castTo(type).castTo(DataType.DOUBLE);
            for (Map.Entry<String, INDArray> layout : layouts(w.castTo(type)).entrySet()) {
                INDArray weight = layout.getValue();
                boolean dense = !layout.getKey().equals("rows with gaps");
                assertEquals(type == DataType.FLOAT && dense, StepProducts.goesToCblas(weight),
                        layout.getKey() + " " + type + ": path");
                assertEquals(type == DataType.FLOAT && dense, StepProducts.goesToCblas(weight.transpose()),
                        layout.getKey() + " " + type + " transposed: path");
                for (int rows : new int[] {1, 3}) {
                    double[] x = Nd4j.randn(DataType.DOUBLE, rows, IN).castTo(type).castTo(DataType.DOUBLE)
                            .data().asDouble();
                    INDArray xs = Nd4j.create(x, new long[] {rows, IN}, 'c');
                    double[] expected = xs.mmul(rounded).data().asDouble();
                    double tolerance = 64 * U * xs.norm2Number().doubleValue() * rounded.norm2Number().doubleValue();
                    String what = layout.getKey() + ", " + type + ", " + rows + " rows";
                    check(expected, StepProducts.times(x, weight), tolerance, what + ", times W");
                    check(expected, StepProducts.timesTransposed(x, weight.transpose()), tolerance,
                            what + ", times the transpose of W^T");
                }
            }
        }
    }

    /** The same [in, out] values in the layouts a weight can have. */
    private static Map<String, INDArray> layouts(INDArray w) {
        Map<String, INDArray> layouts = new LinkedHashMap<>();
        layouts.put("row by row", w.dup('c'));
        layouts.put("column by column", w.dup('f'));
        INDArray flat = Nd4j.zeros(w.dataType(), 7 + IN * OUT);
        INDArray view = flat.get(interval(7, 7 + IN * OUT)).reshape('c', IN, OUT);
        view.assign(w);
        layouts.put("view at an offset", view);
        INDArray wide = Nd4j.zeros(w.dataType(), IN, OUT + 5);
        INDArray gaps = wide.get(all(), interval(0, OUT));
        gaps.assign(w);
        layouts.put("rows with gaps", gaps);
        return layouts;
    }

    private static void check(double[] expected, double[] actual, double tolerance, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            assertTrue(Math.abs(expected[i] - actual[i]) <= tolerance,
                    what + ": value " + i + " off by " + Math.abs(expected[i] - actual[i]) + " > " + tolerance);
        }
    }

    @Test
    void mismatchedShapesNameBoth() {
        double[] x = new double[10];
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> StepProducts.times(x, Nd4j.zeros(DataType.FLOAT, 4, 6)));
        assertEquals("10 values are not rows of 4 to multiply weight [4, 6]", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> StepProducts.timesTransposed(x, Nd4j.zeros(DataType.FLOAT, 6, 3)));
        assertEquals("10 values are not rows of 3 to multiply the transpose of weight [6, 3]", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> StepProducts.times(x, Nd4j.zeros(DataType.FLOAT, 5)));
        assertEquals("weight [5] must be a matrix", e.getMessage());
        assertFalse(StepProducts.goesToCblas(Nd4j.zeros(DataType.DOUBLE, 4, 6)));
    }
}
