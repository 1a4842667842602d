package io.sgdpo.train;

/**
 * Linear warm-up then cosine decay:
 * <pre>
 *   lr(s) = base * (s + 1) / W                                              s &lt; W
 *   lr(s) = base * (m + (1 - m) * (1 + cos(pi * (s - W) / (S - W))) / 2)      W &lt;= s &lt; S
 * </pre>
 * with W warm-up steps, S total steps and m the floor as a fraction of the base rate.
 */
public record LearningRateSchedule(double base, long warmupSteps, long totalSteps, double minFraction) {

    public double at(long step) {
        if (step < warmupSteps) {
            return base * (step + 1) / warmupSteps;
        }
        long decaySteps = Math.max(1, totalSteps - warmupSteps);
        double progress = Math.min(1.0, (step - warmupSteps) / (double) decaySteps);
        return base * (minFraction + (1 - minFraction) * 0.5 * (1 + Math.cos(Math.PI * progress)));
    }
}
