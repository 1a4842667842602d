package io.sgdpo.nn;

import static io.sgdpo.nn.StepProducts.affine;

import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.custom.LayerNorm;
import org.nd4j.linalg.api.ops.impl.transforms.strict.GELU;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The {@link Decoder}'s incremental step, the same math as its graph ({@link TransformerBlock},
 * {@link PositionEmbedding}, {@link FinalLayerNorm}, the output layer) with the same ND4J layer-norm
 * and GELU operations, on the graph's parameter arrays.
 */
final class DecoderStep extends IncrementalDecoder {

    private final DecoderConfig config;
    private final INDArray embedding; // [V, d]
    private final INDArray positionRows; // [T, d]
    private final Map<String, INDArray>[] blocks;
    private final Map<String, INDArray> norm;
    private final INDArray headWeight; // [d, V]
    private final INDArray headBias; // [1, V]

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
        this.norm = graph.getLayer("norm").paramTable();
        this.headWeight = graph.getLayer(Decoder.OUTPUT).getParam("W");
        this.headBias = graph.getLayer(Decoder.OUTPUT).getParam("b");
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
    protected INDArray hidden(KvCache cache, int[] ids, int[] positions) {
        INDArray x = Nd4j.pullRows(embedding, 1, ids).addi(Nd4j.pullRows(positionRows, 1, positions));
        double queryScale = 1.0 / Math.sqrt(headSize());
        for (int i = 0; i < blocks.length; i++) {
            Map<String, INDArray> p = blocks[i];
            INDArray h = layerNorm(x, p.get("gln1"), p.get("bln1"));
            INDArray q = affine(h, p.get("wq"), p.get("bq")).muli(queryScale);
            INDArray k = affine(h, p.get("wk"), p.get("bk"));
            INDArray v = affine(h, p.get("wv"), p.get("bv"));
            x.addi(affine(cache.attend(i, q, k, v), p.get("wo"), p.get("bo")));
            INDArray inner = affine(layerNorm(x, p.get("gln2"), p.get("bln2")), p.get("w1"), p.get("b1"));
            Nd4j.exec(new GELU(inner, inner));
            x.addi(affine(inner, p.get("w2"), p.get("b2")));
        }
        return layerNorm(x, norm.get("gain"), norm.get("bias"));
    }

    @Override
    protected INDArray head(INDArray hidden) {
        return affine(hidden, headWeight, headBias);
    }

    /** ND4J's layer norm over d, as {@link TransformerBlock#layerNorm}. */
    private static INDArray layerNorm(INDArray rows, INDArray gain, INDArray bias) {
        INDArray out = Nd4j.createUninitialized(rows.dataType(), rows.shape());
        Nd4j.exec(new LayerNorm(rows, gain.reshape(gain.length()), bias.reshape(bias.length()), out, false, 1));
        return out;
    }
}
