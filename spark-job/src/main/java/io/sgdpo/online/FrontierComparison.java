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
 * {@value #GRID} KL values spread evenly over (0, the largest KL both reach]; a loss whose points
 * do not reach past KL 0 has nothing to compare.
 */
final class FrontierComparison {

    /** KL values of each comparison. */
    static final int GRID = 10;

    private FrontierComparison() {
    }

    /** One comparison of loss a against loss b. */
    record Row(String label, double maxKl, double meanDifference, double smallest, double largest) {

        boolean aAtOrAbove() {
            return smallest >= 0;
        }
    }

    /** Reward as a function of KL, piecewise linear through the points sorted by KL. */
    record Curve(double[] kl, double[] reward) {

        static Curve of(FrontierJob.Point reference, List<FrontierJob.Point> points) {
            List<double[]> xy = new ArrayList<>();
            xy.add(new double[] {0, reference.reward()});
            points.forEach(p -> xy.add(new double[] {p.kl(), p.reward()}));
            xy.sort(Comparator.comparingDouble(v -> v[0]));
            return new Curve(xy.stream().mapToDouble(v -> v[0]).toArray(), xy.stream().mapToDouble(v -> v[1]).toArray());
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

    /** a's curve minus b's at the grid; null when they share no KL above 0. */
    static Row compare(String label, Curve a, Curve b) {
        double max = Math.min(a.maxKl(), b.maxKl());
        if (!(max > 0)) {
            return null;
        }
        double sum = 0;
        double smallest = Double.POSITIVE_INFINITY;
        double largest = Double.NEGATIVE_INFINITY;
        for (int k = 1; k <= GRID; k++) {
            double x = max * k / GRID;
            double d = a.at(x) - b.at(x);
            sum += d;
            smallest = Math.min(smallest, d);
            largest = Math.max(largest, d);
        }
        return new Row(label, max, sum / GRID, smallest, largest);
    }

    /**
     * Loss a against loss b: seed by seed (each seed's curves), then the curves of the seed means
     * (each beta's mean KL and mean reward).
     */
    static List<Row> rows(List<FrontierJob.Point> points, String a, String b, List<Long> seeds, List<Double> betas) {
        FrontierJob.Point reference = points.get(0);
        List<Row> out = new ArrayList<>();
        for (long seed : seeds) {
            Row r = compare("seed " + seed, Curve.of(reference, of(points, a, seed)), Curve.of(reference,
                    of(points, b, seed)));
            if (r != null) {
                out.add(r);
            }
        }
        if (seeds.size() > 1) {
            Row r = compare("means over seeds", Curve.of(reference, means(points, a, betas)),
                    Curve.of(reference, means(points, b, betas)));
            if (r != null) {
                out.add(r);
            }
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
                + "from the reference (KL 0), joined by straight lines; two frontiers compared at %d KL values "
                + "spread evenly up to the largest KL both reach. Reward difference %s minus the other loss:%n",
                a, GRID, a));
        for (String b : losses.subList(1, losses.size())) {
            List<Row> rows = rows(points, a, b, seeds, betas);
            s.append(String.format(Locale.ROOT, "%n| %s vs %s | KL range | mean difference | smallest | largest | "
                    + "%s >= %s at every KL |%n|---|---|---|---|---|---|%n", a, b, a, b));
            for (Row r : rows) {
                s.append(String.format(Locale.ROOT, "| %s | 0 - %.2f | %+.4f | %+.4f | %+.4f | %s |%n", r.label(),
                        r.maxKl(), r.meanDifference(), r.smallest(), r.largest(), r.aAtOrAbove() ? "yes" : "no"));
            }
            long above = rows.stream().filter(r -> r.label().startsWith("seed ") && r.aAtOrAbove()).count();
            long perSeed = rows.stream().filter(r -> r.label().startsWith("seed ")).count();
            s.append(String.format(Locale.ROOT, "%n%s at or above %s at every compared KL in %d of %d seeds.%n", a, b,
                    above, perSeed));
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
