package io.sgdpo.prep.ref;

import io.sgdpo.loss.PairLogProbs;
import io.sgdpo.nn.PairExample;
import io.sgdpo.nn.PairedBatch;
import io.sgdpo.nn.SequenceLogProbs;
import io.sgdpo.prep.PairSchema;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Row;
import org.deeplearning4j.nn.graph.ComputationGraph;

/**
 * The {@code mapPartitions} function of the reference pass: pair rows ({@link PairSchema#PAIRS}) in,
 * the same rows with the reference log-probs ({@link PairSchema#PAIRS_WITH_REFERENCE}) out, in the
 * same order. Rows are scored lazily, {@code batchSize} pairs per forward pass through
 * {@link SequenceLogProbs} (the one implementation of per-token log-probs), so a partition never
 * has to fit in memory: {@link RefLogpsJob#READ_AHEAD_PASSES} passes' rows are read at a time, and
 * a decoder's passes group the pairs of like length among them ({@link PairedBatch#passes}).
 */
final class ReferenceScorer implements FlatMapFunction<Iterator<Row>, Row> {
    private static final long serialVersionUID = 1L;

    private final String identity;
    private final Broadcast<byte[]> model;
    private final int batchSize;
    private final int padId;

    /**
     * @param identity  the checkpoint's SHA-256 (the executors' cache key)
     * @param model     its model file, read only by the first task of each executor JVM
     * @param batchSize pairs per forward pass
     * @param padId     the vocabulary's PAD id
     */
    ReferenceScorer(String identity, Broadcast<byte[]> model, int batchSize, int padId) {
        this.identity = identity;
        this.model = model;
        this.batchSize = batchSize;
        this.padId = padId;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> rows) {
        if (!rows.hasNext()) {
            return Collections.emptyIterator();
        }
        ComputationGraph graph = ReferenceModels.borrow(identity, model::value);
        TaskContext task = TaskContext.get();
        if (task != null) {
            // Returned when the task ends, also when it fails, so the copy is reused by the next task.
            task.addTaskCompletionListener((TaskContext ctx) -> ReferenceModels.giveBack(identity, graph));
        }
        PairedBatch batcher = PairedBatch.forModel(graph, padId);
        return new Iterator<>() {
            private Iterator<Row> scored = Collections.emptyIterator();

            @Override
            public boolean hasNext() {
                while (!scored.hasNext()) {
                    if (!rows.hasNext()) {
                        return false;
                    }
                    scored = score(graph, batcher, take(rows), batchSize).iterator();
                }
                return true;
            }

            @Override
            public Row next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                return scored.next();
            }
        };
    }

    /** The next rows: up to {@link RefLogpsJob#READ_AHEAD_PASSES} passes' worth, grouped by length among them. */
    private List<Row> take(Iterator<Row> rows) {
        List<Row> window = new ArrayList<>(RefLogpsJob.READ_AHEAD_PASSES * batchSize);
        while (window.size() < RefLogpsJob.READ_AHEAD_PASSES * batchSize && rows.hasNext()) {
            window.add(rows.next());
        }
        return window;
    }

    /**
     * Scores pair rows in passes of at most {@code batchSize} pairs ({@link PairedBatch#passes}: of
     * like length where a pass is padded to its longest row), returned in their order.
     */
    private static List<Row> score(ComputationGraph graph, PairedBatch batcher, List<Row> batch, int batchSize) {
        List<PairExample> pairs = new ArrayList<>(batch.size());
        for (Row r : batch) {
            pairs.add(PairSchema.example(r));
        }
        PairLogProbs[] logps = new PairLogProbs[pairs.size()];
        for (PairedBatch.Pass pass : batcher.passes(pairs, batchSize)) {
            List<PairLogProbs> scored = SequenceLogProbs.of(graph, batcher, pass.pairs());
            for (int k = 0; k < pass.indices().length; k++) {
                logps[pass.indices()[k]] = scored.get(k);
            }
        }
        List<Row> out = new ArrayList<>(batch.size());
        for (int i = 0; i < batch.size(); i++) {
            PairExample p = pairs.get(i);
            PairLogProbs lp = logps[i];
            if (lp.policyChosen().length != p.chosen().length || lp.policyRejected().length != p.rejected().length) {
                throw new IllegalStateException("pair " + p.pairId() + ": " + lp.policyChosen().length + "/"
                        + lp.policyRejected().length + " log-probs for " + p.chosen().length + "/"
                        + p.rejected().length + " response tokens");
            }
            out.add(PairSchema.withReference(batch.get(i), lp.policyChosen(), lp.policyRejected()));
        }
        return out;
    }
}
