package io.sgdpo.train;

import io.sgdpo.nn.PairExample;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Random short pairs with reference log-probs over a small vocabulary, for the training tests. */
final class RandomPairs {

    private RandomPairs() {
    }

    /** {@code count} minibatches of {@code pairs} pairs, the same for the same arguments. */
    static List<List<PairExample>> minibatches(int count, int pairs, int vocabSize) {
        Random r = new Random(5);
        List<List<PairExample>> out = new ArrayList<>();
        for (int m = 0; m < count; m++) {
            List<PairExample> batch = new ArrayList<>();
            for (int i = 0; i < pairs; i++) {
                int[] prompt = ids(r, 2 + r.nextInt(2), vocabSize);
                int[] chosen = ids(r, 2 + r.nextInt(3), vocabSize);
                int[] rejected = ids(r, 2 + r.nextInt(3), vocabSize);
                batch.add(new PairExample("m" + m + "p" + i, prompt, chosen, rejected, logps(r, chosen.length),
                        logps(r, rejected.length)));
            }
            out.add(batch);
        }
        return out;
    }

    private static int[] ids(Random r, int n, int vocabSize) {
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = 2 + r.nextInt(vocabSize - 2);
        }
        return ids;
    }

    private static double[] logps(Random r, int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = -0.5 - 2 * r.nextDouble();
        }
        return v;
    }
}
