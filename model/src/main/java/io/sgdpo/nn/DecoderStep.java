package io.sgdpo.nn;

import static io.sgdpo.nn.StepProducts.times;
import static io.sgdpo.nn.StepRows.addRow;
import static io.sgdpo.nn.StepRows.addTo;
import static io.sgdpo.nn.StepRows.layerNorm;
import static io.sgdpo.nn.StepRows.read;
import static io.sgdpo.nn.StepRows.scale;
import static io.sgdpo.nn.StepRows.sigmoidGelu;

import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The {@link Decoder}'s incremental step, the same math as its graph ({@link TransformerBlock},
 * {@link PositionEmbedding}, {@link FinalLayerNorm}, the output layer: libnd4j's layer norm without
 * epsilon, its GELU x sigmoid(1.702 x)), the products on the graph's weight matrices, the rest on
 * Java arrays ({@link StepRows}).
 */
final class DecoderStep extends IncrementalDecoder {

    private final DecoderConfig config;
    private final INDArray embedding; // [V, d]
    private final INDArray positionRows; // [T, d]
    private final Map<String, INDArray>[] blocks;
    private final Vectors[] vectors;
    private final double[] finalGain;
    private final double[] finalBias;
    private final INDArray headWeight; // [d, V]
    private final double[] headBias; // [V]

    @SuppressWarnings("unchecked")
    DecoderStep(ComputationGraph graph) {
        this.config = Decoder.describe(graph.getConfiguration(), 0, 0);
        this.embedding = graph.getLayer("embed").getParam("W");
        // wpos is [1, d, T]; a token needs a row of it: one copy of T x d, made once per generation
        this.positionRows = graph.getLayer("pos").getParam("wpos").reshape(config.dModel(), config.maxLength())
                .transpose().dup('c');
        this.blocks = new Map[config.layers()];
        for (int i = 0; i < blocks.length; i++) {
            blocks[i] = graph.getLayer("block" + i).paramTable();
        }
        this.vectors = new Vectors[blocks.length];
        for (int i = 0; i < blocks.length; i++) {
            vectors[i] = new Vectors(blocks[i]);
        }
        Map<String, INDArray> norm = graph.getLayer("norm").paramTable();
        this.finalGain = read(norm.get("gain"));
        this.finalBias = read(norm.get("bias"));
        this.headWeight = graph.getLayer(Decoder.OUTPUT).getParam("W");
        this.headBias = read(graph.getLayer(Decoder.OUTPUT).getParam("b"));
    }

    /** A block's norm gains and biases, copied when the step is made. */
    private static final class Vectors {
        final double[] gain1;
        final double[] bias1;
        final double[] q;
        final double[] k;
        final double[] v;
        final double[] o;
        final double[] gain2;
        final double[] bias2;
        final double[] inner;
        final double[] out;

        Vectors(Map<String, INDArray> p) {
            gain1 = read(p.get("gln1"));
            bias1 = read(p.get("bln1"));
            q = read(p.get("bq"));
            k = read(p.get("bk"));
            v = read(p.get("bv"));
            o = read(p.get("bo"));
            gain2 = read(p.get("gln2"));
            bias2 = read(p.get("bln2"));
            inner = read(p.get("b1"));
            out = read(p.get("b2"));
        }
    }

    @Override
    protected int layers() {
        return config.layers();
    }

    @Override
    protected int heads() {
        return config.heads();
    }

    @Override
    protected int kvHeads() {
        return config.heads();
    }

    @Override
    protected int headSize() {
        return config.dModel() / config.heads();
    }

    @Override
    public int maxPositions() {
        return config.maxLength();
    }

    @Override
    protected DataType dataType() {
        return embedding.dataType();
    }

    @Override
    protected double[] hidden(KvCache cache, int[] ids, int[] positions) {
        int d = config.dModel();
        double[] x = read(Nd4j.pullRows(embedding, 1, ids));
        addTo(x, read(Nd4j.pullRows(positionRows, 1, positions)));
        double queryScale = 1.0 / Math.sqrt(headSize());
        for (int i = 0; i < blocks.length; i++) {
            Map<String, INDArray> p = blocks[i];
            Vectors v = vectors[i];
            double[] h = layerNorm(x, d, v.gain1, v.bias1, 0);
            double[] q = scale(addRow(times(h, p.get("wq")), v.q), queryScale);
            double[] k = addRow(times(h, p.get("wk")), v.k);
            double[] value = addRow(times(h, p.get("wv")), v.v);
            addTo(x, addRow(times(cache.attend(i, q, k, value), p.get("wo")), v.o));
            double[] inner = sigmoidGelu(addRow(times(layerNorm(x, d, v.gain2, v.bias2, 0), p.get("w1")), v.inner));
            addTo(x, addRow(times(inner, p.get("w2")), v.out));
        }
        return layerNorm(x, d, finalGain, finalBias, 0);
    }

    @Override
    protected double[] head(double[] hidden) {
        return addRow(times(hidden, headWeight), headBias);
    }
}
