package io.sgdpo.study;

import io.sgdpo.pipeline.Outcome;
import io.sgdpo.study.StudyJob.Point;
import io.sgdpo.study.StudyJob.RunResult;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The study's statistics: the metrics reported for each trained policy (computed from its
 * evaluation and the reference's), each loss's mean and standard deviation over seeds, and the mean
 * eval log-prob trajectories.
 */
final class StudyStatistics {

    private StudyStatistics() {
    }

    /** Mean and sample standard deviation (n - 1; 0 for one value) of a metric over runs. */
    public record MeanStd(double mean, double std, int n) {

        static MeanStd of(List<Double> values) {
            if (values.isEmpty()) {
                throw new IllegalArgumentException("no values");
            }
            double mean = values.stream().mapToDouble(Double::doubleValue).average().orElseThrow();
            double ss = values.stream().mapToDouble(v -> (v - mean) * (v - mean)).sum();
            return new MeanStd(mean, values.size() > 1 ? Math.sqrt(ss / (values.size() - 1)) : 0, values.size());
        }

        String format(String pattern) {
            String m = String.format(Locale.ROOT, pattern, mean);
            // a spread has no sign, even where the mean shows one (%+.3f)
            return n > 1 ? m + " ± " + String.format(Locale.ROOT, pattern.replace("+", ""), std) : m;
        }
    }

    /**
     * A reported metric of a trained policy, computed from its evaluation and the reference's.
     *
     * @param higherIsBetter null where neither direction is better in itself (log-prob changes)
     */
    record Metric(String key, String header, String pattern, Boolean higherIsBetter, boolean goldOnly,
                  MetricValue value) {
    }

    /** The value of a metric for one run, given the reference's evaluation. */
    interface MetricValue {
        Double of(Outcome run, Outcome reference);
    }

    static final List<Metric> METRICS = List.of(
            new Metric("reward_accuracy", "eval reward accuracy", "%.3f", true, false, (o, r) -> o.rewardAccuracy()),
            new Metric("reward_margin", "eval margin", "%.3f", true, false, (o, r) -> o.rewardMargin()),
            new Metric("delta_logp_chosen", "Δ log p chosen", "%+.3f", null, false,
                    (o, r) -> o.logpsChosen() - r.logpsChosen()),
            new Metric("delta_logp_rejected", "Δ log p rejected", "%+.3f", null, false,
                    (o, r) -> o.logpsRejected() - r.logpsRejected()),
            new Metric("gold_exact_match", "gold exact match", "%.3f", true, true, (o, r) -> o.goldExactMatch()),
            new Metric("gold_carrying", "carrying prompts", "%.3f", true, true, (o, r) -> o.carryingExactMatch()),
            new Metric("gold_other", "other prompts", "%.3f", true, true, (o, r) -> o.otherExactMatch()));

    /** Each loss's mean and standard deviation over its seeds, per metric (gold metrics only with gold answers). */
    static Map<String, Map<String, MeanStd>> summary(List<RunResult> runs, Outcome reference, List<String> losses) {
        Map<String, Map<String, MeanStd>> summary = new LinkedHashMap<>();
        for (String loss : losses) {
            List<RunResult> of = runs.stream().filter(r -> r.loss().equals(loss)).toList();
            if (!of.isEmpty()) {
                summary.put(loss, stats(of, reference));
            }
        }
        return summary;
    }

    private static Map<String, MeanStd> stats(List<RunResult> runs, Outcome reference) {
        Map<String, MeanStd> m = new LinkedHashMap<>();
        for (Metric metric : METRICS) {
            if (metric.goldOnly() && reference.goldExactMatch() == null) {
                continue;
            }
            List<Double> values = runs.stream().map(r -> metric.value().of(r.outcome(), reference)).toList();
            if (values.stream().noneMatch(v -> v == null)) {
                m.put(metric.key(), MeanStd.of(values));
            }
        }
        return m;
    }

    /**
     * Per evaluated step, the mean over runs of the chosen and rejected log-prob changes since each
     * run's first evaluation (step 0: the reference); steps missing from a run average over the others.
     */
    static TreeMap<Long, double[]> meanTrajectory(List<RunResult> runs) {
        TreeMap<Long, double[]> sums = new TreeMap<>();
        for (RunResult run : runs) {
            if (run.trajectory().isEmpty()) {
                continue;
            }
            Point first = run.trajectory().get(0);
            for (Point p : run.trajectory()) {
                double[] s = sums.computeIfAbsent(p.step(), k -> new double[3]);
                s[0] += p.logpsChosen() - first.logpsChosen();
                s[1] += p.logpsRejected() - first.logpsRejected();
                s[2]++;
            }
        }
        TreeMap<Long, double[]> mean = new TreeMap<>();
        sums.forEach((step, s) -> mean.put(step, new double[]{s[0] / s[2], s[1] / s[2]}));
        return mean;
    }
}
