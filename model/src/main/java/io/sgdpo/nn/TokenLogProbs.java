package io.sgdpo.nn;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * log-softmax of logits at target tokens: the one implementation of per-token log-probs used by
 * training (the loss adapter), the reference pass and evaluation.
 *
 * <p>For the selected rows j: logp_j = z_j[y_j] - logsumexp(z_j). Its gradient with respect to
 * the logits is onehot(y_j) - softmax(z_j), which {@link #backprop} applies.
 */
public final class TokenLogProbs {

    private final int[] rows;
    private final int[] targets;
    private final INDArray logSoftmax;
    private final double[] values;

    private TokenLogProbs(int[] rows, int[] targets, INDArray logSoftmax, double[] values) {
        this.rows = rows;
        this.targets = targets;
        this.logSoftmax = logSoftmax;
        this.values = values;
    }

    /**
     * @param logits  {@code [N, V]} logits, one row per (example, position)
     * @param rows    the rows to score
     * @param targets the target token of each scored row
     */
    public static TokenLogProbs of(INDArray logits, int[] rows, int[] targets) {
        if (rows.length != targets.length) {
            throw new IllegalArgumentException(rows.length + " rows but " + targets.length + " targets");
        }
        if (rows.length == 0) {
            return new TokenLogProbs(rows, targets, null, new double[0]);
        }
        INDArray z = logits.getRows(rows);
        INDArray shifted = z.subColumnVector(z.max(1).reshape(rows.length, 1));
        INDArray lse = Transforms.log(Transforms.exp(shifted, true).sum(1), false).reshape(rows.length, 1);
        INDArray logSoftmax = shifted.subiColumnVector(lse);
        double[] values = new double[rows.length];
        for (int j = 0; j < rows.length; j++) {
            values[j] = logSoftmax.getDouble(j, targets[j]);
        }
        return new TokenLogProbs(rows, targets, logSoftmax, values);
    }

    /** The log-prob of each scored row's target, in the order of the rows given. */
    public double[] values() {
        return values;
    }

    /**
     * Writes dL/dz into {@code gradient} ({@code [N, V]}, zero elsewhere) given dL/dlogp of every
     * scored row: dL/dz_j = g_j (onehot(y_j) - softmax(z_j)).
     */
    public void backprop(double[] dLossDLogp, INDArray gradient) {
        if (rows.length == 0) {
            return;
        }
        INDArray g = org.nd4j.linalg.factory.Nd4j.createFromArray(dLossDLogp).castTo(gradient.dataType())
                .reshape(rows.length, 1);
        INDArray rowGrads = Transforms.exp(logSoftmax, true).muliColumnVector(g).negi();
        for (int j = 0; j < rows.length; j++) {
            rowGrads.putScalar(j, targets[j], rowGrads.getDouble(j, targets[j]) + dLossDLogp[j]);
            gradient.putRow(rows[j], rowGrads.getRow(j));
        }
    }
}
