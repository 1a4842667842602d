package io.sgdpo.nn;

import io.sgdpo.loss.PairLogProbs;
import io.sgdpo.loss.PilotPositions;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A paired minibatch as the output layer sees it: a {@link MinibatchView} whose rows i &lt; B are
 * chosen responses and rows i + B the rejected responses of the same pairs. Refuses a minibatch
 * whose pairs were split or mismatched, then yields each pair's per-token log-probs.
 */
public final class PairedView {

    private final MinibatchView view;
    private final List<PairLogProbs> pairs;

    private PairedView(MinibatchView view, List<PairLogProbs> pairs) {
        this.view = view;
        this.pairs = pairs;
    }

    /**
     * @throws IllegalArgumentException if the minibatch was split, merged or reordered, or a pair's
     *                                  two rows do not belong together
     */
    public static PairedView of(INDArray labels2d, INDArray logits2d) {
        MinibatchView view = MinibatchView.of(labels2d, logits2d);
        int rows = view.examples();
        if (rows % 2 != 0) {
            throw new IllegalArgumentException("not a paired minibatch: " + rows
                    + " rows; a pair was split or the minibatch re-batched");
        }
        int b = rows / 2;
        for (int i = 0; i < b; i++) {
            double chosenTag = view.channel(i, PairedLabels.PAIR_TAG);
            double rejectedTag = view.channel(i + b, PairedLabels.PAIR_TAG);
            if (!(chosenTag > 0) || rejectedTag != -chosenTag) {
                throw new IllegalArgumentException("split or mismatched pair: row " + i + " (tag " + chosenTag
                        + ") and row " + (i + b) + " (tag " + rejectedTag + ") are not the chosen and rejected"
                        + " responses of one pair");
            }
        }
        List<PairLogProbs> pairs = new ArrayList<>(b);
        for (int i = 0; i < b; i++) {
            pairs.add(new PairLogProbs(view.logProbs(i), view.reference(i), view.logProbs(i + b),
                    view.reference(i + b), new PilotPositions(view.pilot(i), view.pilot(i + b))));
        }
        return new PairedView(view, pairs);
    }

    /** The pairs, in minibatch order. */
    public List<PairLogProbs> pairs() {
        return pairs;
    }

    /** The pair tags ({@link PairedLabels#PAIR_TAG}) of the pairs, in minibatch order. */
    public int[] tags() {
        int[] tags = new int[pairs.size()];
        for (int i = 0; i < tags.length; i++) {
            tags[i] = (int) view.channel(i, PairedLabels.PAIR_TAG);
        }
        return tags;
    }

    /** Number of rows (2B) of the minibatch. */
    public int examples() {
        return view.examples();
    }

    /**
     * Writes dL/dlogits into {@code gradient} given, per pair, dL/dlogp of its chosen and rejected
     * tokens (each scaled by {@code scale}).
     */
    public void backprop(List<double[][]> pairGradients, double scale, INDArray gradient) {
        int b = pairs.size();
        double[][] perExample = new double[2 * b][];
        for (int i = 0; i < b; i++) {
            perExample[i] = pairGradients.get(i)[0];
            perExample[i + b] = pairGradients.get(i)[1];
        }
        view.backprop(perExample, scale, gradient);
    }
}
