package io.sgdpo.train;

import io.sgdpo.loss.BatchMetrics;
import io.sgdpo.loss.PairLogProbs;
import io.sgdpo.loss.PreferenceLoss;
import io.sgdpo.nn.PairExample;
import io.sgdpo.nn.PairedBatch;
import io.sgdpo.nn.SequenceLogProbs;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;

/**
 * Held-out preference metrics of a policy: TRL's names with the {@code eval_} prefix, over every
 * given pair. Shared by training (its periodic evaluation) and {@code sgdpo eval}, so the two
 * report the same numbers for the same checkpoint. SGDPO's pilots are drawn at step 0.
 */
public final class Evaluation {

    private Evaluation() {
    }

    /**
     * @param batchSize pairs per forward pass (does not change the result beyond float rounding)
     * @param seed      seed of the pilot draws
     */
    public static Map<String, Double> metrics(ComputationGraph policy, PairedBatch layout, List<PairExample> pairs,
                                              PreferenceLoss loss, int batchSize, long seed) {
        if (pairs.isEmpty()) {
            throw new IllegalArgumentException("no pairs to evaluate");
        }
        List<PairLogProbs> all = new ArrayList<>();
        for (int from = 0; from < pairs.size(); from += batchSize) {
            all.addAll(SequenceLogProbs.of(policy, layout, pairs.subList(from, Math.min(pairs.size(), from + batchSize)),
                    loss, seed, 0));
        }
        return BatchMetrics.withPrefix(BatchMetrics.EVAL_PREFIX, BatchMetrics.of(loss, all));
    }
}
