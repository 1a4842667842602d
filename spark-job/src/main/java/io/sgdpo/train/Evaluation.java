package io.sgdpo.train;

import io.sgdpo.loss.BatchMetrics;
import io.sgdpo.loss.PairLogProbs;
import io.sgdpo.loss.PreferenceLoss;
import io.sgdpo.nn.PairExample;
import io.sgdpo.nn.PairedBatch;
import io.sgdpo.nn.SequenceLogProbs;
import io.sgdpo.prep.Manifest;
import java.io.IOException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.deeplearning4j.nn.graph.ComputationGraph;

/**
 * Held-out preference metrics of a policy: TRL's names with the {@code eval_} prefix, over every
 * given pair. Shared by training (its periodic evaluation) and {@code sgdpo eval}, so the two
 * compute the same metrics for the same checkpoint (equal up to float32 rounding when they batch
 * or order the pairs differently). SGDPO's pilots are drawn at step 0. The forward passes run on
 * the executors, shared out among the tasks of one Spark job ({@link TaskModel} lends them the
 * policy), not on the driver: in local mode the driver's native threads are one task's share of the
 * cores ({@code TaskThreads}), and on a cluster the executors hold the cores.
 *
 * <p><b>A policy that is the reference.</b> The reference log-probs stored by {@code sgdpo
 * ref-logps} come from another forward pass than the policy's (other batches, maybe another
 * machine), so for the reference checkpoint itself they differ from the policy's log-probs by
 * float32 rounding, about 1e-7 relative, in either direction. With TRL's strict definition of
 * {@code rewards/accuracies} (chosen reward &gt; rejected reward) such noise counts a CPU-dependent
 * share of the pairs as "accurate" at step 0 (a third of them in one run on an AVX-512 EPYC). When
 * the policy <em>is</em> the checkpoint that scored the data ({@link #isScoredReference}), {@link
 * #againstItself} takes the reference log-probs from the policy's own forward pass instead: every
 * reward is then exactly 0, and the accuracy exactly 0, on any machine.
 */
public final class Evaluation {

    private Evaluation() {
    }

    /**
     * @param batchSize         pairs per forward pass (does not change the result beyond float rounding)
     * @param seed              seed of the pilot draws
     * @param policyIsReference the policy is the checkpoint that scored the pairs' reference log-probs:
     *                          compare it with itself in the same forward pass ({@link #againstItself})
     */
    public static Map<String, Double> metrics(JavaSparkContext sc, ComputationGraph policy, PairedBatch layout,
                                              List<PairExample> pairs, PreferenceLoss loss, int batchSize, long seed,
                                              boolean policyIsReference) {
        List<PairLogProbs> all;
        try (TaskModel model = TaskModel.of(sc, policy)) {
            all = score(sc, model, layout, pairs, loss, batchSize, seed);
        }
        if (policyIsReference && loss.needsReference()) {
            all = againstItself(all);
        }
        return BatchMetrics.withPrefix(BatchMetrics.EVAL_PREFIX, BatchMetrics.of(loss, all));
    }

    /**
     * Every pair's log-probs, in the order of {@code pairs}: {@code batchSize} pairs per forward pass
     * (pairs of like length together where the layout pads a pass to its longest row, {@link
     * PairedBatch#passes}), the passes shared out among the tasks of one Spark job.
     */
    static List<PairLogProbs> score(JavaSparkContext sc, TaskModel model, PairedBatch layout, List<PairExample> pairs,
                                    PreferenceLoss loss, int batchSize, long seed) {
        if (pairs.isEmpty()) {
            throw new IllegalArgumentException("no pairs to evaluate");
        }
        List<PairedBatch.Pass> members = layout.passes(pairs, batchSize);
        List<Pass> passes = new ArrayList<>();
        for (PairedBatch.Pass pass : members) {
            passes.add(new Pass(passes.size(), new ArrayList<>(pass.pairs())));
        }
        // Spark gives each task a contiguous slice: dealt round-robin, each task gets long and short passes alike
        int tasks = Math.min(sc.defaultParallelism(), passes.size());
        List<Pass> dealt = new ArrayList<>(passes.size());
        for (int task = 0; task < tasks; task++) {
            for (int i = task; i < passes.size(); i += tasks) {
                dealt.add(passes.get(i));
            }
        }
        List<ScoredPass> scored = new ArrayList<>(sc.parallelize(dealt, tasks)
                .mapPartitions(new ScoreTask(model, layout, loss, seed)).collect());
        PairLogProbs[] all = new PairLogProbs[pairs.size()];
        int count = 0;
        for (ScoredPass p : scored) {
            int[] indices = members.get(p.index()).indices();
            for (int k = 0; k < indices.length; k++) {
                all[indices[k]] = p.pairs().get(k);
                count++;
            }
        }
        if (count != pairs.size() || scored.size() != passes.size()) {
            throw new IllegalStateException("the evaluation's tasks scored " + count + " of " + pairs.size()
                    + " pairs");
        }
        return new ArrayList<>(Arrays.asList(all));
    }

    /** Forward pass {@code index} of an evaluation, on these pairs. */
    private record Pass(int index, List<PairExample> pairs) implements Serializable {
        private static final long serialVersionUID = 1L;
    }

    /** The log-probs of a pass's pairs, in their order. */
    private record ScoredPass(int index, List<PairLogProbs> pairs) implements Serializable {
        private static final long serialVersionUID = 1L;
    }

    /** A task's passes, on one graph borrowed for the task. */
    private record ScoreTask(TaskModel model, PairedBatch layout, PreferenceLoss loss, long seed)
            implements FlatMapFunction<Iterator<Pass>, ScoredPass> {
        private static final long serialVersionUID = 1L;

        @Override
        public Iterator<ScoredPass> call(Iterator<Pass> passes) {
            List<ScoredPass> out = new ArrayList<>();
            if (!passes.hasNext()) {
                return out.iterator();
            }
            ComputationGraph graph = model.borrow();
            while (passes.hasNext()) {
                Pass p = passes.next();
                out.add(new ScoredPass(p.index(), SequenceLogProbs.of(graph, layout, p.pairs(), loss, seed, 0)));
            }
            return out.iterator();
        }
    }

    /**
     * The same pairs with each reference array replaced by a copy of the policy array of the same
     * forward pass: the log-probs of a policy that is the reference, compared with themselves.
     * Pilots and policy arrays are kept.
     */
    public static List<PairLogProbs> againstItself(List<PairLogProbs> scored) {
        List<PairLogProbs> out = new ArrayList<>(scored.size());
        for (PairLogProbs p : scored) {
            out.add(new PairLogProbs(p.policyChosen(), p.policyChosen().clone(), p.policyRejected(),
                    p.policyRejected().clone(), p.pilots()));
        }
        return out;
    }

    /**
     * True when {@code dataDir} is a ref-logps output whose reference log-probs were computed by the
     * model of this identity ({@link io.sgdpo.checkpoint.ModelSource#identity}: the SHA-256 of a
     * checkpoint's model file, or a Hugging Face folder's import identity), as its manifest records.
     * False for a prep output, a missing manifest or another model.
     */
    public static boolean isScoredReference(Configuration hadoop, String dataDir, String modelIdentity)
            throws IOException {
        Path data = new Path(dataDir);
        var manifest = Manifest.readIfComplete(data.getFileSystem(hadoop), data);
        if (manifest == null || !"ref-logps".equals(manifest.stage()) || manifest.model() == null) {
            return false;
        }
        String scoredBy = manifest.model().sha256();
        return scoredBy != null && scoredBy.equals(modelIdentity);
    }
}
