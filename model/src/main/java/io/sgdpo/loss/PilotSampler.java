package io.sgdpo.loss;

import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Draws SGDPO's pilot positions: k_w = max(floor(m r1), 1) distinct positions of the chosen
 * response and k_l = max(floor(m r2), 1) of the rejected one, m = min(|y_w|, |y_l|), uniformly.
 *
 * <p>The draw is a pure function of (seed, global step, pair id, lengths): a resumed run redraws
 * exactly what the interrupted one drew, and every step draws a new subset.
 */
public final class PilotSampler implements Serializable {

    private static final long serialVersionUID = 1L;
    private final double r1;
    private final double r2;

    /**
     * @param r1 chosen pilot ratio in (0, 1] (config key loss.r1)
     * @param r2 rejected pilot ratio in (0, 1] (config key loss.r2)
     */
    public PilotSampler(double r1, double r2) {
        this.r1 = Losses.requireRatio("loss.r1", r1);
        this.r2 = Losses.requireRatio("loss.r2", r2);
    }

    public double r1() {
        return r1;
    }

    public double r2() {
        return r2;
    }

    /** Pilot sizes {k_w, k_l} for responses of the given lengths. */
    public int[] sizes(int chosenLength, int rejectedLength) {
        int m = Math.min(chosenLength, rejectedLength);
        return new int[] {Math.max((int) Math.floor(m * r1), 1), Math.max((int) Math.floor(m * r2), 1)};
    }

    /** The pilot positions of one pair at one global step. */
    public PilotPositions draw(long seed, long step, String pairId, int chosenLength, int rejectedLength) {
        if (chosenLength < 1 || rejectedLength < 1) {
            throw new IllegalArgumentException("pair " + pairId + " has an empty response (chosen "
                    + chosenLength + ", rejected " + rejectedLength + " tokens)");
        }
        int[] k = sizes(chosenLength, rejectedLength);
        SplittableRandom rng = new SplittableRandom(drawSeed(seed, step, pairId));
        return new PilotPositions(distinctSorted(rng, chosenLength, k[0]), distinctSorted(rng, rejectedLength, k[1]));
    }

    /** The random seed of one (seed, step, pair) draw; stable across JVMs and platforms. */
    static long drawSeed(long seed, long step, String pairId) {
        long h = 0xcbf29ce484222325L; // FNV-1a 64 over the pair id's UTF-8 bytes
        for (byte b : pairId.getBytes(StandardCharsets.UTF_8)) {
            h = (h ^ (b & 0xff)) * 0x100000001b3L;
        }
        return mix(mix(mix(seed) ^ step) ^ h);
    }

    private static long mix(long z) { // SplitMix64's finaliser
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    /** k distinct indices of [0, n), uniformly, sorted (partial Fisher-Yates). */
    private static int[] distinctSorted(SplittableRandom rng, int n, int k) {
        int[] pool = new int[n];
        for (int i = 0; i < n; i++) {
            pool[i] = i;
        }
        for (int i = 0; i < k; i++) {
            int j = i + rng.nextInt(n - i);
            int tmp = pool[i];
            pool[i] = pool[j];
            pool[j] = tmp;
        }
        int[] picked = Arrays.copyOf(pool, k);
        Arrays.sort(picked);
        return picked;
    }
}
