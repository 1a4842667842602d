package io.sgdpo.nn;

import io.sgdpo.loss.BatchMetrics;
import io.sgdpo.loss.LossSpec;
import io.sgdpo.loss.Losses;
import io.sgdpo.loss.PairLogProbs;
import io.sgdpo.loss.PairLossResult;
import io.sgdpo.loss.PreferenceLoss;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Plugs a {@link PreferenceLoss} into DL4J's output layer: it sees one paired minibatch (labels as
 * laid out by {@link PairedLabels}), refuses it if a pair was split or mismatched, turns the
 * logits into per-token log-probs, and returns the loss and its gradient with respect to the
 * logits.
 *
 * <p>Scale: DL4J divides an output layer's score and gradient by the number of rows, 2B. The
 * loss here is therefore 2 x (sum of pair losses), so that what DL4J reports and optimises is the
 * mean loss over the B pairs. The output layer's activation must be identity: the softmax lives
 * in the log-probs.
 *
 * <p>Each minibatch it takes a gradient of (an update's own forward pass) is kept as a
 * {@link FittedMinibatch} until {@link #takeFitted()}, so that a training job reports the metrics
 * of the pairs each update saw, under the parameters that update started from, without a second
 * forward pass.
 */
public class PairedPreferenceLoss implements ResponseTokenLoss {

    private static final long serialVersionUID = 1L;
    private static final double ROWS_PER_PAIR = 2.0;

    private LossSpec loss;
    private transient PreferenceLoss resolved;
    private transient volatile Map<String, Double> lastMetrics;
    /**
     * Per thread, not per instance: DL4J's ParameterAveraging workers in one JVM clone the network
     * configuration from one broadcast without cloning its loss, so concurrent workers share this
     * object; each fits on its own thread.
     */
    private static final ThreadLocal<FittedMinibatch> FITTED = new ThreadLocal<>();

    private PairedPreferenceLoss() {
        // for JSON deserialisation
    }

    public PairedPreferenceLoss(LossSpec loss) {
        this.loss = loss;
        preferenceLoss(); // validate now, not at the first minibatch
    }

    /**
     * An adapter around a loss object rather than a spec, for checks that wrap a loss; it has no
     * JSON form of its own beyond the spec it is given.
     */
    PairedPreferenceLoss(LossSpec spec, PreferenceLoss loss) {
        this.loss = spec;
        this.resolved = loss;
    }

    public LossSpec getLoss() {
        return loss;
    }

    /** The loss this adapter applies. */
    public PreferenceLoss preferenceLoss() {
        if (resolved == null) {
            resolved = Losses.create(loss);
        }
        return resolved;
    }

    /** TRL-named metrics of the last minibatch scored in this JVM, or null before the first. */
    public Map<String, Double> lastMetrics() {
        return lastMetrics;
    }

    /**
     * The pairs of the last minibatch a preference loss took a gradient of on this thread (the
     * update a training listener on this thread was just told of), or null when there is none since
     * the last call.
     */
    public FittedMinibatch takeFitted() {
        FittedMinibatch f = FITTED.get();
        FITTED.remove();
        return f;
    }

    /**
     * The per-pair log-probs of one minibatch as the forward pass of an update gave them.
     *
     * @param tags  each pair's tag ({@link PairedLabels#tagOf}), in minibatch order
     * @param pairs the pairs' log-probs, in minibatch order
     */
    public record FittedMinibatch(int[] tags, List<PairLogProbs> pairs) {
    }

    private record Evaluated(PairedView view, List<PairLossResult> results, double sum) {
    }

    private Evaluated evaluate(INDArray labels, INDArray preOutput, IActivation activation) {
        if (!(activation instanceof ActivationIdentity)) {
            throw new IllegalStateException("the output layer of a preference loss must use the identity activation,"
                    + " got " + activation);
        }
        PairedView view = PairedView.of(labels, preOutput);
        PreferenceLoss l = preferenceLoss();
        List<PairLossResult> results = new ArrayList<>(view.pairs().size());
        double sum = 0;
        for (PairLogProbs pair : view.pairs()) {
            PairLossResult r = l.evaluate(pair);
            results.add(r);
            sum += r.loss();
        }
        lastMetrics = BatchMetrics.of(l, view.pairs());
        return new Evaluated(view, results, sum);
    }

    @Override
    public double computeScore(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask,
                               boolean average) {
        Evaluated e = evaluate(labels, preOutput, activationFn);
        double score = ROWS_PER_PAIR * e.sum();
        return average ? score / e.view().examples() : score;
    }

    @Override
    public INDArray computeScoreArray(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask) {
        Evaluated e = evaluate(labels, preOutput, activationFn);
        INDArray scores = Nd4j.zeros(preOutput.dataType(), labels.size(0), 1);
        for (int i = 0; i < e.results().size(); i++) { // the pair's loss sits on its chosen row at t = 0
            scores.putScalar(i, 0, ROWS_PER_PAIR * e.results().get(i).loss());
        }
        return scores;
    }

    @Override
    public INDArray computeGradient(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask) {
        Evaluated e = evaluate(labels, preOutput, activationFn);
        FITTED.set(new FittedMinibatch(e.view().tags(), e.view().pairs()));
        return gradient(e, preOutput);
    }

    @Override
    public Pair<Double, INDArray> computeGradientAndScore(INDArray labels, INDArray preOutput, IActivation activationFn,
                                                          INDArray mask, boolean average) {
        Evaluated e = evaluate(labels, preOutput, activationFn);
        FITTED.set(new FittedMinibatch(e.view().tags(), e.view().pairs()));
        double score = ROWS_PER_PAIR * e.sum();
        return new Pair<>(average ? score / e.view().examples() : score, gradient(e, preOutput));
    }

    private static INDArray gradient(Evaluated e, INDArray preOutput) {
        List<double[][]> perPair = new ArrayList<>(e.results().size());
        for (PairLossResult r : e.results()) {
            perPair.add(new double[][] {r.gradChosen(), r.gradRejected()});
        }
        INDArray gradient = TokenLogProbs.zeroGradient(preOutput);
        e.view().backprop(perPair, ROWS_PER_PAIR, gradient);
        return gradient;
    }

    @Override
    public String name() {
        return "paired-" + loss.getName();
    }

    @Override
    public String toString() {
        return "PairedPreferenceLoss(" + loss + ")";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PairedPreferenceLoss p && loss.equals(p.loss);
    }

    @Override
    public int hashCode() {
        return loss.hashCode();
    }
}
