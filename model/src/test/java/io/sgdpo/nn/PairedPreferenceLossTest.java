package io.sgdpo.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sgdpo.loss.LossSpec;
import io.sgdpo.loss.Losses;
import io.sgdpo.loss.PairLogProbs;
import io.sgdpo.loss.PreferenceLoss;
import java.util.ArrayList;
import java.util.List;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.NoOp;

/** The loss adapter against an independent computation, and its refusal of broken minibatches. */
class PairedPreferenceLossTest {

    private static final DecoderConfig CONFIG = new DecoderConfig(13, 8, 1, 2, 9, 0.0, 3);
    private static final LossSpec SPEC = new LossSpec("sgdpo", 0.2, 0.6, 0.9, 0.0, 0.5);

    private static ComputationGraph graph() {
        return Decoder.create(CONFIG, new PairedPreferenceLoss(SPEC), new NoOp(), DataType.DOUBLE);
    }

    private static PairedBatch batcher() {
        return new PairedBatch(CONFIG.maxLength(), TinyPairs.PAD);
    }

    @Test
    void scoreIsTheMeanPairLossOverIndependentlyComputedLogProbs() {
        ComputationGraph graph = graph();
        List<PairExample> pairs = TinyPairs.random(3, CONFIG.vocabSize(), CONFIG.maxLength(), true, 21);
        PreferenceLoss loss = Losses.create(SPEC);
        DataSet batch = batcher().build(pairs, loss, 9, 4, DataType.DOUBLE);

        INDArray logits = graph.output(false, batch.getFeatures())[0];
        double expected = 0;
        for (int i = 0; i < pairs.size(); i++) {
            PairExample p = pairs.get(i);
            double[] chosen = logSoftmaxAlongResponse(logits, i, p.prompt(), p.chosen());
            double[] rejected = logSoftmaxAlongResponse(logits, i + pairs.size(), p.prompt(), p.rejected());
            var pilots = loss.drawPilots(9, 4, p.pairId(), chosen.length, rejected.length);
            expected += loss.evaluate(new PairLogProbs(chosen, p.refChosen(), rejected, p.refRejected(), pilots)).loss();
        }
        expected /= pairs.size();
        assertEquals(expected, graph.score(batch), 1e-10);
    }

    @Test
    void sequenceLogProbsMaskThePromptAndMatchAPlainLogSoftmax() {
        ComputationGraph graph = graph();
        List<PairExample> pairs = TinyPairs.random(2, CONFIG.vocabSize(), CONFIG.maxLength(), false, 5);
        List<PairLogProbs> scored = SequenceLogProbs.of(graph, batcher(), pairs);
        INDArray logits = graph.output(false, batcher().build(pairs, DataType.DOUBLE).getFeatures())[0];
        for (int i = 0; i < pairs.size(); i++) {
            PairExample p = pairs.get(i);
            assertEquals(p.chosen().length, scored.get(i).policyChosen().length, "response tokens only");
            assertArrayEquals(logSoftmaxAlongResponse(logits, i, p.prompt(), p.chosen()),
                    scored.get(i).policyChosen(), 1e-12);
            assertArrayEquals(logSoftmaxAlongResponse(logits, i + 2, p.prompt(), p.rejected()),
                    scored.get(i).policyRejected(), 1e-12);
        }
    }

    /**
     * The reference pass takes a decoder's head product itself, into the 2-D layout the read-out
     * needs. Bit-identical to DL4J's output reshaped: the same sgemm on the same float32 operands,
     * the same bias add, only the copies around them are gone.
     */
    @Test
    void logitsOfTheReferencePassAreTheGraphOutputBitForBit() {
        ComputationGraph graph = Decoder.create(new DecoderConfig(29, 16, 2, 2, 11, 0.0, 5),
                new PairedPreferenceLoss(SPEC), new NoOp(), DataType.FLOAT);
        List<PairExample> pairs = TinyPairs.random(3, 29, 11, false, 8);
        INDArray features = new PairedBatch(11, TinyPairs.PAD).build(pairs, DataType.FLOAT).getFeatures();
        INDArray expected = org.deeplearning4j.util.TimeSeriesUtils.reshape3dTo2d(graph.output(false, features)[0]);
        INDArray logits = SequenceLogProbs.logits2d(graph, features);
        assertArrayEquals(expected.shape(), logits.shape());
        assertArrayEquals(expected.toFloatMatrix(), logits.toFloatMatrix());
    }

