package io.sgdpo.nn;

import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A minibatch of sequences as DL4J's output layer sees it: labels {@code [N, CHANNELS]} (the
 * {@link PairedLabels} layout) and logits {@code [N, V]} with N = rows * T, row r holding example
 * r % rows at time r / rows (DL4J's 3-D to 2-D reshape), or the logits of the response tokens'
 * rows alone ({@link #responseRows}). It checks that the minibatch is exactly as built, then
 * gathers each example's response-token log-probs through {@link TokenLogProbs}.
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
     * @param logits2d the logits of every label row ({@code [N, V]}), or of the {@link #responseRows}
     *                 only ({@code [S, V]}, in that order)
     * @throws IllegalArgumentException if the labels are not in the paired layout, or the minibatch
     *                                  was split, merged or reordered, or a row has no response, or
     *                                  the logits have another number of rows
     */
    public static MinibatchView of(INDArray labels2d, INDArray logits2d) {
        Selection s = select(labels2d);
        int[] logitRows = s.selected;
        if (logits2d.rank() == 2 && logits2d.size(0) != s.labels.length) {
            if (logits2d.size(0) != s.selected.length) {
                throw new IllegalArgumentException("logits of " + logits2d.size(0) + " rows for " + s.labels.length
                        + " label rows of which " + s.selected.length + " are response tokens: the logits must be"
                        + " those of every label row or of the response tokens' rows only");
            }
            int[] ascending = ascending(s.selected);
            logitRows = new int[s.selected.length];
            for (int k = 0; k < logitRows.length; k++) {
                logitRows[k] = Arrays.binarySearch(ascending, s.selected[k]);
            }
        }
        return new MinibatchView(s.labels, s.rows, s.selected, s.offsets,
                TokenLogProbs.of(logits2d, logitRows, s.targets));
    }

    /**
     * The label rows that are response tokens, in ascending order: the only rows whose logits the
     * losses and the read-out use. {@link #of} also takes the logits of these rows alone, one row
     * each in this order, which spares the vocabulary head's product and every pass over the
     * logits for the prompt and padding positions.
     *
     * @throws IllegalArgumentException as {@link #of}
     */
    public static int[] responseRows(INDArray labels2d) {
        return ascending(select(labels2d).selected);
    }

    private static int[] ascending(int[] rows) {
        int[] sorted = rows.clone();
        Arrays.sort(sorted);
        return sorted;
    }

    /** The labels read and checked, and the label rows (with their targets) that are response tokens. */
    private record Selection(double[][] labels, int rows, int[] selected, int[] targets, int[] offsets) {
    }

    private static Selection select(INDArray labels2d) {
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
        return new Selection(l, rows, selected, targets, offsets);
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
     * Writes dL/dlogits into {@code gradient} (the logits' shape: {@code [N, V]} or the response
     * rows' {@code [S, V]}; zero elsewhere) given dL/dlogp of every response token of every example,
     * each scaled by {@code scale}.
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
