package io.sgdpo.loss;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Hand-computed values on a 2-pair case, and the relations between SGDPO and DPO that
 * docs/SGDPO.md predicts. The expected numbers were computed independently from the formulas
 * (double precision, Python's math module), not by this code.
 */
class LossValuesTest {

    private static final double TOL = 1e-12;
    private static final double BETA = 0.5;

    /** Pair 0: chosen 2 tokens, rejected 3; pilot S_w = {1}, S_l = {1, 2}. */
    private static PairLogProbs pair0() {
        return new PairLogProbs(new double[] {-1.0, -2.0}, new double[] {-1.5, -1.5},
                new double[] {-0.5, -1.0, -2.5}, new double[] {-1.0, -1.0, -1.0},
                new PilotPositions(new int[] {1}, new int[] {1, 2}));
    }

    /** Pair 1: chosen 1 token, rejected 2; pilot S_w = {0}, S_l = {0}. */
    private static PairLogProbs pair1() {
        return new PairLogProbs(new double[] {-0.3}, new double[] {-0.2}, new double[] {-1.2, -0.4},
                new double[] {-1.0, -0.9}, new PilotPositions(new int[] {0}, new int[] {0}));
    }

    private static void assertPair(PairLossResult r, double loss, double gw, double gl) {
        assertEquals(loss, r.loss(), TOL, "loss");
        for (double g : r.gradChosen()) {
            assertEquals(gw, g, TOL, "chosen gradient");
        }
        for (double g : r.gradRejected()) {
            assertEquals(gl, g, TOL, "rejected gradient");
        }
    }

    @Test
    void dpoHandValues() {
        DpoLoss dpo = new DpoLoss(BETA);
        assertPair(dpo.evaluate(pair0()), 0.4740769841801067, -0.1887703343990727, 0.1887703343990727);
        assertPair(dpo.evaluate(pair1()), 0.7981388693815918, -0.2749169986562389, 0.2749169986562389);
    }

    @Test
    void cdpoHandValues() {
        CdpoLoss cdpo = new CdpoLoss(BETA, 0.1);
        assertPair(cdpo.evaluate(pair0()), 0.5240769841801067, -0.13877033439907271, 0.13877033439907271);
        assertPair(cdpo.evaluate(pair1()), 0.7781388693815918, -0.22491699865623893, 0.22491699865623893);
    }

    @Test
    void sgdpoHandValues() {
        SgdpoLoss sgdpo = new SgdpoLoss(BETA, 0.6, 0.9, 0.0);
        assertPair(sgdpo.evaluate(pair0()), 0.4814052129968718, -0.08020532520615176, 0.10945587477855048);
        assertPair(sgdpo.evaluate(pair1()), 0.7332992586974391, -0.1218756508789474, 0.13745849932811946);
        SgdpoLoss smoothed = new SgdpoLoss(BETA, 0.6, 0.9, 0.1);
        assertPair(smoothed.evaluate(pair0()), 0.5314052129968718, -0.05520532520615176, 0.08445587477855049);
    }

    @Test
    void ipoSimpoHingeHandValues() {
        assertPair(new IpoLoss(BETA).evaluate(pair0()), 0.44444444444444453, -0.6666666666666667, 0.4444444444444445);
        assertPair(new IpoLoss(BETA).evaluate(pair1()), 1.5625, -2.5, 1.25);
        assertPair(new SimpoLoss(BETA, 0.3).evaluate(pair0()), 0.9030705305280917, -0.1486692025425369, 0.09911280169502461);
        assertPair(new SimpoLoss(BETA, 0.3).evaluate(pair1()), 0.7184596480132863, -0.25624869824210517, 0.12812434912105258);
        assertPair(new HingeLoss(BETA).evaluate(pair0()), 0.5, -0.5, 0.5);
        assertPair(new HingeLoss(BETA).evaluate(pair1()), 1.2, -0.5, 0.5);
    }

    @Test
    void batchMetricsUseFullSequenceRewardsWithTrlNames() {
        Map<String, Double> m = BatchMetrics.of(new SgdpoLoss(BETA, 0.6, 0.9, 0), List.of(pair0(), pair1()));
        assertEquals((0.4814052129968718 + 0.7332992586974391) / 2, m.get("loss"), TOL);
        assertEquals((0.0 - 0.05) / 2, m.get("rewards/chosen"), 1e-12);
        assertEquals((-0.5 + 0.15) / 2, m.get("rewards/rejected"), 1e-12);
        assertEquals(0.5, m.get("rewards/accuracies"), TOL); // pair 0 right, pair 1 wrong
        assertEquals(((0.0 + 0.5) + (-0.05 - 0.15)) / 2, m.get("rewards/margins"), 1e-12);
        assertEquals((-3.0 - 0.3) / 2, m.get("logps/chosen"), 1e-12);
        assertEquals((-4.0 - 1.6) / 2, m.get("logps/rejected"), 1e-12);
        assertEquals(List.of("loss", "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins",
                "logps/chosen", "logps/rejected"), List.copyOf(m.keySet()));
        assertTrue(BatchMetrics.withPrefix("eval_", m).containsKey("eval_rewards/accuracies"));
    }

    @Test
    void sgdpoWithFullPilotsAndEqualLengthsEqualsDpoValueWithHalfItsGradient() {
        Random random = new Random(7);
        SgdpoLoss sgdpo = new SgdpoLoss(0.3, 1.0, 1.0, 0.0);
        DpoLoss dpo = new DpoLoss(0.3);
        for (int trial = 0; trial < 10; trial++) {
            int n = 1 + random.nextInt(8);
            PairLogProbs p = LossGradientTest.randomPair(sgdpo, random, n, n, trial);
            assertEquals(n, p.pilots().chosen().length, "r1 = 1 takes every position");
            PairLossResult s = sgdpo.evaluate(p);
            PairLossResult d = dpo.evaluate(p);
            assertEquals(d.loss(), s.loss(), 1e-12);
            for (int t = 0; t < n; t++) {
                assertEquals(d.gradChosen()[t] / 2, s.gradChosen()[t], 1e-14);
                assertEquals(d.gradRejected()[t] / 2, s.gradRejected()[t], 1e-14);
            }
        }
    }

    @Test
    void sgdpoGivesChosenAndRejectedSeparateWeightsWhereDpoSharesOne() {
        // The chosen pilot is a good token and the rejected pilot a bad one: u1 is large (the chosen
        // side is already far ahead of the rejected pilot, so it is pushed gently) while u2 is small
        // (the rejected side is close to the chosen pilot, so it is pushed hard).
        double beta = 1.0;
        PairLogProbs p = new PairLogProbs(new double[] {-1.0, -1.0}, new double[] {-1.0, -1.0},
                new double[] {-1.0, -1.0}, new double[] {-1.0, -1.0},
                new PilotPositions(new int[] {0}, new int[] {1}));
        p.policyChosen()[0] = -0.2;   // chosen pilot token gained 0.8
        p.policyRejected()[1] = -3.0; // rejected pilot token lost 2.0
        PairLossResult s = new SgdpoLoss(beta, 0.5, 0.5, 0).evaluate(p);
        PairLossResult d = new DpoLoss(beta).evaluate(p);

        double u = 0.8 - (-2.0);
        double u1 = 0.8 - (-2.0);          // full chosen log-ratio minus rejected pilot (-2.0)
        double u2 = 0.8 - (-2.0);          // chosen pilot (0.8) minus full rejected log-ratio
        assertEquals(u, u1, 0);            // with these pilots both margins equal DPO's: same weights
        assertEquals(d.gradChosen()[0] / 2, s.gradChosen()[0], 1e-14);

        // Move the rejected pilot to the unchanged token: u1 shrinks to 0.8, u2 stays at 2.8.
        PairLogProbs q = new PairLogProbs(p.policyChosen(), p.refChosen(), p.policyRejected(), p.refRejected(),
                new PilotPositions(new int[] {0}, new int[] {0}));
        PairLossResult s2 = new SgdpoLoss(beta, 0.5, 0.5, 0).evaluate(q);
        double expectedChosen = -(beta / 2) * LogSigmoid.sigmoid(-beta * 0.8);
        double expectedRejected = (beta / 2) * LogSigmoid.sigmoid(-beta * u2);
        assertEquals(expectedChosen, s2.gradChosen()[0], 1e-14);
        assertEquals(expectedRejected, s2.gradRejected()[0], 1e-14);
        // DPO: one shared weight, equal magnitudes on both sides.
        assertEquals(-d.gradChosen()[0], d.gradRejected()[0], 1e-15);
        // SGDPO: the chosen side now gets a larger weight than the rejected side.
        assertTrue(Math.abs(s2.gradChosen()[0]) > 1.5 * Math.abs(s2.gradRejected()[0]),
                "chosen " + s2.gradChosen()[0] + " vs rejected " + s2.gradRejected()[0]);
        assertNotEquals(Math.abs(s2.gradChosen()[0]), Math.abs(s2.gradRejected()[0]), 1e-3);
    }

    @Test
    void pilotDrawIsReproducibleAndChangesWithStepAndPair() {
        PilotSampler sampler = new PilotSampler(0.6, 0.9);
        PilotPositions a = sampler.draw(42, 7, "abc123", 20, 30);
        assertEquals(a, sampler.draw(42, 7, "abc123", 20, 30));
        assertNotEquals(a, sampler.draw(42, 8, "abc123", 20, 30));
        assertNotEquals(a, sampler.draw(42, 7, "abc124", 20, 30));
        assertNotEquals(a, sampler.draw(43, 7, "abc123", 20, 30));
        assertEquals(12, a.chosen().length);   // floor(min(20,30) * 0.6)
        assertEquals(18, a.rejected().length); // floor(20 * 0.9)
        assertSortedDistinctBelow(a.chosen(), 20);
        assertSortedDistinctBelow(a.rejected(), 30);
        assertArrayEquals(new int[] {1, 1}, sampler.sizes(1, 5), "at least one position");
    }

    @Test
    void pilotPositionsAreUniform() {
        PilotSampler sampler = new PilotSampler(0.5, 0.5);
        int n = 10;
        int[] hits = new int[n];
        int draws = 20000;
        for (int step = 0; step < draws; step++) {
            for (int t : sampler.draw(1, step, "p", n, n).chosen()) {
                hits[t]++;
            }
        }
        for (int t = 0; t < n; t++) {
            assertEquals(0.5, hits[t] / (double) draws, 0.02, "position " + t);
        }
    }

    private static void assertSortedDistinctBelow(int[] positions, int n) {
        for (int i = 0; i < positions.length; i++) {
            assertTrue(positions[i] >= 0 && positions[i] < n);
            if (i > 0) {
                assertTrue(positions[i] > positions[i - 1]);
            }
        }
    }

    @Test
    void configErrorsNameTheKey() {
        assertMessage("loss.beta", () -> Losses.create(new LossSpec("dpo", 0, 0.6, 0.9, 0, 0.5)));
        assertMessage("loss.r1", () -> Losses.create(new LossSpec("sgdpo", 0.1, 1.2, 0.9, 0, 0.5)));
        assertMessage("loss.r2", () -> Losses.create(new LossSpec("sgdpo", 0.1, 0.6, 0.0, 0, 0.5)));
        assertMessage("loss.name", () -> Losses.create(new LossSpec("dpox", 0.1, 0.6, 0.9, 0, 0.5)));
        assertMessage("loss.labelSmoothing", () -> Losses.create(new LossSpec("dpo", 0.1, 0.6, 0.9, 0.1, 0.5)));
        for (String name : Losses.NAMES) {
            assertEquals(name, Losses.create(new LossSpec().withName(name)).name());
        }
        assertThrows(IllegalArgumentException.class, () -> new SgdpoLoss(0.1, 0.6, 0.9, 0).evaluate(
                new PairLogProbs(new double[] {-1}, new double[] {-1}, new double[] {-1}, new double[] {-1})));
    }

    private static void assertMessage(String key, org.junit.jupiter.api.function.Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(key), e.getMessage());
    }
}
