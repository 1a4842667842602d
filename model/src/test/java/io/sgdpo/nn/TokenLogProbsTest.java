package io.sgdpo.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The per-token read-out against a plain log-softmax computed here element by element: values,
 * gradient, numerical stability, and logits in either memory order (DL4J's output layer hands the
 * loss 'f'-ordered logits).
 */
class TokenLogProbsTest {

    private static final int[] ROWS = {4, 0, 7, 2};
    private static final int[] TARGETS = {3, 10, 0, 5};

    private static INDArray logits(char order, double offset) {
        Nd4j.getRandom().setSeed(11);
        INDArray z = Nd4j.randn(DataType.DOUBLE, 9, 12).muli(3).addi(offset);
        return order == 'c' ? z : z.dup('f');
    }

    private static double plainLogProb(INDArray z, int row, int target) {
        double max = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < z.size(1); k++) {
            max = Math.max(max, z.getDouble(row, k));
        }
        double sum = 0;
        for (int k = 0; k < z.size(1); k++) {
            sum += Math.exp(z.getDouble(row, k) - max);
        }
        return z.getDouble(row, target) - max - Math.log(sum);
    }

    @Test
    void valuesAreTheLogSoftmaxAtTheTargetsInEitherOrderAndAtAnyScale() {
        for (char order : new char[] {'c', 'f'}) {
            for (double offset : new double[] {0, 1e4, -1e4}) {
                INDArray z = logits(order, offset);
                INDArray before = z.dup();
                double[] values = TokenLogProbs.of(z, ROWS, TARGETS).values();
                double[] expected = new double[ROWS.length];
                for (int j = 0; j < ROWS.length; j++) {
                    expected[j] = plainLogProb(z, ROWS[j], TARGETS[j]);
                }
                assertArrayEquals(expected, values, 1e-9, order + " order, offset " + offset);
                assertEquals(before, z, "the logits are read, never changed");
            }
        }
    }

    /**
     * float32, where exp overflows above 88.7 and leaves the normal range below -87.3: one row far
     * out of the unshifted range among ordinary rows must still come out right, which takes the
     * shifted computation (without it the row's values are -infinity or lose their digits).
     * Tolerance: float32 rounding of a log-sum-exp of magnitude up to about 110.
     */
    @Test
    void oneRowOutsideTheUnshiftedRangeIsComputedWithTheShift() {
        for (double offset : new double[] {0, 100, -100}) {
            Nd4j.getRandom().setSeed(12);
            INDArray z = Nd4j.randn(DataType.FLOAT, 9, 12).muli(3);
            z.getRow(ROWS[0]).addi(offset);
            z = z.dup('f');
            double[] values = TokenLogProbs.of(z, ROWS, TARGETS).values();
            INDArray exact = z.castTo(DataType.DOUBLE);
            for (int j = 0; j < ROWS.length; j++) {
                assertEquals(plainLogProb(exact, ROWS[j], TARGETS[j]), values[j], 5e-5, "offset " + offset + ", row " + j);
            }
        }
    }

    @Test
    void gradientIsOnehotMinusSoftmaxOnScoredRowsAndZeroElsewhere() {
        for (char order : new char[] {'c', 'f'}) {
            INDArray z = logits(order, 0);
            double[] g = {0.5, -1.25, 2.0, 0.75};
            TokenLogProbs t = TokenLogProbs.of(z, ROWS, TARGETS);
            INDArray gradient = Nd4j.zeros(DataType.DOUBLE, z.shape());
            t.backprop(g, gradient);
            double h = 1e-6;
            for (int r = 0; r < z.size(0); r++) {
                for (int k = 0; k < z.size(1); k++) {
                    double original = z.getDouble(r, k);
                    z.putScalar(r, k, original + h);
                    double plus = weighted(z, g);
                    z.putScalar(r, k, original - h);
                    double minus = weighted(z, g);
                    z.putScalar(r, k, original);
                    assertEquals((plus - minus) / (2 * h), gradient.getDouble(r, k), 1e-7,
                            order + " row " + r + " token " + k);
                }
            }
            for (int r : new int[] {1, 3, 5, 6, 8}) { // rows not scored
                assertEquals(0.0, gradient.getRow(r).norm1Number().doubleValue(), 0.0, "row " + r);
            }
        }
    }

    /** sum_j g_j logp_j: the function whose gradient {@link TokenLogProbs#backprop} writes. */
    private static double weighted(INDArray z, double[] g) {
        double s = 0;
        for (int j = 0; j < ROWS.length; j++) {
            s += g[j] * plainLogProb(z, ROWS[j], TARGETS[j]);
        }
        return s;
    }

    @Test
    void floatLogitsOfAWideVocabularyKeepFloatPrecision() {
        Nd4j.getRandom().setSeed(5);
        INDArray z = Nd4j.randn(DataType.FLOAT, 6, 50257).muli(4).dup('f');
        int[] rows = {0, 3, 5};
        int[] targets = {17, 50256, 2};
        double[] values = TokenLogProbs.of(z, rows, targets).values();
        INDArray d = z.castTo(DataType.DOUBLE);
        for (int j = 0; j < rows.length; j++) {
            assertEquals(plainLogProb(d, rows[j], targets[j]), values[j], 1e-4);
        }
        INDArray gradient = Nd4j.zeros(DataType.FLOAT, z.shape());
        TokenLogProbs.of(z, rows, targets).backprop(new double[] {1, 1, 1}, gradient);
        for (int j = 0; j < rows.length; j++) { // onehot - softmax sums to 0 over the vocabulary
            assertEquals(0.0, gradient.getRow(rows[j]).sumNumber().doubleValue(), 1e-4);
        }
    }

    @Test
    void noRowsAndMismatchedArguments() {
        INDArray z = logits('c', 0);
        TokenLogProbs none = TokenLogProbs.of(z, new int[0], new int[0]);
        assertEquals(0, none.values().length);
        INDArray gradient = Nd4j.zeros(DataType.DOUBLE, z.shape());
        none.backprop(new double[0], gradient);
        assertEquals(0.0, gradient.norm1Number().doubleValue());
        assertThrows(IllegalArgumentException.class, () -> TokenLogProbs.of(z, new int[] {1}, new int[0]));
        assertThrows(IllegalArgumentException.class,
                () -> TokenLogProbs.of(z, ROWS, TARGETS).backprop(new double[1], gradient));
    }
}
