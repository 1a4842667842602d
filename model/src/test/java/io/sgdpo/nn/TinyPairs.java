package io.sgdpo.nn;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Small random pairs over a tiny vocabulary, for tests of the graph and the adapter. */
final class TinyPairs {

    static final int EOS = 0;
    static final int PAD = 1;

    private TinyPairs() {
    }

    /** Random pairs whose prompt + response + EOS fit in {@code length} positions. */
    static List<PairExample> random(int count, int vocab, int length, boolean withReference, long seed) {
        Random random = new Random(seed);
        List<PairExample> pairs = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int prompt = 1 + random.nextInt(2);
            int chosen = 1 + random.nextInt(length - prompt - 1);
            int rejected = 1 + random.nextInt(length - prompt - 1);
            PairExample p = new PairExample("pair-" + seed + "-" + i, ids(random, prompt, vocab),
                    ids(random, chosen, vocab), ids(random, rejected, vocab));
            if (withReference) {
                p = p.withReference(logps(random, chosen), logps(random, rejected));
            }
            pairs.add(p);
        }
        return pairs;
    }

    private static int[] ids(Random random, int n, int vocab) {
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = 2 + random.nextInt(vocab - 2);
        }
        return ids;
    }

    private static double[] logps(Random random, int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = -0.5 - 3 * random.nextDouble();
        }
        return v;
    }
}
