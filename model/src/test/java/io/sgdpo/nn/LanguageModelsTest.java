package io.sgdpo.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.sgdpo.config.ConfigurationException;
import io.sgdpo.config.SgdpoConfig;
import io.sgdpo.loss.LossSpec;
import io.sgdpo.nn.gpt2.Gpt2Config;
import io.sgdpo.nn.gpt2.Gpt2Model;
import io.sgdpo.nn.llama.LlamaConfig;
import io.sgdpo.nn.llama.LlamaModel;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.RnnLossLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.NoOp;
import org.nd4j.linalg.lossfunctions.ILossFunction;

/** The facade: architectures by name, models from the config block, describe, withLoss, withLength, FLOPs. */
class LanguageModelsTest {

    private static final Optimization ADAM = new Optimization(new Adam(1e-3), 0, 0);

    static Config model(Map<String, Object> overrides) {
        Map<String, Object> paths = new HashMap<>();
        overrides.forEach((k, v) -> paths.put("model." + k, v));
        return ConfigFactory.parseMap(paths).withFallback(SgdpoConfig.reference()).resolve().getConfig("model");
    }

    @Test
    void architecturesByConfigName() {
        for (Architecture a : Architecture.values()) {
            assertSame(a, Architecture.fromConfigName(a.configName()));
        }
        assertEquals("decoder", SgdpoConfig.reference().getString("model.architecture"));
        ConfigurationException e = assertThrows(ConfigurationException.class, () -> Architecture.fromConfigName("rwkv"));
        assertTrue(e.getMessage().contains("model.architecture") && e.getMessage().contains("'rwkv'"), e.getMessage());
    }

    /** The defaults build exactly today's decoder. */
    @Test
    void defaultModelBlockIsTheDecoder() {
        Config m = model(Map.of());
        ComputationGraph graph = LanguageModels.create(m, 30, new SftLoss(), ADAM, DataType.FLOAT);
        ComputationGraph expected = new ComputationGraph(Decoder.configuration(DecoderConfig.fromConfig(m, 30),
                new SftLoss(), ADAM, DataType.FLOAT));
        expected.init();
        assertEquals(expected.getConfiguration().toJson(), graph.getConfiguration().toJson());
        assertEquals(expected.params(), graph.params(), "the same seed, the same initial parameters");
        assertEquals(new ModelShape(Architecture.DECODER, 30, 128, 64, 2),
                LanguageModels.describe(graph.getConfiguration()));
    }

    @Test
    void llamaAndGpt2FromTheModelBlock() {
        Map<String, Object> sizes = Map.of("dModel", 16, "heads", 4, "layers", 3, "maxLength", 10);
        Map<String, Object> llamaSizes = new HashMap<>(sizes);
        llamaSizes.putAll(Map.of("architecture", "llama", "kvHeads", 2, "ropeTheta", 500000.0, "normEps", 1e-6,
                "tieEmbeddings", false, "qkvBias", true));
        ComputationGraph llama = LanguageModels.create(model(llamaSizes), 50, new SftLoss(), ADAM, DataType.FLOAT);
        assertEquals(new ModelShape(Architecture.LLAMA, 50, 10, 16, 3), LanguageModels.describe(llama.getConfiguration()));
        LlamaConfig c = ((LlamaModel) LanguageModels.wholeModel(llama.getConfiguration())).config();
        assertEquals(new LlamaConfig(50, 16, 48, 3, 4, 2, 4, 1e-6, 500000.0, false, true, 10), c); // ffn 8*16/3 -> 48

        Map<String, Object> gptSizes = new HashMap<>(sizes);
        gptSizes.put("architecture", "gpt2");
        ComputationGraph gpt2 = LanguageModels.create(model(gptSizes), 50, new SftLoss(), ADAM, DataType.FLOAT);
        assertEquals(new ModelShape(Architecture.GPT2, 50, 10, 16, 3), LanguageModels.describe(gpt2.getConfiguration()));
        assertEquals(new Gpt2Config(50, 16, 3, 4, 64, 10, 1e-5),
                ((Gpt2Model) LanguageModels.wholeModel(gpt2.getConfiguration())).config());

        // their passes written out take a minibatch padded to its longest row (3 positions, rounded up to 8)
        PairExample shortPair = new PairExample("p", new int[] {3}, new int[] {4, 5}, new int[] {6});
        for (ComputationGraph imported : List.of(llama, gpt2)) {
            assertTrue(LanguageModels.takesShorterRows(imported.getConfiguration()));
            assertEquals(8, PairedBatch.forModel(imported, 0).build(List.of(shortPair), DataType.FLOAT)
                    .getFeatures().size(2));
        }
    }

