package io.sgdpo.nn;

import io.sgdpo.loss.PairLogProbs;
import java.util.ArrayList;
import java.util.List;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.TimeSeriesUtils;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

/**
 * Per-token log-probs of each pair's chosen and rejected response (prompt masked)
 * under a decoder, by a forward pass. It lays out the minibatch with {@link PairedBatch} and reads
 * it with {@link PairedView}, exactly as the training loss does, so the reference pass,
 * evaluation and training share one implementation.
 */
public final class SequenceLogProbs {

    private SequenceLogProbs() {
    }

    /**
     * @return one {@link PairLogProbs} per pair, in order, whose policy arrays are the decoder's
     *         per-token log-probs (reference arrays as the pairs carry them, else zeros)
     */
    public static List<PairLogProbs> of(ComputationGraph decoder, PairedBatch batcher, List<PairExample> pairs) {
        return of(decoder, batcher.build(pairs, decoder.params().dataType()));
    }

    /**
     * The same, with the pilots the loss draws at (seed, step) and the pairs' reference log-probs:
     * what the loss sees when it trains on these pairs at that step (for metrics).
     */
    public static List<PairLogProbs> of(ComputationGraph decoder, PairedBatch batcher, List<PairExample> pairs,
                                        io.sgdpo.loss.PreferenceLoss loss, long seed, long step) {
        return of(decoder, batcher.build(pairs, loss, seed, step, decoder.params().dataType()));
    }

    private static List<PairLogProbs> of(ComputationGraph decoder, DataSet batch) {
        INDArray logits = decoder.output(false, batch.getFeatures())[0];
        INDArray logits2d = TimeSeriesUtils.reshape3dTo2d(logits);
        INDArray labels2d = TimeSeriesUtils.reshape3dTo2d(batch.getLabels());
        return new ArrayList<>(PairedView.of(labels2d, logits2d).pairs());
    }
}
