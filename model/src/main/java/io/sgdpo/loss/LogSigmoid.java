package io.sgdpo.loss;

/** Numerically stable scalar helpers shared by the sigmoid-family losses. */
final class LogSigmoid {

    private LogSigmoid() {
    }

    /** log(sigmoid(z)) without overflow for large |z|. */
    static double logSigmoid(double z) {
        return z >= 0 ? -Math.log1p(Math.exp(-z)) : z - Math.log1p(Math.exp(z));
    }

    static double sigmoid(double z) {
        if (z >= 0) {
            return 1.0 / (1.0 + Math.exp(-z));
        }
        double e = Math.exp(z);
        return e / (1.0 + e);
    }

    /**
     * The label-smoothed logistic term f(z) = -(1-eps) log sigmoid(z) - eps log sigmoid(-z) and its
     * derivative f'(z) = -(1-eps) sigmoid(-z) + eps sigmoid(z); eps = 0 is plain DPO's term.
     * Returns {value, derivative}.
     */
    static double[] smoothedTerm(double z, double eps) {
        double value = -(1 - eps) * logSigmoid(z) - eps * logSigmoid(-z);
        double derivative = -(1 - eps) * sigmoid(-z) + eps * sigmoid(z);
        return new double[] {value, derivative};
    }
}
