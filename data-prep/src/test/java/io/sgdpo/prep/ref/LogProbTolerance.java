package io.sgdpo.prep.ref;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * How far apart two float32 computations of the same reference log-probs may be.
 *
 * <p>Two forward passes that batch the pairs differently (another {@code ref.batchSize}, an
 * in-process loop, another thread count or JVM) run other BLAS blockings and kernels, and which
 * kernel OpenBLAS picks depends on the CPU. Their per-token log-probs are then equal only up to
 * float32 rounding; whether they come out bit-identical is a property of the CPU, not of the
 * code. A log-prob is z_y - logsumexp(z), a difference of logits, so its rounding error scales
 * with the logits' magnitude rather than with its own: the bound is {@link #ULPS} float32 ulps of
 * max({@link #LOGIT_SCALE}, |log p|), about 3e-5 for the tests' small decoders. Measured on such a
 * decoder: at most 3e-6 across batch sizes 1 to 32, one or two threads, and OpenBLAS's Prescott,
 * Barcelona, Haswell and SkylakeX kernels. A real fault (a shifted position, a wrong pair, an unmasked
 * prompt) moves log-probs by 0.1 or more.
 */
final class LogProbTolerance {

    /** float32 machine epsilon, 2^-23. */
    static final double EPS32 = Math.ulp(1.0f);
    /** The magnitude the logits of the tests' small decoders stay below. */
    static final double LOGIT_SCALE = 16;
    /** Slack for the rounding accumulated through the layers before the logits. */
    static final double ULPS = 16;

    private LogProbTolerance() {
    }

    /** Tolerance for one per-token log-prob. */
    static double token(double logp) {
        return ULPS * EPS32 * Math.max(LOGIT_SCALE, Math.abs(logp));
    }

    /** Tolerance for a sum of per-token log-probs: the tokens' errors add up at worst. */
    static double sum(double[] logps) {
        double t = 0;
        for (double v : logps) {
            t += token(v);
        }
        return t;
    }

    /** Same length, and every value within {@link #token} of the expected one. */
    static void assertClose(double[] expected, double[] actual, String what) {
        assertEquals(expected.length, actual.length, what + ": number of tokens");
        for (int i = 0; i < expected.length; i++) {
            double d = Math.abs(expected[i] - actual[i]);
            assertTrue(d <= token(expected[i]), what + " token " + i + ": " + expected[i] + " vs " + actual[i]
                    + " differ by " + d + ", more than float32 rounding (" + token(expected[i]) + ")");
        }
    }
}
