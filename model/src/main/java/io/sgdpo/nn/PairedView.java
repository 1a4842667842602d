package io.sgdpo.nn;

import io.sgdpo.loss.PairLogProbs;
import io.sgdpo.loss.PilotPositions;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A paired minibatch as the output layer sees it: labels {@code [N, CHANNELS]} and logits
 * {@code [N, V]} with N = rows * T and row r holding example r % rows at time r / rows (DL4J's
 * 3-D to 2-D reshape). Checks that the minibatch is whole and paired, then gathers each pair's
 * per-token log-probs through {@link TokenLogProbs}.
 */
public final class PairedView {

    private final int examples;
    private final List<PairLogProbs> pairs;
    private final TokenLogProbs tokens;
    /** For each example, where its response tokens start in {@link #tokens}. */
    private final int[] offsets;

    private PairedView(int examples, List<PairLogProbs> pairs, TokenLogProbs tokens, int[] offsets) {
        this.examples = examples;
        this.pairs = pairs;
        this.tokens = tokens;
        this.offsets = offsets;
    }

    /**
     * @throws IllegalArgumentException if the minibatch was split, merged or reordered, or a pair's
     *                                  two rows do not belong together
     */
    public static PairedView of(INDArray labels2d, INDArray logits2d) {
        if (labels2d.rank() != 2 || labels2d.size(1) != PairedLabels.CHANNELS) {
            throw new IllegalArgumentException("paired labels must have " + PairedLabels.CHANNELS
                    + " channels, got shape " + java.util.Arrays.toString(labels2d.shape()));
        }
        double[][] l = labels2d.toDoubleMatrix();
        int n = l.length;
        int rows = 0;
        for (double[] row : l) {
            rows = Math.max(rows, (int) row[PairedLabels.ROW] + 1);
        }
        if (rows < 2 || rows % 2 != 0 || n % rows != 0) {
            throw new IllegalArgumentException("not a whole paired minibatch: " + rows + " rows over " + n
                    + " label positions; a pair was split or the minibatch re-batched");
        }
        for (int r = 0; r < n; r++) {
            if ((int) l[r][PairedLabels.ROW] != r % rows || (int) l[r][PairedLabels.POSITION] != r / rows) {
                throw new IllegalArgumentException("minibatch was re-batched or reordered: label row " + r
                        + " holds example " + (int) l[r][PairedLabels.ROW] + " at position "
                        + (int) l[r][PairedLabels.POSITION] + ", expected example " + (r % rows) + " at "
                        + (r / rows) + "; every minibatch must stay exactly as built (B pairs, 2B rows)");
            }
        }
        int b = rows / 2;
        for (int i = 0; i < b; i++) {
            double chosenTag = l[i][PairedLabels.PAIR_TAG];
            double rejectedTag = l[i + b][PairedLabels.PAIR_TAG];
            if (!(chosenTag > 0) || rejectedTag != -chosenTag) {
                throw new IllegalArgumentException("split or mismatched pair: row " + i + " (tag " + chosenTag
                        + ") and row " + (i + b) + " (tag " + rejectedTag + ") are not the chosen and rejected"
                        + " responses of one pair");
            }
        }
        int length = n / rows;
        int[] counts = new int[rows];
        for (int r = 0; r < n; r++) {
            if (l[r][PairedLabels.RESPONSE] != 0) {
                counts[r % rows]++;
            }
        }
        int[] offsets = new int[rows + 1];
        for (int i = 0; i < rows; i++) {
            if (counts[i] == 0) {
                throw new IllegalArgumentException("example " + i + " of the minibatch has no response token");
            }
            offsets[i + 1] = offsets[i] + counts[i];
        }
        int[] selected = new int[offsets[rows]];
        int[] targets = new int[offsets[rows]];
        int[] fill = offsets.clone();
        for (int t = 0; t < length; t++) { // time-major walk keeps each example's tokens in order
            for (int i = 0; i < rows; i++) {
                int r = i + t * rows;
                if (l[r][PairedLabels.RESPONSE] != 0) {
                    selected[fill[i]] = r;
                    targets[fill[i]] = (int) l[r][PairedLabels.TARGET];
                    fill[i]++;
                }
            }
        }
        TokenLogProbs tokens = TokenLogProbs.of(logits2d, selected, targets);
        double[] logp = tokens.values();
        List<PairLogProbs> pairs = new ArrayList<>(b);
        for (int i = 0; i < b; i++) {
            pairs.add(new PairLogProbs(slice(logp, offsets, i), reference(l, selected, offsets, i),
                    slice(logp, offsets, i + b), reference(l, selected, offsets, i + b),
                    new PilotPositions(pilot(l, selected, offsets, i), pilot(l, selected, offsets, i + b))));
        }
        return new PairedView(rows, pairs, tokens, offsets);
    }

    /** The pairs, in minibatch order. */
    public List<PairLogProbs> pairs() {
        return pairs;
    }

    /** Number of rows (2B) of the minibatch. */
    public int examples() {
        return examples;
    }

    /**
     * Writes dL/dlogits into {@code gradient} given, per pair, dL/dlogp of its chosen and rejected
     * tokens (each scaled by {@code scale}).
     */
    public void backprop(List<double[][]> pairGradients, double scale, INDArray gradient) {
        double[] d = new double[offsets[examples]];
        int b = examples / 2;
        for (int i = 0; i < b; i++) {
            double[][] g = pairGradients.get(i);
            for (int side = 0; side < 2; side++) {
                int start = offsets[i + side * b];
                for (int k = 0; k < g[side].length; k++) {
                    d[start + k] = scale * g[side][k];
                }
            }
        }
        tokens.backprop(d, gradient);
    }

    private static double[] slice(double[] values, int[] offsets, int example) {
        return java.util.Arrays.copyOfRange(values, offsets[example], offsets[example + 1]);
    }

    private static double[] reference(double[][] l, int[] selected, int[] offsets, int example) {
        double[] ref = new double[offsets[example + 1] - offsets[example]];
        for (int k = 0; k < ref.length; k++) {
            ref[k] = l[selected[offsets[example] + k]][PairedLabels.REFERENCE];
        }
        return ref;
    }

    private static int[] pilot(double[][] l, int[] selected, int[] offsets, int example) {
        int count = offsets[example + 1] - offsets[example];
        int[] buffer = new int[count];
        int k = 0;
        for (int j = 0; j < count; j++) {
            if (l[selected[offsets[example] + j]][PairedLabels.PILOT] != 0) {
                buffer[k++] = j;
            }
        }
        return java.util.Arrays.copyOf(buffer, k);
    }
}
