package io.sgdpo.nn;

import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Supervised fine-tuning loss: the mean negative log-likelihood of the response tokens of a
 * minibatch built by {@link PairedBatch#buildSequences} (prompt tokens carry no loss).
 *
 * <pre>
 *   L = -(1 / n) sum_{response tokens j} log p(y_j | prefix)      n = number of response tokens
 *   dL/dlogp_j = -1 / n
 * </pre>
 * DL4J divides an output layer's score and gradient by the number of rows, so this returns rows x L;
 * what DL4J reports and optimises is the mean token NLL, whose exponential is the perplexity.
 */
public class SftLoss implements ResponseTokenLoss {

    private static final long serialVersionUID = 1L;

    private record Evaluated(MinibatchView view, double meanNll) {
    }

    private static Evaluated evaluate(INDArray labels, INDArray preOutput, IActivation activation) {
        if (!(activation instanceof ActivationIdentity)) {
            throw new IllegalStateException("the output layer of the SFT loss must use the identity activation, got "
                    + activation);
        }
        MinibatchView view = MinibatchView.of(labels, preOutput);
        double sum = 0;
        for (int i = 0; i < view.examples(); i++) {
            for (double logp : view.logProbs(i)) {
                sum -= logp;
            }
        }
        return new Evaluated(view, sum / view.responseTokens());
    }

    @Override
    public double computeScore(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask,
                               boolean average) {
        Evaluated e = evaluate(labels, preOutput, activationFn);
        return average ? e.meanNll() : e.meanNll() * e.view().examples();
    }

    @Override
    public INDArray computeScoreArray(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask) {
        Evaluated e = evaluate(labels, preOutput, activationFn);
        INDArray scores = Nd4j.zeros(preOutput.dataType(), labels.size(0), 1);
        for (int i = 0; i < e.view().examples(); i++) { // each row's share, on its t = 0 position
            double nll = 0;
            for (double logp : e.view().logProbs(i)) {
                nll -= logp;
            }
            scores.putScalar(i, 0, nll * e.view().examples() / e.view().responseTokens());
        }
        return scores;
    }

    @Override
    public INDArray computeGradient(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask) {
        return gradient(evaluate(labels, preOutput, activationFn), preOutput);
    }

    @Override
    public Pair<Double, INDArray> computeGradientAndScore(INDArray labels, INDArray preOutput, IActivation activationFn,
                                                          INDArray mask, boolean average) {
        Evaluated e = evaluate(labels, preOutput, activationFn);
        double score = average ? e.meanNll() : e.meanNll() * e.view().examples();
        return new Pair<>(score, gradient(e, preOutput));
    }

    private static INDArray gradient(Evaluated e, INDArray preOutput) {
        MinibatchView view = e.view();
        double[][] perExample = new double[view.examples()][];
        for (int i = 0; i < view.examples(); i++) {
            perExample[i] = new double[view.logProbs(i).length];
            java.util.Arrays.fill(perExample[i], -1.0);
        }
        INDArray gradient = TokenLogProbs.zeroGradient(preOutput);
        view.backprop(perExample, (double) view.examples() / view.responseTokens(), gradient);
        return gradient;
    }

    @Override
    public String name() {
        return "sft-nll";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SftLoss;
    }

    @Override
    public int hashCode() {
        return SftLoss.class.hashCode();
    }

    @Override
    public String toString() {
        return "SftLoss()";
    }
}
