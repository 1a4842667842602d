package io.sgdpo.nn;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The row-wise math of an {@link IncrementalDecoder} step (norms, biases, activations, residual
 * sums, and the crossing of ND4J arrays into and out of Java) on Java arrays of a few rows,
 * row-major, between the step's matrix products ({@link StepProducts}).
 *
 * <p>Why not ND4J: a step works on one row per sequence being generated, and there every ND4J
 * operation costs its fixed overhead, not its arithmetic. On the 2-core development machine, on
 * {@code [4, 256]} rows: libnd4j's layer norm 126 µs into an existing array (it allocates its
 * temporaries natively), a bias added to each row 37 to 59 µs, a scalar multiplication 17 µs,
 * where PyTorch's elementwise operations take 3 to 11 µs. GPT-2's layer norm and gelu_new were nine
 * ND4J operations each. Sums over a row accumulate in double, whatever the model's type.
 */
public final class StepRows {

    private StepRows() {
    }

    /** The values of an array, row-major. */
    public static double[] read(INDArray array) {
        INDArray packed = array.ordering() == 'c' && !array.isView() && array.data().length() == array.length()
                ? array : array.dup('c');
        if (packed.dataType() == DataType.FLOAT) {
            float[] narrow = packed.data().asFloat(); // one bulk copy; asDouble reads value by value
            return widen(narrow, narrow.length);
        }
        return packed.data().asDouble();
    }

    /** Rows {@code [values.length / width, width]} of the given type, holding the values. */
    public static INDArray write(double[] values, int width, DataType type) {
        long[] shape = {values.length / width, width};
        if (type == DataType.FLOAT) {
            return Nd4j.create(narrow(values, new float[values.length]), shape, 'c');
        }
        return Nd4j.create(values, shape, 'c').castTo(type);
    }

    /** The first {@code length} values, in double. */
    static double[] widen(float[] values, int length) {
        double[] wide = new double[length];
        for (int i = 0; i < length; i++) {
            wide[i] = values[i];
        }
        return wide;
    }

    /** The values rounded to float32, into {@code into} (at least as long), which it returns. */
    static float[] narrow(double[] values, float[] into) {
        for (int i = 0; i < values.length; i++) {
            into[i] = (float) values[i];
        }
        return into;
    }

    /**
     * Layer norm of each row: (x - mean) / sqrt(var + eps) * gain + bias, var the biased variance
     * (eps 0: libnd4j's layer_norm, which the project's decoder trains with).
     */
    public static double[] layerNorm(double[] rows, int width, double[] gain, double[] bias, double eps) {
        double[] out = new double[rows.length];
        for (int start = 0; start < rows.length; start += width) {
            double mean = 0;
            for (int j = 0; j < width; j++) {
                mean += rows[start + j];
            }
            mean /= width;
            double variance = 0;
            for (int j = 0; j < width; j++) {
                double centred = rows[start + j] - mean;
                variance += centred * centred;
            }
            double scale = 1 / Math.sqrt(variance / width + eps);
            for (int j = 0; j < width; j++) {
                out[start + j] = (rows[start + j] - mean) * scale * gain[j] + bias[j];
            }
        }
        return out;
    }

    /** RMSNorm of each row: x / sqrt(mean(x^2) + eps) * gain. */
    public static double[] rmsNorm(double[] rows, int width, double[] gain, double eps) {
        double[] out = new double[rows.length];
        for (int start = 0; start < rows.length; start += width) {
            double squares = 0;
            for (int j = 0; j < width; j++) {
                squares += rows[start + j] * rows[start + j];
            }
            double scale = 1 / Math.sqrt(squares / width + eps);
            for (int j = 0; j < width; j++) {
                out[start + j] = rows[start + j] * scale * gain[j];
            }
        }
        return out;
    }

    /** Adds the row vector to every row, in place (null: nothing). */
    public static double[] addRow(double[] rows, double[] row) {
        if (row != null) {
            for (int start = 0; start < rows.length; start += row.length) {
                for (int j = 0; j < row.length; j++) {
                    rows[start + j] += row[j];
                }
            }
        }
        return rows;
    }

    /** {@code target += addend}, in place. */
    public static void addTo(double[] target, double[] addend) {
        for (int i = 0; i < target.length; i++) {
            target[i] += addend[i];
        }
    }

    /** Multiplies every value by the factor, in place. */
    public static double[] scale(double[] values, double factor) {
        for (int i = 0; i < values.length; i++) {
            values[i] *= factor;
        }
        return values;
    }

    /** ND4J's GELU, x sigmoid(1.702 x) (the project's decoder), in place. */
    public static double[] sigmoidGelu(double[] values) {
        for (int i = 0; i < values.length; i++) {
            values[i] = values[i] / (1 + Math.exp(-1.702 * values[i]));
        }
        return values;
    }

    /** transformers' gelu_new, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), in place. */
    public static double[] tanhGelu(double[] values) {
        double c = Math.sqrt(2 / Math.PI);
        for (int i = 0; i < values.length; i++) {
            double x = values[i];
            values[i] = 0.5 * x * (1 + Math.tanh(c * (x + 0.044715 * x * x * x)));
        }
        return values;
    }

    /** SwiGLU's product silu(gate) * up, into gate. */
    public static double[] swiglu(double[] gate, double[] up) {
        for (int i = 0; i < gate.length; i++) {
            gate[i] = gate[i] / (1 + Math.exp(-gate[i])) * up[i];
        }
        return gate;
    }
}
