package io.sgdpo.nn;

import java.util.Objects;

/**
 * One preference pair as token ids, as the prep shards store it, with the reference model's
 * per-token log-probs of each response when they have been computed.
 *
 * @param pairId      content hash of the pair (stable id)
 * @param prompt      prompt token ids, at least one
 * @param chosen      chosen response token ids as prep stores them: ending with EOS when the
 *                    response is complete, without it when prep truncated the response
 * @param rejected    rejected response token ids, likewise
 * @param refChosen   reference log-probs of each chosen token ({@code chosen.length} values), or null
 * @param refRejected reference log-probs of each rejected token, or null
 */
public record PairExample(String pairId, int[] prompt, int[] chosen, int[] rejected,
                          double[] refChosen, double[] refRejected) implements java.io.Serializable {

    public PairExample {
        Objects.requireNonNull(pairId, "pairId");
        if (prompt.length == 0) {
            throw new IllegalArgumentException("pair " + pairId + ": empty prompt");
        }
        if (chosen.length == 0 || rejected.length == 0) {
            throw new IllegalArgumentException("pair " + pairId + ": empty response");
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
        if (ref != null && ref.length != response.length) {
            throw new IllegalArgumentException("pair " + pairId + ": " + side + " has " + response.length
                    + " tokens but " + ref.length + " reference log-probs");
        }
    }
}
