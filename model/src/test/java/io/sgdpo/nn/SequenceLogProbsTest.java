package io.sgdpo.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sgdpo.loss.LossSpec;
import io.sgdpo.loss.PairLogProbs;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.NoOp;

/** The reference pass's memory: the read-out's workspace is reused from one pass to the next. */
class SequenceLogProbsTest {

    /**
     * After its first pass a thread's read-out workspace holds a whole pass, so the next pass
     * allocates no fresh memory for its logits (a workspace that never stops learning its size
     * hands every array out as a fresh allocation, as this configuration's first version did).
     * Passes in the reused memory give the first pass's numbers bit for bit: the same computation
     * replayed in the same process; a larger batch grows the workspace and is scored the same as in
     * a thread of its own.
     */
    @Test
    void passesAfterTheFirstReuseTheReadOutWorkspaceAndGiveTheSameNumbers() throws Exception {
        ComputationGraph graph = Decoder.create(new DecoderConfig(29, 16, 2, 2, 11, 0.0, 5),
                new PairedPreferenceLoss(new LossSpec("sgdpo", 0.2, 0.6, 0.9, 0.0, 0.5)), new NoOp(), DataType.FLOAT);
        PairedBatch batcher = new PairedBatch(11, TinyPairs.PAD);
        List<PairExample> small = TinyPairs.random(2, 29, 11, false, 3);
        List<PairExample> large = TinyPairs.random(5, 29, 11, false, 4);
        List<double[]> freshLarge = CompletableFuture.supplyAsync(
                () -> values(SequenceLogProbs.of(graph, batcher, large))).get();

        List<List<double[]>> results = CompletableFuture.supplyAsync(() -> {
            List<List<double[]>> r = new ArrayList<>();
            r.add(values(SequenceLogProbs.of(graph, batcher, small)));
            MemoryWorkspace ws = Nd4j.getWorkspaceManager().getWorkspaceForCurrentThread(SequenceLogProbs.READ_OUT_ID);
            long firstPass = ws.getLastCycleAllocations();
            assertTrue(firstPass > 0, "the first pass allocated in the read-out workspace");
            r.add(values(SequenceLogProbs.of(graph, batcher, small)));
            assertTrue(ws.getCurrentSize() >= firstPass, "workspace of " + ws.getCurrentSize()
                    + " bytes after two passes, one pass allocates " + firstPass);
            r.add(values(SequenceLogProbs.of(graph, batcher, large)));
            r.add(values(SequenceLogProbs.of(graph, batcher, large)));
            assertTrue(ws.getCurrentSize() >= ws.getLastCycleAllocations(), "the workspace grew to the larger pass");
            return r;
        }).get();

        assertSameValues(results.get(0), results.get(1));
        assertSameValues(freshLarge, results.get(2));
        assertSameValues(freshLarge, results.get(3));
    }

    /**
     * A decoder's pass takes the head's product for the response tokens' rows only. Its log-probs
     * are those the training loss reads off the logits of every row (its {@link PairedView} over
     * {@link SequenceLogProbs#logits2d}), within float32 rounding: the same dot products, but
     * sgemm over fewer rows may block them differently, so equality to the bit is not promised
     * (1.5e-8 apart here, where a float32 ulp of the log-probs is 4.8e-7).
     */
    @Test
    void responseRowsAloneGiveTheLogProbsOfTheFullLogits() {
        ComputationGraph graph = Decoder.create(new DecoderConfig(97, 16, 2, 2, 23, 0.0, 5),
                new PairedPreferenceLoss(new LossSpec("sgdpo", 0.2, 0.6, 0.9, 0.0, 0.5)), new NoOp(), DataType.FLOAT);
        PairedBatch batcher = new PairedBatch(23, TinyPairs.PAD);
        List<PairExample> pairs = TinyPairs.random(6, 97, 23, true, 11);
        org.nd4j.linalg.dataset.DataSet batch = batcher.build(pairs, DataType.FLOAT);
        List<PairLogProbs> full = PairedView.of(
                org.deeplearning4j.util.TimeSeriesUtils.reshape3dTo2d(batch.getLabels()),
                SequenceLogProbs.logits2d(graph, batch.getFeatures())).pairs();
        List<PairLogProbs> scored = SequenceLogProbs.of(graph, batcher, pairs);
        assertEquals(full.size(), scored.size());
        for (int i = 0; i < full.size(); i++) {
            assertArrayEquals(full.get(i).policyChosen(), scored.get(i).policyChosen(), 1e-6, "pair " + i + " chosen");
            assertArrayEquals(full.get(i).policyRejected(), scored.get(i).policyRejected(), 1e-6,
                    "pair " + i + " rejected");
            assertArrayEquals(full.get(i).refChosen(), scored.get(i).refChosen(), "reference read from the labels");
            assertArrayEquals(full.get(i).refRejected(), scored.get(i).refRejected());
        }
    }

