package io.sgdpo.bench.prep;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class MatmulRateTest {

    /**
     * The timed product is the whole product, written into the given row-major result. Exact
     * comparison: small integers, whose products and partial sums float32 represents exactly, so
     * any summation order gives the same numbers.
     */
    @Test
    void productWritesTheMatrixProductIntoTheResult() {
        int m = 5, k = 7, n = 3;
        float[][] a = new float[m][k];
        float[][] b = new float[k][n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < k; j++) {
                a[i][j] = (i * 7 + j * 3) % 11 - 5;
            }
        }
        for (int i = 0; i < k; i++) {
            for (int j = 0; j < n; j++) {
                b[i][j] = (i * 5 + j * 2) % 9 - 4;
            }
        }
        INDArray c = Nd4j.create(DataType.FLOAT, m, n).assign(Float.NaN);
        MatmulRate.product(Nd4j.create(a), Nd4j.create(b), c);
        for (int i = 0; i < m; i++) {
            float[] expected = new float[n];
            for (int j = 0; j < n; j++) {
                for (int l = 0; l < k; l++) {
                    expected[j] += a[i][l] * b[l][j];
                }
            }
            assertArrayEquals(expected, c.getRow(i).toFloatVector(), "row " + i);
        }
    }

    @Test
    void rateIsAPositiveFiniteFigure() {
        double rate = MatmulRate.flopsPerSecond(64, 32, 16, 3);
        assertTrue(rate > 0 && Double.isFinite(rate), "rate " + rate);
    }
}