    /** The decoder takes shorter rows: a minibatch is padded to its longest row, rounded up to 8, at most T. */
    @Test
    void decoderMinibatchesArePaddedToTheirLongestRow() {
        ComputationGraph decoder = LanguageModels.create(model(Map.of("maxLength", 20)), 30, new SftLoss(), ADAM,
                DataType.FLOAT);
        assertTrue(LanguageModels.takesShorterRows(decoder.getConfiguration()));
        PairedBatch layout = PairedBatch.forModel(decoder, 0);
        assertEquals(List.of(8, 8, 8, 16, 16, 20, 20), List.of(layout.rowLength(0), layout.rowLength(1),
                layout.rowLength(8), layout.rowLength(9), layout.rowLength(16), layout.rowLength(17),
                layout.rowLength(20)));
        // the longest row is the prompt and the longer response, less one (the last token is only a target)
        PairExample pair = new PairExample("p", new int[] {3, 3, 3}, new int[] {4, 5}, new int[] {6, 6, 6, 6, 6, 6, 6});
        assertEquals(16, layout.build(List.of(pair), DataType.FLOAT).getFeatures().size(2), "3 + 7 - 1 = 9 -> 16");
        assertEquals(8, layout.buildSequences(List.of(pair), DataType.FLOAT).getFeatures().size(2), "3 + 2 - 1 -> 8");
        assertEquals(20, new PairedBatch(20, 0).build(List.of(pair), DataType.FLOAT).getFeatures().size(2),
                "a layout without a step pads to T");
    }

    @Test
    void settingsAnArchitectureDoesNotHaveAreConfigurationErrors() {
        Map<String, String> cases = Map.of(
                "architecture=llama,dropout=0.1", "model.dropout",
                "architecture=gpt2,dropout=0.1", "model.dropout",
                "architecture=decoder,kvHeads=2", "model.kvHeads",
                "architecture=decoder,ffnHidden=100", "model.ffnHidden",
                "architecture=gpt2,kvHeads=2", "model.kvHeads",
                "architecture=gpt2,tieEmbeddings=false", "model.tieEmbeddings",
                "architecture=llama,heads=3", "model.heads",
                "architecture=llama,kvHeads=3", "key/value heads",
                "architecture=transformer", "model.architecture");
        cases.forEach((settings, key) -> {
            Map<String, Object> m = new HashMap<>();
            for (String kv : settings.split(",")) {
                m.put(kv.split("=")[0], kv.split("=")[1]);
            }
            ConfigurationException e = assertThrows(ConfigurationException.class,
                    () -> LanguageModels.create(model(m), 20, new SftLoss(), ADAM, DataType.FLOAT), settings);
            assertTrue(e.getMessage().contains(key), settings + ": " + e.getMessage());
        });
    }

    @Test
    void describeRefusesOtherGraphs() {
        ComputationGraphConfiguration other = new org.deeplearning4j.nn.conf.NeuralNetConfiguration.Builder()
                .graphBuilder().addInputs("in").addLayer("out", new RnnLossLayer.Builder(new SftLoss()).build(), "in")
                .setOutputs("out").build();
        assertThrows(IllegalArgumentException.class, () -> LanguageModels.describe(other));
    }

    static LlamaModel tinyLlama(int length) {
        return new LlamaModel(new LlamaConfig(13, 8, 12, 2, 2, 1, 4, 1e-5, 10000, true, false, 16), length);
    }

    @Test
    void withLossCopiesTheParametersUnderANewLossAndUpdater() {
        ComputationGraph sft = new ComputationGraph(LanguageModels.configuration(tinyLlama(6), new SftLoss(),
                new Optimization(new NoOp(), 0, 0), DataType.FLOAT, 3));
        sft.init();
        LossSpec spec = new LossSpec("dpo", 0.1, 0.6, 0.9, 0.0, 0.5);
        ComputationGraph policy = LanguageModels.withLoss(sft, new PairedPreferenceLoss(spec), ADAM, 0);
        assertEquals(sft.params(), policy.params());
        assertNotSame(sft.params(), policy.params());
        RnnLossLayer head = (RnnLossLayer) ((LayerVertex) policy.getConfiguration().getVertices().get(Decoder.OUTPUT))
                .getLayerConf().getLayer();
        assertEquals(new PairedPreferenceLoss(spec), head.getLossFn());
        ConfigurationException e = assertThrows(ConfigurationException.class,
                () -> LanguageModels.withLoss(sft, new SftLoss(), ADAM, 0.1));
        assertTrue(e.getMessage().contains("model.dropout"), e.getMessage());
    }

