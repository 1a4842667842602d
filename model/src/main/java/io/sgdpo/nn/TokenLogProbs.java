package io.sgdpo.nn;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * log-softmax of logits at target tokens: the one implementation of per-token log-probs used by
 * training (the loss adapter), the reference pass and evaluation.
 *
 * <p>For the selected rows j: logp_j = z_j[y_j] - logsumexp(z_j). Its gradient with respect to
 * the logits is onehot(y_j) - softmax(z_j), which {@link #backprop} applies.
 *
 * <p>Everything over the vocabulary runs as a few whole-array ND4J ops on the logits where they
 * are, off the Java heap: one log-sum-exp per row, then one read of z_j[y_j] per selected row; the
 * gradient is exp(z - logsumexp) scaled row-wise by -dL/dlogp in place in the gradient array, plus
 * dL/dlogp at each target. No row is copied out of the logits, no log-softmax over [rows x
 * vocabulary] is kept, and no per-row op runs from Java. The log-sum-exp and the softmax are taken
 * over every row of the logits (the rows not selected get weight 0): a few element-wise passes,
 * cheaper than gathering and scattering the selected rows one by one.
 */
public final class TokenLogProbs {

    private final INDArray logits;
    private final int[] rows;
    private final int[] targets;
    private final INDArray logSumExp;
    private final double[] values;

    private TokenLogProbs(INDArray logits, int[] rows, int[] targets, INDArray logSumExp, double[] values) {
        this.logits = logits;
        this.rows = rows;
        this.targets = targets;
        this.logSumExp = logSumExp;
        this.values = values;
    }

    /**
     * @param logits  {@code [N, V]} logits, one row per (example, position); read, never changed,
     *                and read again by {@link #backprop}
     * @param rows    the rows to score
     * @param targets the target token of each scored row
     */
    public static TokenLogProbs of(INDArray logits, int[] rows, int[] targets) {
        if (rows.length != targets.length) {
            throw new IllegalArgumentException(rows.length + " rows but " + targets.length + " targets");
        }
        if (rows.length == 0) {
            return new TokenLogProbs(logits, rows, targets, null, new double[0]);
        }
        if (logits.rank() != 2) {
            throw new IllegalArgumentException("logits must be [rows, vocabulary], got rank " + logits.rank());
        }
        INDArray lse = logSumExp(logits);
        double[] values = new double[rows.length];
        for (int j = 0; j < rows.length; j++) {
            values[j] = logits.getDouble(rows[j], targets[j]) - lse.getDouble(rows[j], 0);
        }
        return new TokenLogProbs(logits, rows, targets, lse, values);
    }

    /**
     * {@code [N, 1]}: log sum_k exp(z_k) of every row. It works on the transposed view
     * {@code [V, N]}: DL4J's output layer hands over 'f'-ordered logits, whose transpose is
     * contiguous row by row. The sum over the vocabulary is a matrix product with a row of ones:
     * BLAS sums blockwise, so 50,257 float32 terms keep about 1e-6 of relative precision, where
     * ND4J's float reduction loses about 1e-5.
     *
     * <p>The usual shift by each row's maximum is taken only when it is needed: a row's maximum
     * over the vocabulary is a reduction across the contiguous direction of the transposed view,
     * which ND4J runs about ten times slower than one along it (53 ms for [1024 x 8192] float32
     * logits, where the exponentials take 15). Unshifted, exp(z) loses nothing as long as it neither
     * overflows nor leaves every term of a row below the normal range; both show in the result (an
     * infinite or NaN sum, or a log-sum below {@link #UNSHIFTED_FLOOR}), and then the whole
     * minibatch is computed again with the shift.
     */
    static INDArray logSumExp(INDArray z) {
        INDArray byColumn = z.transpose();
        INDArray ones = Nd4j.ones(z.dataType(), 1, z.size(1));
        INDArray exp = Transforms.exp(byColumn, true);
        INDArray lse = Transforms.log(ones.mmul(exp), false);
        release(exp);
        if (!withinUnshiftedRange(lse)) {
            release(lse);
            INDArray max = byColumn.max(true, 0);
            INDArray shifted = byColumn.subRowVector(max);
            Transforms.exp(shifted, false);
            lse = Transforms.log(ones.mmul(shifted), false).addi(max);
            release(shifted);
        }
        release(ones);
        return lse.reshape(z.size(0), 1);
    }

    /**
     * Lowest unshifted log-sum trusted: a sum above e^-60 over fewer than e^20 terms (any
     * vocabulary) has a largest term above e^-80, inside float32's normal range (down to e^-87.3);
     * terms that underflow below it change the sum by less than V x 1.4e-45.
     */
    static final double UNSHIFTED_FLOOR = -60;

    private static boolean withinUnshiftedRange(INDArray lse) {
        for (double v : lse.toDoubleVector()) {
            if (!(v > UNSHIFTED_FLOOR) || Double.isInfinite(v)) {
                return false;
            }
        }
        return true;
    }

    /** Frees an intermediate's off-heap memory now rather than at the next garbage collection. */
    private static void release(INDArray a) {
        if (a.closeable()) {
            a.close();
        }
    }

    /** The log-prob of each scored row's target, in the order of the rows given. */
    public double[] values() {
        return values;
    }

    /**
     * A zero gradient for {@link #backprop}: the logits' shape, type and memory order, so that
     * copying the logits into it is a straight copy (the vocabulary head's logits are column-major).
     */
    public static INDArray zeroGradient(INDArray logits) {
        return Nd4j.create(logits.dataType(), logits.shape(), logits.ordering());
    }

    /**
     * Writes dL/dz into {@code gradient} ({@code [N, V]}, the logits' shape and data type, zero
     * outside the scored rows) given dL/dlogp of every scored row: dL/dz_j = g_j (onehot(y_j) -
     * softmax(z_j)).
     */
    public void backprop(double[] dLossDLogp, INDArray gradient) {
        if (rows.length == 0) {
            return;
        }
        if (dLossDLogp.length != rows.length) {
            throw new IllegalArgumentException(dLossDLogp.length + " gradients for " + rows.length + " rows");
        }
        long n = logits.size(0);
        INDArray weight = Nd4j.zeros(gradient.dataType(), n, 1);
        for (int j = 0; j < rows.length; j++) {
            weight.putScalar(rows[j], 0, -dLossDLogp[j]);
        }
        gradient.assign(logits).subiColumnVector(logSumExp.castTo(gradient.dataType()));
        Transforms.exp(gradient, false).muliColumnVector(weight);
        for (int j = 0; j < rows.length; j++) {
            gradient.putScalar(rows[j], targets[j], gradient.getDouble(rows[j], targets[j]) + dLossDLogp[j]);
        }
        release(weight);
    }
}
