package io.sgdpo.loss;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import java.util.function.ToDoubleFunction;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Every loss's analytic gradient against central finite differences, in double precision. */
class LossGradientTest {

    static Stream<PreferenceLoss> losses() {
        return Stream.of(new SgdpoLoss(0.7, 0.6, 0.9, 0.0), new SgdpoLoss(0.7, 1.0, 0.5, 0.2),
                new DpoLoss(0.7), new CdpoLoss(0.7, 0.15), new IpoLoss(0.7), new SimpoLoss(1.5, 0.4),
                new HingeLoss(0.05));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("losses")
    void gradientMatchesCentralFiniteDifferences(PreferenceLoss loss) {
        Random random = new Random(11);
        for (int trial = 0; trial < 20; trial++) {
            PairLogProbs pair = randomPair(loss, random, 1 + random.nextInt(6), 1 + random.nextInt(6), trial);
            PairLossResult analytic = loss.evaluate(pair);
            assertTrue(Double.isFinite(analytic.loss()));
            ToDoubleFunction<double[]> lossValue = withConstantPilots(loss, pair);
            for (int t = 0; t < pair.policyChosen().length; t++) {
                double numeric = centralDifference(pair.policyChosen(), t, lossValue);
                assertClose(numeric, analytic.gradChosen()[t], loss + " chosen token " + t);
            }
            for (int t = 0; t < pair.policyRejected().length; t++) {
                double numeric = centralDifference(pair.policyRejected(), t, lossValue);
                assertClose(numeric, analytic.gradRejected()[t], loss + " rejected token " + t);
            }
        }
    }

    /**
     * The loss as a function of the policy log-probs with SGDPO's pilots frozen at their current
     * values: the pilots are stop-gradient constants, so this is the function the analytic
     * gradient differentiates. Other losses have no pilot.
     */
    static ToDoubleFunction<double[]> withConstantPilots(PreferenceLoss loss, PairLogProbs pair) {
        if (loss instanceof SgdpoLoss sgdpo) {
            double pw = PilotPositions.logRatioAt(pair.pilots().chosen(), pair.policyChosen(), pair.refChosen());
            double pl = PilotPositions.logRatioAt(pair.pilots().rejected(), pair.policyRejected(), pair.refRejected());
            return v -> sgdpo.evaluateWithPilots(pair, pw, pl).loss();
        }
        return v -> loss.evaluate(pair).loss();
    }

    @org.junit.jupiter.api.Test
    void sgdpoPilotsCarryNoGradient() {
        // Differentiating straight through evaluate() moves the pilots too; the analytic gradient
        // must differ from that wherever a pilot position is perturbed, proving the stop-gradient.
        SgdpoLoss loss = new SgdpoLoss(0.7, 1.0, 1.0, 0.0);
        PairLogProbs pair = randomPair(loss, new Random(5), 4, 4, 0);
        double throughPilots = centralDifference(pair.policyChosen(), 0, v -> loss.evaluate(pair).loss());
        double analytic = loss.evaluate(pair).gradChosen()[0];
        assertTrue(Math.abs(throughPilots - analytic) > 1e-3 * Math.abs(analytic),
                "pilot appears to carry gradient: " + throughPilots + " vs " + analytic);
    }

    /** Draws per-token log-probs; pilots come from the loss itself, as in training. */
    static PairLogProbs randomPair(PreferenceLoss loss, Random random, int nw, int nl, long step) {
        double[] pw = logProbs(random, nw);
        double[] rw = logProbs(random, nw);
        double[] pl = logProbs(random, nl);
        double[] rl = logProbs(random, nl);
        PilotPositions pilots = loss.drawPilots(5, step, "pair-" + step, nw, nl);
        return new PairLogProbs(pw, rw, pl, rl, pilots);
    }

    private static double[] logProbs(Random random, int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = -0.05 - 3 * random.nextDouble();
        }
        return v;
    }

    /** (f(x + h) - f(x - h)) / 2h, perturbing values[index] in place and restoring it. */
    private static double centralDifference(double[] values, int index, ToDoubleFunction<double[]> f) {
        double h = 1e-6;
        double original = values[index];
        values[index] = original + h;
        double plus = f.applyAsDouble(values);
        values[index] = original - h;
        double minus = f.applyAsDouble(values);
        values[index] = original;
        return (plus - minus) / (2 * h);
    }

    private static void assertClose(double numeric, double analytic, String what) {
        double scale = Math.max(1e-8, Math.abs(numeric) + Math.abs(analytic));
        assertTrue(Math.abs(numeric - analytic) / scale < 1e-6 || Math.abs(numeric - analytic) < 1e-9,
                what + ": numeric " + numeric + " vs analytic " + analytic);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("losses")
    void hingeKinkIsAvoidedAndGradientIsNonTrivial(PreferenceLoss loss) {
        // Guards the finite-difference test above against passing on all-zero gradients.
        Random random = new Random(3);
        PairLogProbs pair = randomPair(loss, random, 4, 3, 1);
        PairLossResult r = loss.evaluate(pair);
        double norm = 0;
        for (double g : r.gradChosen()) {
            norm += Math.abs(g);
        }
        for (double g : r.gradRejected()) {
            norm += Math.abs(g);
        }
        assertTrue(norm > 1e-4, loss.name() + " gradient vanished on a generic pair: " + norm);
        assertEquals(pair.policyChosen().length, r.gradChosen().length);
        assertEquals(pair.policyRejected().length, r.gradRejected().length);
    }
}
