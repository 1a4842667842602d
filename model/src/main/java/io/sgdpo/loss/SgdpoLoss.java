package io.sgdpo.loss;

/**
 * SGDPO: Self-Guided Direct Preference Optimization (Zhu et al., ACL 2025 Findings).
 *
 * <p>A pilot is the log-ratio of a random sub-sequence of one response, held constant:
 * <pre>
 *   m   = min(|y_w|, |y_l|),  k_w = max(floor(m r1), 1),  k_l = max(floor(m r2), 1)
 *   P_w = sum_{t in S_w} [logp_w,t - ref_w,t]     (S_w: k_w distinct positions of y_w; no gradient)
 *   P_l = sum_{t in S_l} [logp_l,t - ref_l,t]     (S_l: k_l distinct positions of y_l; no gradient)
 *   u1  = (logp_w - ref_w) - P_l                  chosen side against the rejected pilot
 *   u2  = P_w - (logp_l - ref_l)                  chosen pilot against the rejected side
 *   L   = 1/2 f(beta u1) + 1/2 f(beta u2),        f(z) = -(1-eps) log sigmoid(z) - eps log sigmoid(-z)
 *   dL/dlogp_w = (beta/2) f'(beta u1),   dL/dlogp_l = -(beta/2) f'(beta u2)
 * </pre>
 * With eps = 0: dL/dlogp_w = -(beta/2) sigmoid(-beta u1) and dL/dlogp_l = +(beta/2) sigmoid(-beta u2),
 * so the chosen and rejected sides get separate weights, each steered by the other side's pilot.
 * The positions are drawn by {@link PilotSampler} from (seed, global step, pair id).
 */
public final class SgdpoLoss implements PreferenceLoss {

    private static final long serialVersionUID = 1L;
    private final double beta;
    private final PilotSampler sampler;
    private final double labelSmoothing;

    /**
     * @param beta           inverse temperature, &gt; 0
     * @param r1             chosen pilot ratio in (0, 1]
     * @param r2             rejected pilot ratio in (0, 1]
     * @param labelSmoothing eps in [0, 0.5)
     */
    public SgdpoLoss(double beta, double r1, double r2, double labelSmoothing) {
        this.beta = Losses.requirePositive("loss.beta", beta);
        this.sampler = new PilotSampler(r1, r2);
        this.labelSmoothing = Losses.requireLabelSmoothing(labelSmoothing);
    }

    @Override
    public String name() {
        return "sgdpo";
    }

    @Override
    public double beta() {
        return beta;
    }

    public double r1() {
        return sampler.r1();
    }

    public double r2() {
        return sampler.r2();
    }

    public double labelSmoothing() {
        return labelSmoothing;
    }

    @Override
    public PilotPositions drawPilots(long seed, long step, String pairId, int chosenLength, int rejectedLength) {
        return sampler.draw(seed, step, pairId, chosenLength, rejectedLength);
    }

    @Override
    public PairLossResult evaluate(PairLogProbs p) {
        if (p.pilots().isEmpty()) {
            throw new IllegalArgumentException("sgdpo needs pilot positions for every pair: draw them with drawPilots");
        }
        double pilotChosen = PilotPositions.logRatioAt(p.pilots().chosen(), p.policyChosen(), p.refChosen());
        double pilotRejected = PilotPositions.logRatioAt(p.pilots().rejected(), p.policyRejected(), p.refRejected());
        return evaluateWithPilots(p, pilotChosen, pilotRejected);
    }

    /**
     * The loss with the pilot values P_w and P_l given as constants: the function whose gradient
     * {@link #evaluate} returns (the pilots carry no gradient).
     */
    public PairLossResult evaluateWithPilots(PairLogProbs p, double pilotChosen, double pilotRejected) {
        double u1 = (p.policyChosenSum() - p.refChosenSum()) - pilotRejected;
        double u2 = pilotChosen - (p.policyRejectedSum() - p.refRejectedSum());
        double[] t1 = LogSigmoid.smoothedTerm(beta * u1, labelSmoothing);
        double[] t2 = LogSigmoid.smoothedTerm(beta * u2, labelSmoothing);
        double loss = 0.5 * t1[0] + 0.5 * t2[0];
        double dChosen = 0.5 * beta * t1[1];
        double dRejected = -0.5 * beta * t2[1];
        return PairLossResult.uniform(loss, dChosen, p.policyChosen().length, dRejected, p.policyRejected().length);
    }

    @Override
    public String toString() {
        return "sgdpo(beta=" + beta + ", r1=" + r1() + ", r2=" + r2() + ", eps=" + labelSmoothing + ")";
    }
}
