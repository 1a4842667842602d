package io.sgdpo.online;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The equal-KL comparison against values worked out by hand. Tolerance 1e-12: the interpolation
 * rounds in the last bits of doubles of order 0.1.
 */
class FrontierComparisonTest {

    private static FrontierJob.Point point(String loss, long seed, double beta, double kl, double reward) {
        return new FrontierJob.Point(loss + seed + beta, loss, beta, seed, reward, kl, Double.NaN, Double.NaN, null);
    }

    private static final FrontierJob.Point REFERENCE = point("reference", 0, 0, 0, 0.0);

    @Test
    void curvesAreJoinedByStraightLinesFromTheReference() {
        // a: (0, 0) -> (2, 0.2) -> (4, 0.3); given out of KL order
        FrontierComparison.Curve a = FrontierComparison.Curve.of(REFERENCE, List.of(point("a", 1, 0.1, 4, 0.3),
                point("a", 1, 1.0, 2, 0.2)));
        assertEquals(0.1, a.at(1), 1e-12);
        assertEquals(0.25, a.at(3), 1e-12);
        assertEquals(0.3, a.at(4), 1e-12);
        assertEquals(4, a.maxKl());
    }

    @Test
    void twoLossesAreComparedUpToTheLargestKlBothReach() {
        FrontierComparison.Curve a = FrontierComparison.Curve.of(REFERENCE, List.of(point("a", 1, 1.0, 2, 0.2),
                point("a", 1, 0.1, 4, 0.3)));
        // b: (0, 0) -> (1, 0.05) -> (3, 0.25)
        FrontierComparison.Curve b = FrontierComparison.Curve.of(REFERENCE, List.of(point("b", 1, 1.0, 1, 0.05),
                point("b", 1, 0.1, 3, 0.25)));
        FrontierComparison.Row r = FrontierComparison.compare("seed 1", a, b);
        // a - b = 0.05x on (0, 1], 0.05 on (1, 2], 0.15 - 0.05x on (2, 3]; at x = 0.3, 0.6, ..., 3.0:
        // 0.015 0.03 0.045 0.05 0.05 0.05 0.045 0.03 0.015 0 -> mean 0.033
        assertEquals(0, r.fromKl());
        assertEquals(3, r.toKl(), 1e-12);
        assertEquals(0.033, r.meanDifference(), 1e-12);
        assertEquals(0.05, r.largest(), 1e-12);
        assertEquals(0.0, r.smallest(), 1e-12);
        FrontierComparison.Row reverse = FrontierComparison.compare("seed 1", b, a);
        assertEquals(-0.033, reverse.meanDifference(), 1e-12);
        assertTrue(!reverse.aAtOrAbove() || reverse.smallest() > -1e-12);

        // Where both were measured: a from KL 2 to 4, b from 1 to 3 -> [2, 3], 11 values 2.0, 2.1, ..., 3.0
        // of 0.15 - 0.05x: from 0.05 down to 0, mean 0.025.
        FrontierComparison.Row measured = FrontierComparison.compareMeasured("seed 1", a, b);
        assertEquals(2, measured.fromKl(), 1e-12);
        assertEquals(3, measured.toKl(), 1e-12);
        assertEquals(0.025, measured.meanDifference(), 1e-12);
        assertEquals(0.05, measured.largest(), 1e-12);
        assertEquals(0.0, measured.smallest(), 1e-12);
    }

    @Test
    void seedsAreComparedOneByOneAndThroughTheirMeans() {
        List<FrontierJob.Point> points = List.of(REFERENCE,
                point("a", 1, 0.1, 2, 0.2), point("a", 2, 0.1, 4, 0.2),
                point("b", 1, 0.1, 2, 0.1), point("b", 2, 0.1, 4, 0.3));
        List<FrontierComparison.Row> rows = FrontierComparison.rows(points, "a", "b", List.of(1L, 2L), List.of(0.1),
                false);
        assertEquals(List.of("seed 1", "seed 2", "means over seeds"), rows.stream().map(FrontierComparison.Row::label)
                .toList());
        assertTrue(rows.get(0).aAtOrAbove());
        assertTrue(!rows.get(1).aAtOrAbove());
        // means: a (3, 0.2), b (3, 0.2): equal everywhere
        assertEquals(0.0, rows.get(2).meanDifference(), 1e-12);
        String md = FrontierComparison.markdown(points, List.of("a", "b"), List.of(1L, 2L), List.of(0.1));
        assertTrue(md.contains("a at or above b at every compared KL in 1 of 2 seeds."), md);
        // one point per loss and seed: no range where both were measured
        assertTrue(md.contains("a at or above b at every compared KL in 0 of 0 seeds (2 without a range)."), md);
        assertTrue(md.contains("| seed 1 | none | - | - | - | - |"), md);
    }

    @Test
    void aLossThatNeverLeftTheReferenceHasNothingToCompare() {
        FrontierComparison.Curve a = FrontierComparison.Curve.of(REFERENCE, List.of());
        FrontierComparison.Curve b = FrontierComparison.Curve.of(REFERENCE, List.of(point("b", 1, 0.1, 3, 0.25)));
        assertNull(FrontierComparison.compare("seed 1", a, b));
        assertNull(FrontierComparison.compareMeasured("seed 1", a, b));
    }
}
