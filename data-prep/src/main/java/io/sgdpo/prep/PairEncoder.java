package io.sgdpo.prep;

import io.sgdpo.prep.tokenize.TokenCodec;

import java.io.Serializable;
import java.util.Arrays;

/**
 * Tokenizes a validated pair (with the trimmed vocabulary or the model's own tokenizer) and applies
 * the length limits: the prompt keeps its last {@code maxPromptLength} ids (the end of a dialogue
 * matters most; a BOS the tokenizer put first stays first), each response gets EOS appended and is
 * cut at its end to fit {@code maxTotalLength} with the prompt.
 */
public final class PairEncoder implements Serializable {
    private static final long serialVersionUID = 1L;

    private final TokenCodec vocab;
    private final int maxPromptLength;
    private final int maxTotalLength;
    private final SplitRule splits;

    /** An encoder for inputs that are all ordinary: the split follows the pair id and {@code prep.evalFraction}. */
    public PairEncoder(TokenCodec vocab, PrepSettings s) {
        this(vocab, s, SplitRule.byHash(s.evalFraction()));
    }

    /** An encoder whose pairs get the split {@code splits} decides for their file and id. */
    public PairEncoder(TokenCodec vocab, PrepSettings s, SplitRule splits) {
        this.vocab = vocab;
        this.maxPromptLength = s.maxPromptLength();
        this.maxTotalLength = s.maxTotalLength();
        this.splits = splits;
    }

    /** The tokenized pair, or a reject when nothing of a response fits, or truncation made them equal. */
    public PrepOutcome encode(ParsedRecord r) {
        int[] prompt = vocab.encodePrompt(r.prompt);
        boolean promptCut = prompt.length > maxPromptLength;
        if (promptCut) {
            prompt = lastIds(prompt);
        }
        int room = maxTotalLength - prompt.length;
        if (prompt.length == 0 || room <= 0) {
            return PrepOutcome.reject(r.rejectAs(RejectReason.EMPTY_AFTER_TRUNCATION, prompt.length == 0
                    ? "prompt has no tokens" : "prompt of " + prompt.length + " ids leaves no room for a response"
                    + " within prep.maxTotalLength = " + maxTotalLength));
        }
        int[] chosen = withEos(vocab.encodeResponse(r.prompt, r.chosen));
        int[] rejected = withEos(vocab.encodeResponse(r.prompt, r.rejected));
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

    /** The last maxPromptLength ids, behind the BOS the tokenizer started the prompt with (if any). */
    private int[] lastIds(int[] prompt) {
        boolean bos = vocab.bosId() >= 0 && prompt[0] == vocab.bosId() && maxPromptLength > 1;
        int[] cut = Arrays.copyOfRange(prompt, prompt.length - maxPromptLength, prompt.length);
        if (bos) {
            cut[0] = vocab.bosId();
        }
        return cut;
    }

    private int[] withEos(int[] ids) {
        int[] out = Arrays.copyOf(ids, ids.length + 1);
        out[ids.length] = vocab.eosId();
        return out;
    }
}
