package io.sgdpo.loss;

import java.util.Objects;

/**
 * Per-token log-probabilities of one preference pair, response tokens only, in sequence order.
 *
 * <p>The prompt is already masked out: index {@code t} of each array is the t-th response token.
 * Reference arrays may be empty for losses that use no reference model (SimPO); otherwise they
 * have the same length as the policy arrays of their side.
 *
 * @param policyChosen   log pi_theta(y_w,t | x, y_w,&lt;t) for every response token of the chosen side
 * @param refChosen      log pi_ref of the same tokens
 * @param policyRejected log pi_theta of the rejected response tokens
 * @param refRejected    log pi_ref of the rejected response tokens
 * @param pilots         SGDPO's pilot positions (indices into the arrays above), or {@link PilotPositions#NONE}
 */
public record PairLogProbs(double[] policyChosen, double[] refChosen,
                           double[] policyRejected, double[] refRejected,
                           PilotPositions pilots) implements java.io.Serializable {

    public PairLogProbs {
        Objects.requireNonNull(policyChosen, "policyChosen");
        Objects.requireNonNull(policyRejected, "policyRejected");
        Objects.requireNonNull(refChosen, "refChosen");
        Objects.requireNonNull(refRejected, "refRejected");
        Objects.requireNonNull(pilots, "pilots (use PilotPositions.NONE)");
        if (policyChosen.length == 0 || policyRejected.length == 0) {
            throw new IllegalArgumentException("a pair needs at least one response token on each side, got "
                    + policyChosen.length + " chosen and " + policyRejected.length + " rejected");
        }
    }

    /** A pair without pilot positions (every loss but SGDPO). */
    public PairLogProbs(double[] policyChosen, double[] refChosen, double[] policyRejected, double[] refRejected) {
        this(policyChosen, refChosen, policyRejected, refRejected, PilotPositions.NONE);
    }

    public double policyChosenSum() {
        return sum(policyChosen);
    }

    public double policyRejectedSum() {
        return sum(policyRejected);
    }

    public double refChosenSum() {
        return sum(refChosen);
    }

    public double refRejectedSum() {
        return sum(refRejected);
    }

    /** True when both reference arrays match their policy arrays in length. */
    public boolean hasReference() {
        return refChosen.length == policyChosen.length && refRejected.length == policyRejected.length;
    }

    static double sum(double[] values) {
        double s = 0;
        for (double v : values) {
            s += v;
        }
        return s;
    }
}
