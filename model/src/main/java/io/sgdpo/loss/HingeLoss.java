package io.sgdpo.loss;

/**
 * Hinge loss on the DPO margin (SLiC-style).
 *
 * <pre>
 *   u = (logp_w - ref_w) - (logp_l - ref_l)
 *   L = max(0, 1 - beta u)
 *   dL/dlogp_w = -beta (if 1 - beta u &gt; 0, else 0),   dL/dlogp_l = -dL/dlogp_w
 * </pre>
 */
public final class HingeLoss implements PreferenceLoss {

    private static final long serialVersionUID = 1L;
    private final double beta;

    public HingeLoss(double beta) {
        this.beta = Losses.requirePositive("loss.beta", beta);
    }

    @Override
    public String name() {
        return "hinge";
    }

    @Override
    public double beta() {
        return beta;
    }

    @Override
    public PairLossResult evaluate(PairLogProbs p) {
        double u = (p.policyChosenSum() - p.refChosenSum()) - (p.policyRejectedSum() - p.refRejectedSum());
        double slack = 1 - beta * u;
        double dU = slack > 0 ? -beta : 0.0;
        return PairLossResult.uniform(Math.max(0, slack), dU, p.policyChosen().length, -dU, p.policyRejected().length);
    }

    @Override
    public String toString() {
        return "hinge(beta=" + beta + ")";
    }
}
