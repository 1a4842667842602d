package io.sgdpo.prep;

import java.io.Serializable;

/**
 * One input record after parsing: either a pair (prompt, chosen, rejected, id) or a rejection
 * (reason, detail). Source and line are always set so a reject can be traced to its input.
 */
public final class ParsedRecord implements Serializable {
    private static final long serialVersionUID = 1L;

    public final String sourceFile;
    public final int fileIndex;
    public final long line;
    public final String raw;
    public final RejectReason reason;
    public final String detail;
    public final String prompt;
    public final String chosen;
    public final String rejected;
    public final String pairId;

    private ParsedRecord(String sourceFile, int fileIndex, long line, String raw, RejectReason reason,
                         String detail, String prompt, String chosen, String rejected, String pairId) {
        this.sourceFile = sourceFile;
        this.fileIndex = fileIndex;
        this.line = line;
        this.raw = raw;
        this.reason = reason;
        this.detail = detail;
        this.prompt = prompt;
        this.chosen = chosen;
        this.rejected = rejected;
        this.pairId = pairId;
    }

    static ParsedRecord pair(String sourceFile, int fileIndex, long line, String raw,
                             String prompt, String chosen, String rejected) {
        return new ParsedRecord(sourceFile, fileIndex, line, raw, null, null, prompt, chosen, rejected,
                PairId.of(prompt, chosen, rejected));
    }

    static ParsedRecord reject(String sourceFile, int fileIndex, long line, String raw,
                               RejectReason reason, String detail) {
        return new ParsedRecord(sourceFile, fileIndex, line, raw, reason, detail, null, null, null, null);
    }

    /** This record, rejected after parsing (duplicate, empty after truncation, ...). */
    ParsedRecord rejectAs(RejectReason why, String why2) {
        return new ParsedRecord(sourceFile, fileIndex, line, raw, why, why2, null, null, null, null);
    }

    public boolean isPair() {
        return reason == null;
    }
}
