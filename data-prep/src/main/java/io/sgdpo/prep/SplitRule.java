package io.sgdpo.prep;

import java.io.Serializable;
import java.util.List;

/**
 * The one place that decides a pair's split, used both to choose the pairs whose text builds the
 * vocabulary and to label the encoded pairs, so the two can never disagree.
 *
 * <p>A pair read from an eval input is always "eval": data sets such as UltraFeedback ship their
 * own held-out file, and results are only comparable when exactly that file is evaluated on. A pair
 * read from an ordinary input is split by {@link PairId#split} with {@code prep.evalFraction}, so
 * with eval inputs and a non-zero fraction the eval split holds both the eval files and a hash-chosen
 * share of the ordinary inputs.
 */
public final class SplitRule implements Serializable {
    private static final long serialVersionUID = 1L;

    private final double evalFraction;
    /** By file index: whether that file is an eval input. */
    private final boolean[] evalInput;

    private SplitRule(double evalFraction, boolean[] evalInput) {
        this.evalFraction = evalFraction;
        this.evalInput = evalInput;
    }

    /** The rule for these resolved inputs (indexed by {@link InputFile#index()}). */
    public static SplitRule of(List<InputFile> files, double evalFraction) {
        boolean[] eval = new boolean[files.size()];
        for (InputFile f : files) {
            eval[f.index()] = f.evalInput();
        }
        return new SplitRule(evalFraction, eval);
    }

    /** The rule when every input is ordinary: the split follows the pair id alone. */
    public static SplitRule byHash(double evalFraction) {
        return new SplitRule(evalFraction, new boolean[0]);
    }

    /** "eval" or "train" for the pair {@code pairId} read from the input file {@code fileIndex}. */
    public String split(int fileIndex, String pairId) {
        if (fileIndex < evalInput.length && evalInput[fileIndex]) {
            return PairSchema.EVAL;
        }
        return PairId.split(pairId, evalFraction);
    }

    /** Whether the pair counts towards the vocabulary, which is built from the train split only. */
    public boolean isTrain(int fileIndex, String pairId) {
        return PairSchema.TRAIN.equals(split(fileIndex, pairId));
    }
}
