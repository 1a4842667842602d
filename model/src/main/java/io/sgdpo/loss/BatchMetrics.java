package io.sgdpo.loss;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Batch metrics under TRL's names, from full-sequence rewards (never the pilot). Evaluation
 * metrics carry the {@code eval_} prefix ({@link #withPrefix}).
 */
public final class BatchMetrics {

    public static final String LOSS = "loss";
    public static final String REWARDS_CHOSEN = "rewards/chosen";
    public static final String REWARDS_REJECTED = "rewards/rejected";
    public static final String REWARDS_ACCURACIES = "rewards/accuracies";
    public static final String REWARDS_MARGINS = "rewards/margins";
    public static final String LOGPS_CHOSEN = "logps/chosen";
    public static final String LOGPS_REJECTED = "logps/rejected";
    public static final String EVAL_PREFIX = "eval_";

    private BatchMetrics() {
    }

    /** The means over the pairs of loss, rewards, reward accuracy and margin, and sequence log-probs. */
    public static Map<String, Double> of(PreferenceLoss loss, List<PairLogProbs> pairs) {
        if (pairs.isEmpty()) {
            throw new IllegalArgumentException("metrics of an empty batch");
        }
        double lossSum = 0, chosen = 0, rejected = 0, correct = 0, margin = 0, logpChosen = 0, logpRejected = 0;
        for (PairLogProbs p : pairs) {
            lossSum += loss.evaluate(p).loss();
            double[] r = loss.rewards(p);
            chosen += r[0];
            rejected += r[1];
            correct += r[0] > r[1] ? 1 : 0;
            margin += r[0] - r[1];
            logpChosen += p.policyChosenSum();
            logpRejected += p.policyRejectedSum();
        }
        double n = pairs.size();
        Map<String, Double> m = new LinkedHashMap<>();
        m.put(LOSS, lossSum / n);
        m.put(REWARDS_CHOSEN, chosen / n);
        m.put(REWARDS_REJECTED, rejected / n);
        m.put(REWARDS_ACCURACIES, correct / n);
        m.put(REWARDS_MARGINS, margin / n);
        m.put(LOGPS_CHOSEN, logpChosen / n);
        m.put(LOGPS_REJECTED, logpRejected / n);
        return m;
    }

    /** The same metrics with every name prefixed, e.g. {@code eval_rewards/accuracies}. */
    public static Map<String, Double> withPrefix(String prefix, Map<String, Double> metrics) {
        Map<String, Double> m = new LinkedHashMap<>();
        metrics.forEach((k, v) -> m.put(prefix + k, v));
        return m;
    }
}
