package io.sgdpo.loss;

/**
 * SimPO (Meng et al. 2024): a reference-free margin of length-normalised log-probs.
 *
 * <pre>
 *   z = beta * (logp_w / |y_w| - logp_l / |y_l|) - gamma
 *   L = -log sigmoid(z)
 *   dL/dlogp_w,t = -beta sigmoid(-z) / |y_w|,   dL/dlogp_l,t = +beta sigmoid(-z) / |y_l|
 * </pre>
 * Its rewards are beta times the average log-prob of each response (no reference model).
 */
public final class SimpoLoss implements PreferenceLoss {

    private static final long serialVersionUID = 1L;
    private final double beta;
    private final double gamma;

    public SimpoLoss(double beta, double gamma) {
        this.beta = Losses.requirePositive("loss.beta", beta);
        if (!(gamma >= 0) || Double.isInfinite(gamma)) {
            throw new IllegalArgumentException("loss.gamma must be a finite number >= 0, got " + gamma);
        }
        this.gamma = gamma;
    }

    @Override
    public String name() {
        return "simpo";
    }

    @Override
    public double beta() {
        return beta;
    }

    public double gamma() {
        return gamma;
    }

    @Override
    public boolean needsReference() {
        return false;
    }

    @Override
    public double[] rewards(PairLogProbs p) {
        return new double[] {
            beta * p.policyChosenSum() / p.policyChosen().length,
            beta * p.policyRejectedSum() / p.policyRejected().length
        };
    }

    @Override
    public PairLossResult evaluate(PairLogProbs p) {
        int nw = p.policyChosen().length;
        int nl = p.policyRejected().length;
        double z = beta * (p.policyChosenSum() / nw - p.policyRejectedSum() / nl) - gamma;
        double weight = LogSigmoid.sigmoid(-z);
        return PairLossResult.uniform(-LogSigmoid.logSigmoid(z), -beta * weight / nw, nw, beta * weight / nl, nl);
    }

    @Override
    public String toString() {
        return "simpo(beta=" + beta + ", gamma=" + gamma + ")";
    }
}
