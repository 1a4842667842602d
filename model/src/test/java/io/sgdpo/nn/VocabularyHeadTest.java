package io.sgdpo.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sgdpo.loss.LossSpec;
import io.sgdpo.loss.Losses;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.learning.config.NoOp;

/**
 * The decoder's {@link VocabularyHead} against DL4J's own {@code RnnOutputLayer} with the same
 * parameters, loss and minibatch. The head's product is the same sgemm call on the same operands, so
 * the logits are compared bit for bit; in training the head takes the product for the response
 * tokens' rows only and the loss reads them in another memory layout (its sums over the vocabulary
 * and the weight gradient's sum over the rows are products of other shapes and operand layouts), so
 * score and gradients are compared within float32 rounding. The head's own gradient in double
 * precision is {@code DecoderGradientCheckTest}'s,
 * whose decoders carry it.
 */
class VocabularyHeadTest {

    private static final LossSpec SPEC = new LossSpec("sgdpo", 0.2, 0.6, 0.9, 0.0, 0.5);
    private static final int VOCAB = 29;
    private static final int LENGTH = 11;

    @Test
    void logitsAreDl4jsOutputLayersBitForBitAndScoreAndGradientsWithinRounding() {
        ComputationGraph head = Decoder.create(new DecoderConfig(VOCAB, 16, 2, 2, LENGTH, 0.0, 5),
                new PairedPreferenceLoss(SPEC), new NoOp(), DataType.FLOAT);
        ComputationGraph dl4j = withDl4jHead(head);
        assertInstanceOf(VocabularyHead.Impl.class, head.getLayer(Decoder.OUTPUT));
        assertEquals(org.deeplearning4j.nn.layers.recurrent.RnnOutputLayer.class, dl4j.getLayer(Decoder.OUTPUT).getClass());

        List<PairExample> pairs = TinyPairs.random(3, VOCAB, LENGTH, true, 8);
        DataSet batch = new PairedBatch(LENGTH, TinyPairs.PAD).build(pairs, Losses.create(SPEC), 3, 0, DataType.FLOAT);
        // bit-identical: the same product on the same operands, only the result's layout differs
        assertArrayEquals(dl4j.output(false, batch.getFeatures())[0].ravel().toFloatVector(),
                head.output(false, batch.getFeatures())[0].ravel().toFloatVector());

        head.setInput(0, batch.getFeatures());
        head.setLabel(0, batch.getLabels());
        head.computeGradientAndScore();
        dl4j.setInput(0, batch.getFeatures());
        dl4j.setLabel(0, batch.getLabels());
        dl4j.computeGradientAndScore();
        assertEquals(dl4j.score(), head.score(), 1e-6 * Math.abs(dl4j.score()), "score");
        float[] expected = dl4j.gradient().gradient().toFloatVector();
        float[] actual = head.gradient().gradient().toFloatVector();
        assertEquals(expected.length, actual.length);
        double largest = 0;
        for (float g : expected) {
            largest = Math.max(largest, Math.abs(g));
        }
        assertTrue(largest > 0, "a gradient to compare");
        for (int i = 0; i < expected.length; i++) {
            // the loss's sums over the vocabulary, taken in another order: float32 rounding of the largest
            assertEquals(expected[i], actual[i], 1e-5 * largest, "gradient element " + i);
        }
    }

