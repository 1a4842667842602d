package io.sgdpo.nn;

import io.sgdpo.loss.PairLogProbs;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.ILossFunction;

/** Negative log-likelihood of the chosen responses of a paired minibatch: a test's SFT stand-in. */
class TokenNll implements ILossFunction {

    @Override
    public double computeScore(INDArray labels, INDArray preOutput, IActivation a, INDArray mask, boolean average) {
        double s = 0;
        for (PairLogProbs p : PairedView.of(labels, preOutput).pairs()) {
            s -= p.policyChosenSum();
        }
        return s;
    }

    @Override
    public INDArray computeScoreArray(INDArray labels, INDArray preOutput, IActivation a, INDArray mask) {
        throw new UnsupportedOperationException();
    }

    @Override
    public INDArray computeGradient(INDArray labels, INDArray preOutput, IActivation a, INDArray mask) {
        PairedView view = PairedView.of(labels, preOutput);
        List<double[][]> grads = new ArrayList<>();
        for (PairLogProbs p : view.pairs()) {
            double[] gw = new double[p.policyChosen().length];
            java.util.Arrays.fill(gw, -1.0);
            grads.add(new double[][] {gw, new double[p.policyRejected().length]});
        }
        INDArray g = Nd4j.zeros(preOutput.dataType(), preOutput.shape());
        view.backprop(grads, 1.0, g);
        return g;
    }

    @Override
    public Pair<Double, INDArray> computeGradientAndScore(INDArray labels, INDArray preOutput, IActivation a,
                                                          INDArray mask, boolean average) {
        return new Pair<>(computeScore(labels, preOutput, a, mask, average), computeGradient(labels, preOutput, a, mask));
    }

    @Override
    public String name() {
        return "token-nll";
    }
}