    /** log-softmax at each response target (EOS included), read straight off the [mb, V, T] output. */
    private static double[] logSoftmaxAlongResponse(INDArray logits, int row, int[] prompt, int[] response) {
        int[] targets = response;
        double[] out = new double[targets.length];
        for (int j = 0; j < targets.length; j++) {
            int t = prompt.length - 1 + j;
            double[] z = logits.get(NDArrayIndex.point(row), NDArrayIndex.all(), NDArrayIndex.point(t)).toDoubleVector();
            double max = Double.NEGATIVE_INFINITY;
            for (double v : z) {
                max = Math.max(max, v);
            }
            double sum = 0;
            for (double v : z) {
                sum += Math.exp(v - max);
            }
            out[j] = z[targets[j]] - max - Math.log(sum);
        }
        return out;
    }

    @Test
    void refusesASplitPair() {
        DataSet batch = batch(2, 1);
        DataSet chosenOnly = rows(batch, 0, 1); // a worker got only the chosen rows
        assertRefused(chosenOnly, "split");
    }

    @Test
    void refusesMergedMinibatches() {
        DataSet merged = DataSet.merge(List.of(batch(2, 1), batch(2, 2)));
        assertRefused(merged, "re-batched");
    }

    @Test
    void refusesMismatchedPairs() {
        DataSet batch = batch(2, 1);
        // rows: chosen0, chosen1, rejected0, rejected1 -> swap the rejected rows of the two pairs
        INDArray f = batch.getFeatures().dup();
        INDArray l = batch.getLabels().dup();
        swapRows(f, 2, 3);
        swapRows(l, 2, 3);
        l.get(NDArrayIndex.point(2), NDArrayIndex.point(PairedLabels.ROW), NDArrayIndex.all()).assign(2);
        l.get(NDArrayIndex.point(3), NDArrayIndex.point(PairedLabels.ROW), NDArrayIndex.all()).assign(3);
        assertRefused(new DataSet(f, l), "mismatched");
    }

    @Test
    void refusesLabelsThatAreNotPaired() {
        DataSet batch = batch(1, 1);
        INDArray plain = batch.getLabels().get(NDArrayIndex.all(), NDArrayIndex.interval(0, 1), NDArrayIndex.all()).dup();
        assertRefused(new DataSet(batch.getFeatures(), plain), "channels");
    }

    private static DataSet batch(int pairs, long seed) {
        return batcher().build(TinyPairs.random(pairs, CONFIG.vocabSize(), CONFIG.maxLength(), true, seed),
                Losses.create(SPEC), 1, 1, DataType.DOUBLE);
    }

    private static DataSet rows(DataSet batch, int from, int to) {
        return new DataSet(batch.getFeatures().get(NDArrayIndex.interval(from, to + 1)).dup(),
                batch.getLabels().get(NDArrayIndex.interval(from, to + 1)).dup());
    }

    private static void swapRows(INDArray a, int i, int j) {
        INDArray tmp = a.get(NDArrayIndex.point(i)).dup();
        a.get(NDArrayIndex.point(i)).assign(a.get(NDArrayIndex.point(j)));
        a.get(NDArrayIndex.point(j)).assign(tmp);
    }

    private static void assertRefused(DataSet batch, String why) {
        ComputationGraph graph = graph();
        Exception e = assertThrows(Exception.class, () -> graph.fit(batch));
        List<String> messages = new ArrayList<>();
        for (Throwable t = e; t != null; t = t.getCause()) {
            messages.add(String.valueOf(t.getMessage()));
        }
        assertTrue(messages.stream().anyMatch(m -> m.contains(why)), "expected '" + why + "' in " + messages);
    }

    @Test
    void adapterGradientMatchesFiniteDifferencesOnTheLogits() {
        Nd4j.getRandom().setSeed(8);
        DataSet batch = batch(2, 3);
        INDArray labels2d = org.deeplearning4j.util.TimeSeriesUtils.reshape3dTo2d(batch.getLabels());
        INDArray logits = Nd4j.randn(DataType.DOUBLE, labels2d.size(0), CONFIG.vocabSize());
        // pilots frozen: the SGDPO loss is differentiated with its pilot values held constant
        LossSpec dpo = SPEC.withName("dpo");
        PairedPreferenceLoss adapter = new PairedPreferenceLoss(dpo);
        var identity = new org.nd4j.linalg.activations.impl.ActivationIdentity();
        INDArray analytic = adapter.computeGradient(labels2d, logits, identity, null);
        double h = 1e-6;
        int checked = 0;
        for (int r = 0; r < logits.size(0); r += 3) {
            for (int v = 0; v < logits.size(1); v += 4) {
                double original = logits.getDouble(r, v);
                logits.putScalar(r, v, original + h);
                double plus = adapter.computeScore(labels2d, logits, identity, null, false);
                logits.putScalar(r, v, original - h);
                double minus = adapter.computeScore(labels2d, logits, identity, null, false);
                logits.putScalar(r, v, original);
                assertEquals((plus - minus) / (2 * h), analytic.getDouble(r, v), 1e-7, "row " + r + " token " + v);
                checked++;
            }
        }
        assertTrue(checked >= 48 && analytic.norm2Number().doubleValue() > 0);
    }
}
