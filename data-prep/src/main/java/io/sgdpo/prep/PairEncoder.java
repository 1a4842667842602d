package io.sgdpo.prep;

import io.sgdpo.prep.tokenize.Vocabulary;

import java.io.Serializable;
import java.util.Arrays;

/**
 * Tokenizes a validated pair with the trimmed vocabulary and applies the length limits:
 * the prompt keeps its last {@code maxPromptLength} ids (the end of a dialogue matters most), each
 * response gets EOS appended and is cut at its end to fit {@code maxTotalLength} with the prompt.
 */
public final class PairEncoder implements Serializable {
    private static final long serialVersionUID = 1L;

    private final Vocabulary vocab;
    private final int maxPromptLength;
    private final int maxTotalLength;
    private final SplitRule splits;

    /** An encoder for inputs that are all ordinary: the split follows the pair id and {@code prep.evalFraction}. */
    public PairEncoder(Vocabulary vocab, PrepSettings s) {
        this(vocab, s, SplitRule.byHash(s.evalFraction()));
    }

    /** An encoder whose pairs get the split {@code splits} decides for their file and id. */
    public PairEncoder(Vocabulary vocab, PrepSettings s, SplitRule splits) {
        this.vocab = vocab;
        this.maxPromptLength = s.maxPromptLength();
        this.maxTotalLength = s.maxTotalLength();
        this.splits = splits;
    }

    /** The tokenized pair, or a reject when nothing of a response fits, or truncation made them equal. */
    public PrepOutcome encode(ParsedRecord r) {
        int[] prompt = vocab.encode(r.prompt);
        boolean promptCut = prompt.length > maxPromptLength;
        if (promptCut) {
            prompt = Arrays.copyOfRange(prompt, prompt.length - maxPromptLength, prompt.length);
        }
        int room = maxTotalLength - prompt.length;
        if (prompt.length == 0 || room <= 0) {
            return PrepOutcome.reject(r.rejectAs(RejectReason.EMPTY_AFTER_TRUNCATION, prompt.length == 0
                    ? "prompt has no tokens" : "prompt of " + prompt.length + " ids leaves no room for a response"
                    + " within prep.maxTotalLength = " + maxTotalLength));
        }
        int[] chosen = withEos(vocab.encode(r.chosen));
        int[] rejected = withEos(vocab.encode(r.rejected));
        boolean chosenCut = chosen.length > room;
        boolean rejectedCut = rejected.length > room;
        if (chosenCut) {
            chosen = Arrays.copyOf(chosen, room);
        }
        if (rejectedCut) {
            rejected = Arrays.copyOf(rejected, room);
        }
        if (Arrays.equals(chosen, rejected)) {
            return PrepOutcome.reject(r.rejectAs(RejectReason.IDENTICAL_RESPONSES,
                    "chosen and rejected are the same after truncation to " + room + " ids"));
        }
        return PrepOutcome.pair(r, splits.split(r.fileIndex, r.pairId), prompt, chosen, rejected,
                promptCut, chosenCut, rejectedCut);
    }

    private int[] withEos(int[] ids) {
        int[] out = Arrays.copyOf(ids, ids.length + 1);
        out[ids.length] = vocab.eosId();
        return out;
    }
}
