package io.sgdpo.nn;

import io.sgdpo.loss.PilotPositions;
import io.sgdpo.loss.PreferenceLoss;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Builds one paired minibatch: B pairs become 2B rows (B chosen, then B rejected) of length T.
 *
 * <p>T is the model's length ({@code model.maxLength}), or, for a model that takes shorter rows
 * ({@link #forModel}), the minibatch's longest row rounded up to a multiple of {@link #LENGTH_STEP}:
 * padding carries no information (causal attention keeps every real position from seeing it, and
 * its targets are not the response's), so the shorter minibatch computes the same log-probs and
 * gradients up to rounding, on fewer positions. The rounding keeps the number of distinct shapes
 * small. The length is a function of the minibatch's pairs alone, so a replay pads alike.
 *
 * <p>Each row is the sequence prompt + response, shifted by one: input t is token t and target t
 * is token t+1; targets on the response (its EOS included, when prep kept one) are marked in the
 * {@link PairedLabels#RESPONSE} channel. Rows are right-padded with PAD, which causal attention
 * never lets a real position see. Pilot positions are drawn here, per pair, from
 * (seed, global step, pair id), so the draw travels with the data and a resumed run redraws it.
 */
public final class PairedBatch implements java.io.Serializable {

    private static final long serialVersionUID = 1L;

    /** Minibatches of a model that takes shorter rows are padded to a multiple of this many positions. */
    public static final int LENGTH_STEP = 8;

    private final int maxLength;
    private final int padId;
    private final int lengthStep;

    /**
     * Every minibatch padded to {@code length}.
     *
     * @param length sequence length T of the decoder ({@code model.maxLength})
     * @param padId  id of the padding token
     */
    public PairedBatch(int length, int padId) {
        this(length, padId, 0);
    }

    /**
     * @param length     the longest T ({@code model.maxLength})
     * @param padId      id of the padding token
     * @param lengthStep pad each minibatch to its longest row rounded up to a multiple of this, at
     *                   most {@code length}; 0: every minibatch to {@code length}
     */
    public PairedBatch(int length, int padId, int lengthStep) {
        if (lengthStep < 0) {
            throw new IllegalArgumentException("length step must be >= 0, got " + lengthStep);
        }
        this.maxLength = length;
        this.padId = padId;
        this.lengthStep = lengthStep;
    }

    /**
     * The layout for {@code model}: minibatches padded to their own longest row where the model takes
     * shorter rows than its length ({@link LanguageModels#takesShorterRows}), else to its length.
     */
    public static PairedBatch forModel(ComputationGraph model, int padId) {
        var conf = model.getConfiguration();
        return new PairedBatch(LanguageModels.describe(conf).maxLength(), padId,
                LanguageModels.takesShorterRows(conf) ? LENGTH_STEP : 0);
    }

    /** T of a minibatch whose longest row holds {@code longest} positions. */
    public int rowLength(int longest) {
        if (lengthStep == 0) {
            return maxLength;
        }
        int rounded = (Math.max(1, longest) + lengthStep - 1) / lengthStep * lengthStep;
        return Math.min(maxLength, rounded);
    }

    /**
     * The pairs' indices in passes of at most {@code batchSize}, for scoring (no gradient), where the
     * order of the pairs does not change what is computed beyond float rounding: with minibatches
     * padded to their own longest row, the pairs by their longest row, longest first, so that each
     * pass holds pairs of like length (and the first pass sizes the workspaces the later ones fit
     * in); else in their order. Callers put the scores back in the pairs' order.
     */
    public List<Pass> passes(List<PairExample> pairs, int batchSize) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        }
        Integer[] order = new Integer[pairs.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        if (lengthStep > 0) { // a stable sort: pairs of one length stay in their order
            Arrays.sort(order, Comparator.comparingInt(i -> -longestRow(pairs.get(i))));
        }
        List<Pass> passes = new ArrayList<>();
        for (int from = 0; from < order.length; from += batchSize) {
            int[] indices = new int[Math.min(batchSize, order.length - from)];
            List<PairExample> members = new ArrayList<>(indices.length);
            for (int k = 0; k < indices.length; k++) {
                indices[k] = order[from + k];
                members.add(pairs.get(indices[k]));
            }
            passes.add(new Pass(indices, members));
        }
        return passes;
    }

    /** One pass of {@link #passes}: its pairs, and their indices in the list given. */
    public record Pass(int[] indices, List<PairExample> pairs) {
    }

    /** Positions of a pair's longer row: prompt and the longer response, less the last token (a target only). */
    public static int longestRow(PairExample p) {
        return p.prompt().length + Math.max(p.chosen().length, p.rejected().length) - 1;
    }

    /** How a minibatch is padded, for progress lines. */
    public String describe() {
        return lengthStep == 0 ? "padded to model.maxLength " + maxLength
                : "padded to its longest row, rounded up to a multiple of " + lengthStep + ", at most model.maxLength "
                + maxLength;
    }

    /**
     * Input ids {@code [n, 1, T]} of single sequences (prompt + tokens), for scoring or generation;
     * T the model's length.
     */
    public INDArray inputs(List<int[]> sequences, DataType type) {
        INDArray features = Nd4j.valueArrayOf(new long[] {sequences.size(), 1, maxLength}, (double) padId, type);
        for (int i = 0; i < sequences.size(); i++) {
            int[] seq = sequences.get(i);
            if (seq.length > maxLength) {
                throw new IllegalArgumentException("sequence of " + seq.length + " tokens exceeds model.maxLength "
                        + maxLength);
            }
            for (int t = 0; t < seq.length; t++) {
                features.putScalar(new long[] {i, 0, t}, seq[t]);
            }
        }
        return features;
    }

    /**
     * An SFT minibatch: one row per pair, the sequence prompt + chosen, with the chosen
     * response's targets marked (for {@link SftLoss}).
     */
    public DataSet buildSequences(List<PairExample> pairs, DataType type) {
        int b = pairs.size();
        if (b < 1) {
            throw new IllegalArgumentException("a minibatch needs at least one sequence");
        }
        int longest = 0;
        for (PairExample p : pairs) {
            longest = Math.max(longest, p.prompt().length + p.chosen().length - 1);
        }
        int length = rowLength(longest);
        float[] features = new float[b * length];
        double[] labels = new double[b * PairedLabels.CHANNELS * length];
        Arrays.fill(features, padId);
        for (int i = 0; i < b; i++) {
            PairExample p = pairs.get(i);
            fillRow(features, labels, length, i, b, p, p.chosen(), null, new int[0], PairedLabels.tagOf(p.pairId()));
        }
        INDArray f = Nd4j.create(features, new long[] {b, 1, length}, 'c').castTo(type);
        INDArray l = Nd4j.create(labels, new long[] {b, PairedLabels.CHANNELS, length}, 'c').castTo(type);
        return new DataSet(f, l);
    }

    /**
     * The DataSet of one paired minibatch for scoring, not training: no pilots, and reference
     * log-probs only where the pairs carry them.
     */
    public DataSet build(List<PairExample> pairs, DataType type) {
        return build(pairs, null, 0, 0, type);
    }

    /**
     * The DataSet of one paired minibatch.
     *
     * @param pairs the B pairs, in order
     * @param loss  the loss (draws SGDPO's pilots; needs reference log-probs unless it is SimPO), or
     *              null when scoring
     * @param seed  run seed
     * @param step  global step this minibatch is trained at
     * @param type  data type of the network
     */
    public DataSet build(List<PairExample> pairs, PreferenceLoss loss, long seed, long step, DataType type) {
        int b = pairs.size();
        if (b < 1) {
            throw new IllegalArgumentException("a paired minibatch needs at least one pair");
        }
        int longest = 0;
        for (PairExample p : pairs) {
            longest = Math.max(longest, longestRow(p));
        }
        int length = rowLength(longest);
        float[] features = new float[2 * b * length];
        double[] labels = new double[2 * b * PairedLabels.CHANNELS * length];
        Arrays.fill(features, padId);
        for (int i = 0; i < b; i++) {
            PairExample p = pairs.get(i);
            if (loss != null && loss.needsReference() && !p.hasReference()) {
                throw new IllegalArgumentException("pair " + p.pairId() + " has no reference log-probs, which loss '"
                        + loss.name() + "' needs: run ref-logps first");
            }
            PilotPositions pilots = loss == null ? PilotPositions.NONE
                    : loss.drawPilots(seed, step, p.pairId(), p.chosen().length, p.rejected().length);
            int tag = PairedLabels.tagOf(p.pairId());
            fillRow(features, labels, length, i, 2 * b, p, p.chosen(), p.refChosen(), pilots.chosen(), tag);
            fillRow(features, labels, length, i + b, 2 * b, p, p.rejected(), p.refRejected(), pilots.rejected(), -tag);
        }
        INDArray f = Nd4j.create(features, new long[] {2L * b, 1, length}, 'c').castTo(type);
        INDArray l = Nd4j.create(labels, new long[] {2L * b, PairedLabels.CHANNELS, length}, 'c').castTo(type);
        return new DataSet(f, l);
    }

    /** Row {@code row} of a minibatch of {@code rows} rows of length {@code length}. */
    private void fillRow(float[] features, double[] labels, int length, int row, int rows, PairExample p,
                         int[] response, double[] ref, int[] pilot, int tag) {
        int promptLen = p.prompt().length;
        int n = promptLen + response.length;
        if (n - 1 > maxLength) {
            throw new IllegalArgumentException("pair " + p.pairId() + ": prompt (" + promptLen + ") + response ("
                    + response.length + ") tokens exceed model.maxLength " + maxLength
                    + "; lower prep's max length");
        }
        int[] seq = new int[n];
        System.arraycopy(p.prompt(), 0, seq, 0, promptLen);
        System.arraycopy(response, 0, seq, promptLen, response.length);
        int channels = PairedLabels.CHANNELS;
        int labelBase = row * channels * length;
        for (int t = 0; t < length; t++) {
            labels[labelBase + PairedLabels.PAIR_TAG * length + t] = tag;
            labels[labelBase + PairedLabels.ROW * length + t] = row;
            labels[labelBase + PairedLabels.POSITION * length + t] = t;
            labels[labelBase + PairedLabels.TARGET * length + t] = padId;
        }
        for (int t = 0; t < n - 1; t++) {
            features[row * length + t] = seq[t];
            labels[labelBase + PairedLabels.TARGET * length + t] = seq[t + 1];
        }
        int pilotIndex = 0;
        for (int j = 0; j < response.length; j++) { // response token j is the target at t = promptLen - 1 + j
            int t = promptLen - 1 + j;
            labels[labelBase + PairedLabels.RESPONSE * length + t] = 1;
            labels[labelBase + PairedLabels.REFERENCE * length + t] = ref == null ? 0 : ref[j];
            if (pilotIndex < pilot.length && pilot[pilotIndex] == j) {
                labels[labelBase + PairedLabels.PILOT * length + t] = 1;
                pilotIndex++;
            }
        }
        if (rows <= row) {
            throw new IllegalStateException("row " + row + " outside the " + rows + "-row minibatch");
        }
    }
}
