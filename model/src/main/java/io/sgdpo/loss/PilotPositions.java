package io.sgdpo.loss;

import java.util.Arrays;

/**
 * SGDPO's pilot sub-sequences of one pair: sorted, distinct response-token indices of the chosen
 * side (S_w) and of the rejected side (S_l). {@link #NONE} for losses that use no pilot.
 */
public record PilotPositions(int[] chosen, int[] rejected) implements java.io.Serializable {

    /** No pilot: the pair is scored by a loss other than SGDPO. */
    public static final PilotPositions NONE = new PilotPositions(new int[0], new int[0]);

    public boolean isEmpty() {
        return chosen.length == 0 && rejected.length == 0;
    }

    /** Sum of the per-token log-ratios (policy minus reference) at the given positions. */
    static double logRatioAt(int[] positions, double[] policy, double[] ref) {
        double s = 0;
        for (int t : positions) {
            s += policy[t] - ref[t];
        }
        return s;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PilotPositions p && Arrays.equals(chosen, p.chosen) && Arrays.equals(rejected, p.rejected);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(chosen) + Arrays.hashCode(rejected);
    }

    @Override
    public String toString() {
        return "PilotPositions{chosen=" + Arrays.toString(chosen) + ", rejected=" + Arrays.toString(rejected) + "}";
    }
}