    @Test
    void theLogitsAreColumnMajorAndTheHeadSurvivesJsonAndModelZip() throws IOException {
        ComputationGraph head = Decoder.create(new DecoderConfig(VOCAB, 8, 1, 2, LENGTH, 0.1, 7),
                new PairedPreferenceLoss(SPEC), new NoOp(), DataType.FLOAT);
        INDArray hidden = org.nd4j.linalg.factory.Nd4j.rand(DataType.FLOAT, 4, 8);
        VocabularyHead.Impl layer = (VocabularyHead.Impl) head.getLayer(Decoder.OUTPUT);
        layer.setInput(hidden, LayerWorkspaceMgr.noWorkspaces());
        INDArray logits = layer.preOutputWithPreNorm(false, false, LayerWorkspaceMgr.noWorkspaces()).getFirst();
        assertEquals('f', logits.ordering(), "no row-major copy");
        assertArrayEquals(hidden.mmul(layer.getParam("W")).addRowVector(layer.getParam("b")).toFloatMatrix(),
                logits.toFloatMatrix());

        ComputationGraphConfiguration back = ComputationGraphConfiguration.fromJson(head.getConfiguration().toJson());
        assertEquals(head.getConfiguration(), back);
        VocabularyHead conf = (VocabularyHead) ((LayerVertex) back.getVertices().get(Decoder.OUTPUT)).getLayerConf()
                .getLayer();
        assertEquals(VOCAB, conf.getNOut());
        assertEquals(0.9, ((org.deeplearning4j.nn.conf.dropout.Dropout) conf.getIDropout()).getP(), 0,
                "the decoder's dropout, as a retain probability");

        ByteArrayOutputStream zip = new ByteArrayOutputStream();
        ModelSerializer.writeModel(head, zip, true);
        ComputationGraph restored = io.sgdpo.checkpoint.Checkpoints.readModel(new ByteArrayInputStream(zip.toByteArray()),
                true);
        assertInstanceOf(VocabularyHead.Impl.class, restored.getLayer(Decoder.OUTPUT));
        INDArray input = new PairedBatch(LENGTH, TinyPairs.PAD).inputs(List.of(new int[] {3, 4, 5}), DataType.FLOAT);
        // bit-identical: the same parameters through the same computation, replayed
        assertArrayEquals(head.output(false, input)[0].ravel().toFloatVector(), restored.output(false, input)[0].ravel().toFloatVector());
    }

    /**
     * A training step's score is the loss its backward pass took with the gradient, not a second
     * product and read-out: bit for bit the score a fresh forward pass of the same parameters and
     * minibatch computes (the same computation replayed), with no call of the loss's score in the
     * step. A new minibatch is scored afresh.
     */
    @Test
    void theStepsScoreIsTheLossOfItsBackwardPass() {
        ComputationGraph graph = Decoder.create(new DecoderConfig(VOCAB, 16, 2, 2, LENGTH, 0.0, 5),
                new ScoreCountingLoss(), new NoOp(), DataType.FLOAT);
        for (long seed : new long[] {8, 9}) {
            List<PairExample> pairs = TinyPairs.random(3, VOCAB, LENGTH, true, seed);
            DataSet batch = new PairedBatch(LENGTH, TinyPairs.PAD).build(pairs, Losses.create(SPEC), 3, 0,
                    DataType.FLOAT);
            graph.setInput(0, batch.getFeatures());
            graph.setLabel(0, batch.getLabels());
            ScoreCountingLoss.SCORE_CALLS.set(0);
            graph.computeGradientAndScore();
            double stepScore = graph.score();
            assertEquals(0, ScoreCountingLoss.SCORE_CALLS.get(), "the step scored its logits a second time");
            assertEquals(graph.score(batch, true), stepScore, 0.0, "a fresh pass's score, minibatch " + seed);
            assertEquals(1, ScoreCountingLoss.SCORE_CALLS.get(), "the fresh pass scores its own logits");
        }
    }

    /** The preference loss, counting the calls of its score alone. */
    private static final class ScoreCountingLoss extends PairedPreferenceLoss {
        private static final long serialVersionUID = 1L;
        static final AtomicInteger SCORE_CALLS = new AtomicInteger();

        ScoreCountingLoss() {
            super(SPEC);
        }

        @Override
        public double computeScore(INDArray labels, INDArray preOutput, IActivation activation, INDArray mask,
                                   boolean average) {
            SCORE_CALLS.incrementAndGet();
            return super.computeScore(labels, preOutput, activation, mask, average);
        }
    }

    /** The same graph and parameters with DL4J's own output layer in place of the head. */
    private static ComputationGraph withDl4jHead(ComputationGraph graph) {
        String json = graph.getConfiguration().toJson();
        String dl4j = json.replace(VocabularyHead.class.getName(),
                org.deeplearning4j.nn.conf.layers.RnnOutputLayer.class.getName());
        assertTrue(!dl4j.equals(json), "the configuration names the head");
        ComputationGraph copy = new ComputationGraph(ComputationGraphConfiguration.fromJson(dl4j));
        copy.init(graph.params().dup(), false);
        return copy;
    }
}