    /**
     * Another sequence length: the same parameters and optimizer state; position t's logits do not
     * depend on T (causal attention), up to float rounding of differently sized products.
     */
    @Test
    void withLengthRebuildsForAnotherSequenceLength() {
        ComputationGraph six = new ComputationGraph(LanguageModels.configuration(tinyLlama(6), new SftLoss(), ADAM,
                DataType.FLOAT, 3));
        six.init();
        six.fit(new PairedBatch(6, 0).buildSequences(List.of(new PairExample("p", new int[] {3, 4}, new int[] {5, 6},
                new int[] {7})), DataType.FLOAT));
        ComputationGraph ten = LanguageModels.withLength(six, 10);
        assertEquals(10, LanguageModels.describe(ten.getConfiguration()).maxLength());
        assertEquals(six.params(), ten.params());
        assertEquals(six.getUpdater().getStateViewArray(), ten.getUpdater().getStateViewArray());
        assertSame(six, LanguageModels.withLength(six, 6));
        int[] ids = {3, 4, 5, 9, 2};
        INDArray a = six.output(false, new PairedBatch(6, 0).inputs(List.of(ids), DataType.FLOAT))[0];
        INDArray b = ten.output(false, new PairedBatch(10, 0).inputs(List.of(ids), DataType.FLOAT))[0];
        for (int t = 0; t < ids.length; t++) {
            assertArrayEquals(a.slice(0).getColumn(t).toFloatVector(), b.slice(0).getColumn(t).toFloatVector(), 1e-5f);
        }
        ComputationGraph decoder = Decoder.create(new DecoderConfig(10, 8, 1, 2, 6, 0.0, 1), new SftLoss(),
                new Adam(1e-3), DataType.FLOAT);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LanguageModels.withLength(decoder, 8));
        assertTrue(e.getMessage().contains("model.maxLength = 6"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> LanguageModels.withLength(six, 17)); // 16 positions
    }

    /** Per token: q 8x8, k and v 8x4, o 8x8, MLP 3x8x12 per block, attention 2x6x8, head 8x13; 2 FLOPs each. */
    @Test
    void forwardFlopsPerTokenCountsEveryProduct() {
        long perBlock = 2L * (64 + 32 + 32 + 64 + 3 * 8 * 12) + 2L * 2 * 6 * 8;
        ComputationGraphConfiguration conf = LanguageModels.configuration(tinyLlama(6), new SftLoss(), ADAM,
                DataType.FLOAT, 1);
        assertEquals(2 * perBlock + 2L * 8 * 13, LanguageModels.forwardFlopsPerToken(conf));
        DecoderConfig d = new DecoderConfig(10, 8, 1, 2, 6, 0.0, 1);
        assertEquals(d.forwardFlopsPerToken(), LanguageModels.forwardFlopsPerToken(
                Decoder.configuration(d, new SftLoss(), new Adam(1e-3), DataType.FLOAT)));
    }

    /**
     * The loss layer hands the loss the logits as rows [mb*T, V] with row i + t*mb holding example i
     * at position t, exactly as the decoder's RnnOutputLayer does (PairedView and MinibatchView rely
     * on it), and the labels [mb*T, channels] in the same order.
     */
    @Test
    void theLossSeesTimeMajorRowsLikeTheDecodersOutputLayer() {
        Probe probe = new Probe();
        ComputationGraph graph = new ComputationGraph(LanguageModels.configuration(tinyLlama(6), probe,
                new Optimization(new NoOp(), 0, 0), DataType.FLOAT, 3));
        graph.init();
        DataSet batch = new PairedBatch(6, 0).buildSequences(List.of(
                new PairExample("a", new int[] {3, 4}, new int[] {5, 6}, new int[] {7}),
                new PairExample("b", new int[] {8}, new int[] {9, 10, 11}, new int[] {7}),
                new PairExample("c", new int[] {12, 2}, new int[] {1}, new int[] {7})), DataType.FLOAT);
        graph.setInputs(batch.getFeatures());
        graph.setLabels(batch.getLabels());
        graph.computeGradientAndScore();
        INDArray logits = graph.output(false, batch.getFeatures())[0]; // [3, 13, 6]
        assertArrayEquals(new long[] {18, 13}, probe.preOutput.shape());
        for (int i = 0; i < 3; i++) {
            for (int t = 0; t < 6; t++) {
                int row = i + t * 3;
                assertArrayEquals(logits.slice(i).getColumn(t).toFloatVector(), probe.preOutput.getRow(row)
                        .toFloatVector(), 1e-6f, "example " + i + " position " + t);
                assertEquals(batch.getLabels().getDouble(i, PairedLabels.TARGET, t),
                        probe.labels.getDouble(row, PairedLabels.TARGET));
            }
        }
    }

    /** A loss that records what it is given and returns a zero gradient. */
    private static final class Probe implements ILossFunction {
        INDArray preOutput;
        INDArray labels;

        @Override
        public double computeScore(INDArray labels, INDArray preOutput, IActivation a, INDArray mask, boolean average) {
            record(labels, preOutput);
            return 0;
        }

        private void record(INDArray labels, INDArray preOutput) {
            try (var ws = org.nd4j.linalg.factory.Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                this.labels = labels.dup();
                this.preOutput = preOutput.dup();
            }
        }

        @Override
        public INDArray computeScoreArray(INDArray labels, INDArray preOutput, IActivation a, INDArray mask) {
            return preOutput.sum(1).muli(0);
        }

        @Override
        public INDArray computeGradient(INDArray labels, INDArray preOutput, IActivation a, INDArray mask) {
            record(labels, preOutput);
            return preOutput.mul(0);
        }

        @Override
        public Pair<Double, INDArray> computeGradientAndScore(INDArray labels, INDArray preOutput, IActivation a,
                                                              INDArray mask, boolean average) {
            return new Pair<>(computeScore(labels, preOutput, a, mask, average),
                    computeGradient(labels, preOutput, a, mask));
        }

        @Override
        public String name() {
            return "probe";
        }
    }
}