    /**
     * The losses take the logits of the response tokens' rows alone as they take every row's: the
     * same log-probs and, row for row, the same gradient (exactly: the same values go through the same
     * element-wise read-out; only the rows around them are gone). Logits with another number of rows
     * are refused.
     */
    @Test
    void theResponseRowsLogitsReadAsEveryRowsLogits() {
        ComputationGraph graph = Decoder.create(new DecoderConfig(97, 16, 2, 2, 23, 0.0, 5),
                new PairedPreferenceLoss(new LossSpec("sgdpo", 0.2, 0.6, 0.9, 0.0, 0.5)), new NoOp(), DataType.FLOAT);
        List<PairExample> pairs = TinyPairs.random(6, 97, 23, true, 11);
        org.nd4j.linalg.dataset.DataSet batch = new PairedBatch(23, TinyPairs.PAD).build(pairs, DataType.FLOAT);
        INDArray labels2d = org.deeplearning4j.util.TimeSeriesUtils.reshape3dTo2d(batch.getLabels());
        INDArray full = SequenceLogProbs.logits2d(graph, batch.getFeatures());
        int[] rows = MinibatchView.responseRows(labels2d);
        int tokens = pairs.stream().mapToInt(p -> p.chosen().length + p.rejected().length).sum();
        assertEquals(tokens, rows.length, "one row per response token");
        for (int k = 1; k < rows.length; k++) {
            assertTrue(rows[k - 1] < rows[k], "ascending label rows");
        }
        INDArray compact = full.getRows(rows);
        MinibatchView everyRow = MinibatchView.of(labels2d, full);
        MinibatchView responseRows = MinibatchView.of(labels2d, compact);
        double[][] perExample = new double[12][];
        for (int i = 0; i < 12; i++) {
            assertArrayEquals(everyRow.logProbs(i), responseRows.logProbs(i), "example " + i);
            perExample[i] = new double[everyRow.logProbs(i).length];
            java.util.Arrays.setAll(perExample[i], j -> Math.sin(j + 1.0));
        }
        INDArray fullGradient = TokenLogProbs.zeroGradient(full);
        everyRow.backprop(perExample, 2.0, fullGradient);
        INDArray compactGradient = TokenLogProbs.zeroGradient(compact);
        responseRows.backprop(perExample, 2.0, compactGradient);
        assertArrayEquals(fullGradient.getRows(rows).toFloatMatrix(), compactGradient.toFloatMatrix());
        for (int r : rows) {
            fullGradient.getRow(r).assign(0);
        }
        assertEquals(0.0, fullGradient.amaxNumber().doubleValue(), "no gradient outside the response rows");
        assertThrows(IllegalArgumentException.class, () -> MinibatchView.of(labels2d, full.getRows(0, 1, 2)));
    }

    private static List<double[]> values(List<PairLogProbs> scored) {
        List<double[]> out = new ArrayList<>();
        for (PairLogProbs p : scored) {
            out.add(p.policyChosen());
            out.add(p.policyRejected());
        }
        return out;
    }

    private static void assertSameValues(List<double[]> expected, List<double[]> actual) {
        assertEquals(expected.size(), actual.size());
        for (int i = 0; i < expected.size(); i++) {
            assertArrayEquals(expected.get(i), actual.get(i), "sequence " + i);
        }
    }
}
