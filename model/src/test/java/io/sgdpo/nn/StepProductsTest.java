package io.sgdpo.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@link StepProducts} against the product computed in double precision from the same float32
 * operands: a row and several rows, both weight layouts, row-major results. A tolerance, since the
 * float32 sums round: 64 units of roundoff times the product of the operands' norms, which bounds
 * every sum of absolute terms (about 1e-3 here, far below the error of order 1 that a weight taken
 * the wrong way round gives); shapes and layout exactly.
 */
class StepProductsTest {

    private static final double U = Math.ulp(1.0f) / 2;

    @Test
    void oneRowAndSeveralRowsEqualTheProductInBothLayouts() {
        Nd4j.getRandom().setSeed(3);
        for (int rows : new int[] {1, 3}) {
            INDArray x = Nd4j.randn(DataType.FLOAT, rows, 24);
            INDArray w = Nd4j.randn(DataType.FLOAT, 24, 40); // [in, out]
            INDArray expected = x.castTo(DataType.DOUBLE).mmul(w.castTo(DataType.DOUBLE));
            double tolerance = 64 * U * x.castTo(DataType.DOUBLE).norm2Number().doubleValue()
                    * w.castTo(DataType.DOUBLE).norm2Number().doubleValue();
            check(expected, StepProducts.times(x, w), tolerance, rows + " rows times W");
            check(expected, StepProducts.timesTransposed(x, w.transpose().dup('c')), tolerance,
                    rows + " rows times the transpose of W^T");
            INDArray bias = Nd4j.randn(DataType.FLOAT, 1, 40);
            check(expected.addRowVector(bias.castTo(DataType.DOUBLE)), StepProducts.affine(x, w, bias), tolerance,
                    rows + " rows, affine");
        }
    }

    private static void check(INDArray expected, INDArray actual, double tolerance, String what) {
        assertArrayEquals(expected.shape(), actual.shape(), what);
        assertEquals('c', actual.ordering(), what);
        double error = expected.sub(actual.castTo(DataType.DOUBLE)).amaxNumber().doubleValue();
        assertTrue(error <= tolerance, what + ": off by " + error + " > " + tolerance);
    }

    @Test
    void mismatchedShapesNameBoth() {
        INDArray x = Nd4j.zeros(DataType.FLOAT, 2, 5);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> StepProducts.times(x, Nd4j.zeros(DataType.FLOAT, 4, 6)));
        assertEquals("rows [2, 5] cannot multiply weight [4, 6]", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> StepProducts.timesTransposed(x, Nd4j.zeros(DataType.FLOAT, 5, 6)));
        assertEquals("rows [2, 5] cannot multiply the transpose of weight [5, 6]", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> StepProducts.times(Nd4j.zeros(DataType.FLOAT, 5), Nd4j.zeros(DataType.FLOAT, 5, 6)));
        assertEquals("rows [5] and weight [5, 6] must be matrices", e.getMessage());
    }
}
