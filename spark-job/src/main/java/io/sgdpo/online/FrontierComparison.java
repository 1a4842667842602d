package io.sgdpo.online;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Two losses' rewards at equal KL, the frontier's question. Each loss's frontier is a curve of
 * reward against KL(pi || pi_ref): its points (one per beta) sorted by KL, starting at the
 * reference (KL 0, the limit of no training), joined by straight lines. Two curves are compared at
 * {@value #GRID} KL values spread evenly over a range, in two ranges: from the reference up to the
 * largest KL both reach (below a loss's smallest measured KL its curve is the straight line from
 * the reference, which a run at a larger beta might beat), and the range where both losses have
 * measured points (which may be narrow, or empty).
 */
final class FrontierComparison {

    /** KL values of each comparison. */
    static final int GRID = 10;

    private FrontierComparison() {
    }

    /** One comparison of loss a against loss b over [fromKl, toKl]. */
    record Row(String label, double fromKl, double toKl, double meanDifference, double smallest, double largest) {

        boolean aAtOrAbove() {
            return smallest >= 0;
        }
    }

    /** Reward as a function of KL, piecewise linear through the points sorted by KL. */
    record Curve(double[] kl, double[] reward, double measuredMin, double measuredMax) {

        static Curve of(FrontierJob.Point reference, List<FrontierJob.Point> points) {
            List<double[]> xy = new ArrayList<>();
            xy.add(new double[] {0, reference.reward()});
            points.forEach(p -> xy.add(new double[] {p.kl(), p.reward()}));
            xy.sort(Comparator.comparingDouble(v -> v[0]));
            return new Curve(xy.stream().mapToDouble(v -> v[0]).toArray(), xy.stream().mapToDouble(v -> v[1]).toArray(),
                    points.stream().mapToDouble(FrontierJob.Point::kl).min().orElse(Double.NaN),
                    points.stream().mapToDouble(FrontierJob.Point::kl).max().orElse(Double.NaN));
        }

        double maxKl() {
            return kl[kl.length - 1];
        }

        double at(double x) {
            for (int i = 1; i < kl.length; i++) {
                if (x <= kl[i]) {
                    double span = kl[i] - kl[i - 1];
                    double t = span > 0 ? (x - kl[i - 1]) / span : 1;
                    return reward[i - 1] + t * (reward[i] - reward[i - 1]);
                }
            }
            return reward[reward.length - 1];
        }
    }

    /** a's curve minus b's from the reference up to the largest KL both reach; null when that is not above 0. */
    static Row compare(String label, Curve a, Curve b) {
        double max = Math.min(a.maxKl(), b.maxKl());
        return max > 0 ? compare(label, a, b, 0, max) : null;
    }

    /** a's curve minus b's where both have measured points; null when they have no such range. */
    static Row compareMeasured(String label, Curve a, Curve b) {
        double from = Math.max(a.measuredMin(), b.measuredMin());
        double to = Math.min(a.measuredMax(), b.measuredMax());
        return to > from ? compare(label, a, b, from, to) : null;
    }

    /** At GRID values from + (to - from) k / GRID, k = 1..GRID (k = 0 too when from > 0). */
    private static Row compare(String label, Curve a, Curve b, double from, double to) {
        double sum = 0;
        int n = 0;
        double smallest = Double.POSITIVE_INFINITY;
        double largest = Double.NEGATIVE_INFINITY;
        for (int k = from > 0 ? 0 : 1; k <= GRID; k++) {
            double x = from + (to - from) * k / GRID;
            double d = a.at(x) - b.at(x);
            sum += d;
            n++;
            smallest = Math.min(smallest, d);
            largest = Math.max(largest, d);
        }
        return new Row(label, from, to, sum / n, smallest, largest);
    }

    /**
     * Loss a against loss b: seed by seed (each seed's curves), then the curves of the seed means
     * (each beta's mean KL and mean reward); from the reference, or where both were measured.
     */
    static List<Row> rows(List<FrontierJob.Point> points, String a, String b, List<Long> seeds, List<Double> betas,
                          boolean measured) {
        FrontierJob.Point reference = points.get(0);
        List<Row> out = new ArrayList<>();
        List<String> labels = new ArrayList<>();
        List<Curve[]> pairs = new ArrayList<>();
        for (long seed : seeds) {
            labels.add("seed " + seed);
            pairs.add(new Curve[] {Curve.of(reference, of(points, a, seed)), Curve.of(reference, of(points, b, seed))});
        }
        if (seeds.size() > 1) {
            labels.add("means over seeds");
            pairs.add(new Curve[] {Curve.of(reference, means(points, a, betas)), Curve.of(reference,
                    means(points, b, betas))});
        }
        for (int i = 0; i < labels.size(); i++) {
            Curve[] c = pairs.get(i);
            Row r = measured ? compareMeasured(labels.get(i), c[0], c[1]) : compare(labels.get(i), c[0], c[1]);
            out.add(r != null ? r : new Row(labels.get(i), Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN));
        }
        return out;
    }

    /** The Markdown section of loss a against each other loss. */
    static String markdown(List<FrontierJob.Point> points, List<String> losses, List<Long> seeds, List<Double> betas) {
        if (losses.size() < 2) {
            return "";
        }
        String a = losses.get(0);
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "%n## %s at equal KL%n%nEach loss's frontier: its points sorted by KL, "
                + "from the reference (KL 0), joined by straight lines; two frontiers compared at %d KL values spread "
                + "evenly over a range: from the reference to the largest KL both reach (below a loss's smallest "
                + "measured KL its frontier is the straight line from the reference, which a larger beta might "
                + "beat), and where both have measured points. Reward of %s minus the other loss's:%n", a, GRID, a));
        for (String b : losses.subList(1, losses.size())) {
            for (boolean measured : new boolean[] {false, true}) {
                List<Row> rows = rows(points, a, b, seeds, betas, measured);
                s.append(String.format(Locale.ROOT, "%n| %s vs %s, %s | KL range | mean difference | smallest | largest"
                        + " | %s >= %s at every KL |%n|---|---|---|---|---|---|%n", a, b,
                        measured ? "where both were measured" : "from the reference", a, b));
                for (Row r : rows) {
                    if (Double.isNaN(r.meanDifference())) {
                        s.append(String.format(Locale.ROOT, "| %s | none | - | - | - | - |%n", r.label()));
                    } else {
                        s.append(String.format(Locale.ROOT, "| %s | %.2f - %.2f | %+.4f | %+.4f | %+.4f | %s |%n",
                                r.label(), r.fromKl(), r.toKl(), r.meanDifference(), r.smallest(), r.largest(),
                                r.aAtOrAbove() ? "yes" : "no"));
                    }
                }
                List<Row> perSeed = rows.stream().filter(r -> r.label().startsWith("seed ")
                        && !Double.isNaN(r.meanDifference())).toList();
                s.append(String.format(Locale.ROOT, "%n%s at or above %s at every compared KL in %d of %d seeds%s.%n",
                        a, b, perSeed.stream().filter(Row::aAtOrAbove).count(), perSeed.size(),
                        perSeed.size() < seeds.size() ? String.format(Locale.ROOT, " (%d without a range)",
                                seeds.size() - perSeed.size()) : ""));
            }
        }
        return s.toString();
    }

    private static List<FrontierJob.Point> of(List<FrontierJob.Point> points, String loss, long seed) {
        return points.stream().filter(p -> p.loss().equals(loss) && p.seed() == seed).toList();
    }

    private static List<FrontierJob.Point> means(List<FrontierJob.Point> points, String loss, List<Double> betas) {
        Map<Double, List<FrontierJob.Point>> byBeta = new LinkedHashMap<>();
        for (double beta : betas) {
            byBeta.put(beta, points.stream().filter(p -> p.loss().equals(loss) && p.beta() == beta).toList());
        }
        List<FrontierJob.Point> out = new ArrayList<>();
        byBeta.forEach((beta, group) -> {
            if (!group.isEmpty()) {
                out.add(new FrontierJob.Point(loss + "-beta" + beta, loss, beta, -1,
                        group.stream().mapToDouble(FrontierJob.Point::reward).average().orElseThrow(),
                        group.stream().mapToDouble(FrontierJob.Point::kl).average().orElseThrow(), Double.NaN,
                        Double.NaN, null));
            }
        });
        return out;
    }
}
