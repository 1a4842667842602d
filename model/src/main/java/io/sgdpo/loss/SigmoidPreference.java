package io.sgdpo.loss;

/** The (label-smoothed) logistic loss of the full-sequence margin, shared by DPO and cDPO. */
final class SigmoidPreference {

    private SigmoidPreference() {
    }

    static PairLossResult evaluate(PairLogProbs p, double beta, double eps) {
        double u = (p.policyChosenSum() - p.refChosenSum()) - (p.policyRejectedSum() - p.refRejectedSum());
        double[] term = LogSigmoid.smoothedTerm(beta * u, eps);
        double dU = beta * term[1];
        return PairLossResult.uniform(term[0], dU, p.policyChosen().length, -dU, p.policyRejected().length);
    }
}
