package io.sgdpo.nn;

import java.util.Objects;

/**
 * One preference pair as token ids, as the prep shards store it, with the reference model's
 * per-token log-probs of each response when they have been computed.
 *
 * @param pairId      content hash of the pair (stable id)
 * @param prompt      prompt token ids, at least one
 * @param chosen      chosen response token ids, without EOS
 * @param rejected    rejected response token ids, without EOS
 * @param refChosen   reference log-probs of chosen + EOS ({@code chosen.length + 1} values), or null
 * @param refRejected reference log-probs of rejected + EOS, or null
 */
public record PairExample(String pairId, int[] prompt, int[] chosen, int[] rejected,
                          double[] refChosen, double[] refRejected) {

    public PairExample {
        Objects.requireNonNull(pairId, "pairId");
        if (prompt.length == 0) {
            throw new IllegalArgumentException("pair " + pairId + ": empty prompt");
        }
        checkReference(pairId, "chosen", chosen, refChosen);
        checkReference(pairId, "rejected", rejected, refRejected);
    }

    /** A pair without reference log-probs (SFT, the reference pass itself, SimPO). */
    public PairExample(String pairId, int[] prompt, int[] chosen, int[] rejected) {
        this(pairId, prompt, chosen, rejected, null, null);
    }

    public boolean hasReference() {
        return refChosen != null && refRejected != null;
    }

    /** The same pair carrying reference log-probs. */
    public PairExample withReference(double[] newRefChosen, double[] newRefRejected) {
        return new PairExample(pairId, prompt, chosen, rejected, newRefChosen, newRefRejected);
    }

    private static void checkReference(String pairId, String side, int[] response, double[] ref) {
        if (ref != null && ref.length != response.length + 1) {
            throw new IllegalArgumentException("pair " + pairId + ": " + side + " has " + response.length
                    + " tokens + EOS but " + ref.length + " reference log-probs");
        }
    }
}
