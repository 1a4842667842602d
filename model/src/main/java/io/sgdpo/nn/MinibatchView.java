package io.sgdpo.nn;

import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A minibatch of sequences as DL4J's output layer sees it: labels {@code [N, CHANNELS]} (the
 * {@link PairedLabels} layout) and logits {@code [N, V]} with N = rows * T, row r holding example
 * r % rows at time r / rows (DL4J's 3-D to 2-D reshape). It checks that the minibatch is exactly
 * as built, then gathers each example's response-token log-probs through {@link TokenLogProbs}.
 */
public final class MinibatchView {

    private final double[][] labels;
    private final int examples;
    private final int[] selected;
    private final int[] offsets;
    private final TokenLogProbs tokens;

    private MinibatchView(double[][] labels, int examples, int[] selected, int[] offsets, TokenLogProbs tokens) {
        this.labels = labels;
        this.examples = examples;
        this.selected = selected;
        this.offsets = offsets;
        this.tokens = tokens;
    }

    /**
     * @throws IllegalArgumentException if the labels are not in the paired layout, or the minibatch
     *                                  was split, merged or reordered, or a row has no response
     */
    public static MinibatchView of(INDArray labels2d, INDArray logits2d) {
        if (labels2d.rank() != 2 || labels2d.size(1) != PairedLabels.CHANNELS) {
            throw new IllegalArgumentException("labels must have " + PairedLabels.CHANNELS
                    + " channels (PairedLabels), got shape " + Arrays.toString(labels2d.shape()));
        }
        double[][] l = rows(labels2d);
        int n = l.length;
        int rows = 0;
        for (double[] row : l) {
            rows = Math.max(rows, (int) row[PairedLabels.ROW] + 1);
        }
        if (rows < 1 || n % rows != 0) {
            throw new IllegalArgumentException("not a whole minibatch: " + rows + " rows over " + n
                    + " label positions; the minibatch was split or re-batched");
        }
        for (int r = 0; r < n; r++) {
            if ((int) l[r][PairedLabels.ROW] != r % rows || (int) l[r][PairedLabels.POSITION] != r / rows) {
                throw new IllegalArgumentException("minibatch was re-batched or reordered: label row " + r
                        + " holds example " + (int) l[r][PairedLabels.ROW] + " at position "
                        + (int) l[r][PairedLabels.POSITION] + ", expected example " + (r % rows) + " at "
                        + (r / rows) + "; every minibatch must stay exactly as built");
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
        return new MinibatchView(l, rows, selected, offsets, TokenLogProbs.of(logits2d, selected, targets));
    }

    /**
     * The labels as Java rows, read in one copy: {@code toDoubleMatrix} reads them row by row, an
     * ND4J view and its shape information per row (3-5% of a reference pass at the mid peer shape).
     */
    private static double[][] rows(INDArray labels2d) {
        int n = (int) labels2d.size(0);
        int channels = (int) labels2d.size(1);
        double[] flat = labels2d.dup('c').data().asDouble();
        double[][] rows = new double[n][];
        for (int r = 0; r < n; r++) {
            rows[r] = Arrays.copyOfRange(flat, r * channels, (r + 1) * channels);
        }
        return rows;
    }

    /** Number of rows (examples) of the minibatch. */
    public int examples() {
        return examples;
    }

    /** Total number of response tokens over all examples. */
    public int responseTokens() {
        return selected.length;
    }

    /** A label channel of one example (its value at t = 0). */
    double channel(int example, int channel) {
        return labels[example][channel];
    }

    /** The policy log-probs of one example's response tokens, in order. */
    public double[] logProbs(int example) {
        return Arrays.copyOfRange(tokens.values(), offsets[example], offsets[example + 1]);
    }

    /** The reference log-probs of one example's response tokens. */
    double[] reference(int example) {
        double[] ref = new double[offsets[example + 1] - offsets[example]];
        for (int k = 0; k < ref.length; k++) {
            ref[k] = labels[selected[offsets[example] + k]][PairedLabels.REFERENCE];
        }
        return ref;
    }

    /** Indices, within one example's response, of its pilot tokens. */
    int[] pilot(int example) {
        int count = offsets[example + 1] - offsets[example];
        int[] buffer = new int[count];
        int k = 0;
        for (int j = 0; j < count; j++) {
            if (labels[selected[offsets[example] + j]][PairedLabels.PILOT] != 0) {
                buffer[k++] = j;
            }
        }
        return Arrays.copyOf(buffer, k);
    }

    /**
     * Writes dL/dlogits into {@code gradient} ({@code [N, V]}, zero elsewhere) given dL/dlogp of
     * every response token of every example, each scaled by {@code scale}.
     */
    public void backprop(double[][] perExample, double scale, INDArray gradient) {
        double[] d = new double[selected.length];
        for (int i = 0; i < examples; i++) {
            for (int k = 0; k < perExample[i].length; k++) {
                d[offsets[i] + k] = scale * perExample[i][k];
            }
        }
        tokens.backprop(d, gradient);
    }
}
