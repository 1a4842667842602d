package io.sgdpo.loss;

/**
 * The loss of one pair and its gradient with respect to every per-token policy log-prob.
 *
 * @param loss           the pair's loss value
 * @param gradChosen     dL/d log pi_theta(y_w,t), one entry per chosen response token
 * @param gradRejected   dL/d log pi_theta(y_l,t), one entry per rejected response token
 */
public record PairLossResult(double loss, double[] gradChosen, double[] gradRejected) {

    /** A result whose gradient is the same for every token of a side (losses of sequence sums). */
    static PairLossResult uniform(double loss, double dChosen, int lenChosen, double dRejected, int lenRejected) {
        double[] gw = new double[lenChosen];
        double[] gl = new double[lenRejected];
        java.util.Arrays.fill(gw, dChosen);
        java.util.Arrays.fill(gl, dRejected);
        return new PairLossResult(loss, gw, gl);
    }
}
