package io.sgdpo.nn;

/**
 * The label channels of a paired minibatch, {@code [2B, CHANNELS, T]}: row i &lt; B is the chosen
 * response of pair i and row i + B its rejected response. Channel values at time t describe the
 * target token predicted at t (the next token of the sequence).
 */
public final class PairedLabels {

    /** Target token id (next token). */
    public static final int TARGET = 0;
    /** 1 where the target is a response token (EOS included), 0 on prompt and padding. */
    public static final int RESPONSE = 1;
    /** Reference log-prob of the target token (0 outside the response). */
    public static final int REFERENCE = 2;
    /** 1 where the target belongs to SGDPO's pilot sub-sequence. */
    public static final int PILOT = 3;
    /**
     * Pair tag: +tag on the chosen row, -tag on the rejected row, tag = 1 + 23 bits of a hash of
     * the pair id (exact in float32). A split, merged or reordered minibatch breaks the pattern.
     */
    public static final int PAIR_TAG = 4;
    /** The row's index in the minibatch as built, so that a re-batched minibatch is detected. */
    public static final int ROW = 5;
    /**
     * The time step t, so that rows of two merged minibatches, which DL4J flattens time-major,
     * cannot pass for the later time steps of one minibatch.
     */
    public static final int POSITION = 6;
    /** Number of label channels. */
    public static final int CHANNELS = 7;

    private PairedLabels() {
    }

    /** The pair tag of a pair id: 1 + (FNV-1a hash mod 2^23). */
    public static int tagOf(String pairId) {
        int h = 0x811c9dc5;
        for (int i = 0; i < pairId.length(); i++) {
            h = (h ^ pairId.charAt(i)) * 0x01000193;
        }
        return 1 + (h & 0x7fffff);
    }
}
