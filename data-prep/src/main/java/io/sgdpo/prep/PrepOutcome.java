package io.sgdpo.prep;

import java.io.Serializable;

/**
 * Final fate of one input record: a tokenized pair bound for DIR/pairs, or a reject bound for
 * DIR/rejects. The manifest's counts are aggregated from these, so each record is counted once.
 */
public final class PrepOutcome implements Serializable {
    private static final long serialVersionUID = 1L;

    public final int fileIndex;
    public final String sourceFile;
    public final long line;
    // reject
    public final RejectReason reason;
    public final String detail;
    public final String raw;
    // pair
    public final String pairId;
    public final String split;
    public final int[] promptIds;
    public final int[] chosenIds;
    public final int[] rejectedIds;
    public final boolean promptTruncated;
    public final boolean chosenTruncated;
    public final boolean rejectedTruncated;

    private PrepOutcome(int fileIndex, String sourceFile, long line, RejectReason reason, String detail, String raw,
                        String pairId, String split, int[] promptIds, int[] chosenIds, int[] rejectedIds,
                        boolean promptTruncated, boolean chosenTruncated, boolean rejectedTruncated) {
        this.fileIndex = fileIndex;
        this.sourceFile = sourceFile;
        this.line = line;
        this.reason = reason;
        this.detail = detail;
        this.raw = raw;
        this.pairId = pairId;
        this.split = split;
        this.promptIds = promptIds;
        this.chosenIds = chosenIds;
        this.rejectedIds = rejectedIds;
        this.promptTruncated = promptTruncated;
        this.chosenTruncated = chosenTruncated;
        this.rejectedTruncated = rejectedTruncated;
    }

    static PrepOutcome reject(ParsedRecord r) {
        return new PrepOutcome(r.fileIndex, r.sourceFile, r.line, r.reason, r.detail, r.raw,
                null, null, null, null, null, false, false, false);
    }

    static PrepOutcome pair(ParsedRecord r, String split, int[] prompt, int[] chosen, int[] rejected,
                            boolean promptTruncated, boolean chosenTruncated, boolean rejectedTruncated) {
        return new PrepOutcome(r.fileIndex, r.sourceFile, r.line, null, null, null, r.pairId, split,
                prompt, chosen, rejected, promptTruncated, chosenTruncated, rejectedTruncated);
    }

    public boolean isPair() {
        return reason == null;
    }
}
