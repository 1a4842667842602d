package io.sgdpo.loss;

/**
 * DPO with the sigmoid loss (Rafailov et al. 2023).
 *
 * <pre>
 *   u     = (logp_w - ref_w) - (logp_l - ref_l)
 *   L     = -log sigmoid(beta * u)
 *   dL/dlogp_w = -beta * sigmoid(-beta * u),   dL/dlogp_l = +beta * sigmoid(-beta * u)
 * </pre>
 * One shared weight sigmoid(-beta u) drives both sides; each token of a side gets its side's
 * derivative, because a sequence log-prob is the sum of its token log-probs.
 */
public final class DpoLoss implements PreferenceLoss {

    private static final long serialVersionUID = 1L;
    private final double beta;

    public DpoLoss(double beta) {
        this.beta = Losses.requirePositive("loss.beta", beta);
    }

    @Override
    public String name() {
        return "dpo";
    }

    @Override
    public double beta() {
        return beta;
    }

    @Override
    public PairLossResult evaluate(PairLogProbs p) {
        return SigmoidPreference.evaluate(p, beta, 0.0);
    }

    @Override
    public String toString() {
        return "dpo(beta=" + beta + ")";
    }
}
