package io.sgdpo.prep;

import io.sgdpo.prep.tokenize.Vocabulary;

import java.io.Serializable;
import java.util.Map;
import java.util.TreeMap;

/** Counts over all outcomes, aggregated by Spark; what the manifest's "counts" section reports. */
public final class PrepStats implements Serializable {
    private static final long serialVersionUID = 1L;

    public long read;
    public long kept;
    public long train;
    public long eval;
    public final Map<String, Long> rejectedByReason = new TreeMap<>();
    public long promptTruncated;
    public long chosenTruncated;
    public long rejectedTruncated;
    public long pairsTruncated;
    public long promptTokens;
    public long responseTokens;
    /** Ids that are byte tokens (pieces not kept in the trimmed vocabulary, or single bytes). */
    public long byteTokenIds;
    public final Map<Integer, Long> readByFile = new TreeMap<>();
    public final Map<Integer, Long> keptByFile = new TreeMap<>();

    public PrepStats() {
        for (RejectReason r : RejectReason.values()) {
            rejectedByReason.put(r.id(), 0L);
        }
    }

    /** Adds one outcome. */
    public PrepStats add(PrepOutcome o) {
        read++;
        readByFile.merge(o.fileIndex, 1L, Long::sum);
        if (!o.isPair()) {
            rejectedByReason.merge(o.reason.id(), 1L, Long::sum);
            return this;
        }
        kept++;
        keptByFile.merge(o.fileIndex, 1L, Long::sum);
        if (PairSchema.EVAL.equals(o.split)) {
            eval++;
        } else {
            train++;
        }
        promptTruncated += o.promptTruncated ? 1 : 0;
        chosenTruncated += o.chosenTruncated ? 1 : 0;
        rejectedTruncated += o.rejectedTruncated ? 1 : 0;
        pairsTruncated += o.promptTruncated || o.chosenTruncated || o.rejectedTruncated ? 1 : 0;
        promptTokens += o.promptIds.length;
        responseTokens += o.chosenIds.length + o.rejectedIds.length;
        byteTokenIds += bytes(o.promptIds) + bytes(o.chosenIds) + bytes(o.rejectedIds);
        return this;
    }

    /** Combines two partial aggregates. */
    public PrepStats merge(PrepStats other) {
        read += other.read;
        kept += other.kept;
        train += other.train;
        eval += other.eval;
        other.rejectedByReason.forEach((k, v) -> rejectedByReason.merge(k, v, Long::sum));
        promptTruncated += other.promptTruncated;
        chosenTruncated += other.chosenTruncated;
        rejectedTruncated += other.rejectedTruncated;
        pairsTruncated += other.pairsTruncated;
        promptTokens += other.promptTokens;
        responseTokens += other.responseTokens;
        byteTokenIds += other.byteTokenIds;
        other.readByFile.forEach((k, v) -> readByFile.merge(k, v, Long::sum));
        other.keptByFile.forEach((k, v) -> keptByFile.merge(k, v, Long::sum));
        return this;
    }

    public long rejected() {
        return rejectedByReason.values().stream().mapToLong(Long::longValue).sum();
    }

    private static long bytes(int[] ids) {
        long n = 0;
        for (int id : ids) {
            if (id < Vocabulary.BYTE_TOKENS) {
                n++;
            }
        }
        return n;
    }
}
