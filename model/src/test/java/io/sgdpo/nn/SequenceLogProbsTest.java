package io.sgdpo.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
