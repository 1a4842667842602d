package io.sgdpo.loss;

import java.io.Serializable;

/**
 * A pairwise preference loss over per-token log-probs.
 *
 * <p>Every implementation returns the loss of one pair and its exact gradient with respect to each
 * per-token policy log-prob; reference log-probs and pilots are constants. Log-probs are sums over
 * response tokens, never length-normalised, unless the loss's own formula says otherwise.
 */
public interface PreferenceLoss extends Serializable {

    /** The name this loss is selected by in config ({@code loss.name}). */
    String name();

    /** The loss of one pair and its gradient with respect to every per-token policy log-prob. */
    PairLossResult evaluate(PairLogProbs pair);

    /**
     * The implicit rewards (r_w, r_l) that metrics report for this pair: full-sequence values, never
     * a pilot. DPO-family default: beta * (log pi_theta - log pi_ref) summed over the response.
     */
    default double[] rewards(PairLogProbs pair) {
        double beta = beta();
        return new double[] {
            beta * (pair.policyChosenSum() - pair.refChosenSum()),
            beta * (pair.policyRejectedSum() - pair.refRejectedSum())
        };
    }

    /** The inverse temperature beta of the loss. */
    double beta();

    /** Whether the loss reads reference log-probs (SimPO does not). */
    default boolean needsReference() {
        return true;
    }

    /**
     * Pilot positions for one pair, drawn reproducibly from (seed, global step, pair id); losses
     * that use no pilot return {@link PilotPositions#NONE}.
     */
    default PilotPositions drawPilots(long seed, long step, String pairId, int chosenLength, int rejectedLength) {
        return PilotPositions.NONE;
    }
}
