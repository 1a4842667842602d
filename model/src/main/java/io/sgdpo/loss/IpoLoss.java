package io.sgdpo.loss;

/**
 * IPO (Azar et al. 2023), with token-averaged log-ratios as in TRL.
 *
 * <pre>
 *   u_avg = (logp_w - ref_w) / |y_w| - (logp_l - ref_l) / |y_l|
 *   L     = (u_avg - 1 / (2 beta))^2
 *   dL/dlogp_w,t = 2 (u_avg - 1/(2 beta)) / |y_w|,   dL/dlogp_l,t = -2 (u_avg - 1/(2 beta)) / |y_l|
 * </pre>
 */
public final class IpoLoss implements PreferenceLoss {

    private static final long serialVersionUID = 1L;
    private final double beta;

    public IpoLoss(double beta) {
        this.beta = Losses.requirePositive("loss.beta", beta);
    }

    @Override
    public String name() {
        return "ipo";
    }

    @Override
    public double beta() {
        return beta;
    }

    @Override
    public PairLossResult evaluate(PairLogProbs p) {
        int nw = p.policyChosen().length;
        int nl = p.policyRejected().length;
        double uAvg = (p.policyChosenSum() - p.refChosenSum()) / nw - (p.policyRejectedSum() - p.refRejectedSum()) / nl;
        double d = uAvg - 1.0 / (2.0 * beta);
        return PairLossResult.uniform(d * d, 2 * d / nw, nw, -2 * d / nl, nl);
    }

    @Override
    public String toString() {
        return "ipo(beta=" + beta + ")";
    }
}
