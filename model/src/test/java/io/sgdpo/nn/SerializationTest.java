package io.sgdpo.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sgdpo.loss.LossSpec;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.RnnOutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.learning.config.Adam;

/** The graph configuration, custom layers and loss included, survives DL4J's JSON round trip. */
class SerializationTest {

    @Test
    void configurationSurvivesJsonRoundTrip() {
        DecoderConfig c = new DecoderConfig(17, 8, 2, 2, 6, 0.1, 99);
        LossSpec spec = new LossSpec("sgdpo", 0.3, 0.7, 0.8, 0.05, 0.4);
        ComputationGraphConfiguration conf = Decoder.configuration(c, new PairedPreferenceLoss(spec), new Adam(1e-3),
                DataType.FLOAT);
        String json = conf.toJson();
        ComputationGraphConfiguration back = ComputationGraphConfiguration.fromJson(json);
        assertEquals(conf, back);
        assertEquals(json, back.toJson());

        RnnOutputLayer head = (RnnOutputLayer) ((LayerVertex) back.getVertices().get(Decoder.OUTPUT)).getLayerConf()
                .getLayer();
        PairedPreferenceLoss loss = (PairedPreferenceLoss) head.getLossFn();
        assertEquals(spec, loss.getLoss());
        assertTrue(((LayerVertex) back.getVertices().get("block1")).getLayerConf().getLayer() instanceof TransformerBlock);

        ComputationGraph original = new ComputationGraph(conf);
        original.init();
        ComputationGraph rebuilt = new ComputationGraph(back);
        rebuilt.init(original.params().dup(), false);
        INDArray input = new PairedBatch(6, 1).inputs(java.util.List.of(new int[] {3, 4, 5}), DataType.FLOAT);
        // Exact on any CPU: the same parameters, layers and input through the same computation in this JVM.
        assertTrue(original.output(input)[0].equalsWithEps(rebuilt.output(input)[0], 0));
        assertEquals(original.numParams(), rebuilt.numParams());
    }

    /** The llama and gpt2 layers (every size field included) survive JSON and model.zip round trips. */
    @Test
    void wholeModelLayersSurviveJsonAndModelZip() throws java.io.IOException {
        LanguageModelLayer[] layers = {
            new io.sgdpo.nn.llama.LlamaModel(new io.sgdpo.nn.llama.LlamaConfig(17, 8, 12, 2, 4, 2, 2, 1e-6, 5e5, false,
                    true, 9), 6),
            new io.sgdpo.nn.gpt2.Gpt2Model(new io.sgdpo.nn.gpt2.Gpt2Config(17, 8, 2, 2, 20, 9, 1e-4), 6)};
        for (LanguageModelLayer layer : layers) {
            LossSpec spec = new LossSpec("sgdpo", 0.3, 0.7, 0.8, 0.05, 0.4);
            ComputationGraphConfiguration conf = LanguageModels.configuration(layer, new PairedPreferenceLoss(spec),
                    new Optimization(new Adam(1e-3), 1.0, 0.01), DataType.FLOAT, 7);
            String json = conf.toJson();
            ComputationGraphConfiguration back = ComputationGraphConfiguration.fromJson(json);
            assertEquals(conf, back);
            assertEquals(json, back.toJson());
            assertEquals(layer, LanguageModels.wholeModel(back));

            ComputationGraph original = new ComputationGraph(conf);
            original.init();
            java.io.ByteArrayOutputStream zip = new java.io.ByteArrayOutputStream();
            org.deeplearning4j.util.ModelSerializer.writeModel(original, zip, true);
            ComputationGraph restored = io.sgdpo.checkpoint.Checkpoints.readModel(
                    new java.io.ByteArrayInputStream(zip.toByteArray()), true);
            INDArray input = new PairedBatch(6, 1).inputs(java.util.List.of(new int[] {3, 4, 5}), DataType.FLOAT);
            // bit-identical: the same parameters through the same computation, replayed
            assertTrue(original.output(input)[0].equalsWithEps(restored.output(input)[0], 0), layer.getClass().getName());
            assertEquals(layer, LanguageModels.wholeModel(restored.getConfiguration()));
        }
    }
}
