package io.sgdpo.loss;

/**
 * Conservative DPO (cDPO): DPO with label smoothing eps, for preference labels that are wrong with
 * probability eps.
 *
 * <pre>
 *   u = (logp_w - ref_w) - (logp_l - ref_l)
 *   L = -(1 - eps) log sigmoid(beta u) - eps log sigmoid(-beta u)
 *   dL/dlogp_w = beta * [-(1 - eps) sigmoid(-beta u) + eps sigmoid(beta u)] = -dL/dlogp_l
 * </pre>
 */
public final class CdpoLoss implements PreferenceLoss {

    private static final long serialVersionUID = 1L;
    private final double beta;
    private final double labelSmoothing;

    public CdpoLoss(double beta, double labelSmoothing) {
        this.beta = Losses.requirePositive("loss.beta", beta);
        this.labelSmoothing = Losses.requireLabelSmoothing(labelSmoothing);
    }

    @Override
    public String name() {
        return "cdpo";
    }

    @Override
    public double beta() {
        return beta;
    }

    public double labelSmoothing() {
        return labelSmoothing;
    }

    @Override
    public PairLossResult evaluate(PairLogProbs p) {
        return SigmoidPreference.evaluate(p, beta, labelSmoothing);
    }

    @Override
    public String toString() {
        return "cdpo(beta=" + beta + ", eps=" + labelSmoothing + ")";
    }
}
